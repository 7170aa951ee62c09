import { join } from "node:path";
import { toolCacheDir } from "../cache_dir.ts";
import type { DatasetInfo } from "./datasets.ts";
import { datasetFileNames } from "./datasets.ts";

/** Where Debian's `dataset-*` packages install datasets. */
export const SYSTEM_DATASETS_DIR = "/usr/share/datasets";

/**
 * The cache folder for a dataset: `$XDG_CACHE_HOME/fashion-webgpu/NAME`,
 * else `~/.cache/fashion-webgpu/NAME`; `undefined` when neither variable is set.
 */
export function cacheDir(info: DatasetInfo): string | undefined {
  const base = toolCacheDir();
  return base === undefined ? undefined : join(base, info.name);
}

/** The folders searched for a dataset when no `--data-dir` is given, in order. */
export function searchDirs(info: DatasetInfo): string[] {
  const cache = cacheDir(info);
  return [
    ...(cache === undefined ? [] : [cache]),
    join(SYSTEM_DATASETS_DIR, info.name),
  ];
}

/** The dataset's files that are missing from `dir` (all of them when `dir` is unreadable). */
export async function missingFiles(
  info: DatasetInfo,
  dir: string,
): Promise<string[]> {
  const missing: string[] = [];
  for (const name of datasetFileNames(info)) {
    try {
      const stat = await Deno.stat(join(dir, name));
      if (!stat.isFile) missing.push(name);
    } catch {
      missing.push(name);
    }
  }
  return missing;
}
