import { InputError, SettingError } from "../errors.ts";
import { type DatasetName, DATASETS } from "./datasets.ts";
import { type DownloadOptions, DownloadUnavailableError } from "./download.ts";
import { type Dataset, loadDataset } from "./load.ts";
import { downloadShared } from "./shared_download.ts";
import { cacheDir, missingFiles, searchDirs } from "./locate.ts";

/** Options of {@link openDataset}. */
export interface OpenDatasetOptions {
  /** Which dataset (default `fashion-mnist`). */
  dataset?: DatasetName;
  /** A folder that must hold the four files; when given, nothing else is searched. */
  dataDir?: string;
  /** How to download when no folder holds the files (`false`: never download). */
  download?: DownloadOptions | false;
  /** Told where the files were found or that a download starts. */
  log?: (line: string) => void;
}

/**
 * Finds a dataset's four files and loads them: `dataDir` when given;
 * otherwise the cache folder, then Debian's `/usr/share/datasets/NAME`;
 * otherwise downloads them into the cache (one process at a time: another
 * that finds them missing meanwhile waits for them). When nothing works the
 * `InputError` lists the places searched and how to supply the files.
 */
export async function openDataset(
  options: OpenDatasetOptions = {},
): Promise<Dataset> {
  const info = DATASETS[options.dataset ?? "fashion-mnist"];
  const log = options.log ?? (() => {});
  if (options.dataDir !== undefined) {
    const missing = await missingFiles(info, options.dataDir);
    if (missing.length > 0) {
      throw new SettingError("dataDir", options.dataDir, `missing ${missing.join(", ")}`);
    }
    return loadDataset(info, options.dataDir);
  }
  const searched = searchDirs(info);
  for (const dir of searched) {
    if ((await missingFiles(info, dir)).length === 0) {
      return loadDataset(info, dir);
    }
  }
  const cache = cacheDir(info);
  const howTo = `put ${info.name}'s four .gz files in one of them or pass --data-dir DIR` +
    (info.name === "fashion-mnist"
      ? " (on Debian/Ubuntu: apt-get install dataset-fashion-mnist)"
      : "");
  if (options.download === false || cache === undefined) {
    throw new InputError(
      `${info.name} not found in ${searched.join(", ")}: ${howTo}`,
    );
  }
  try {
    await downloadShared(info, cache, options.download ?? {}, log);
  } catch (error) {
    if (!(error instanceof DownloadUnavailableError)) throw error;
    throw new InputError(
      `${info.name} not found in ${
        searched.join(", ")
      } and the download failed (${error.message}): ${howTo}`,
    );
  }
  return loadDataset(info, cache);
}
