import { createHash } from "node:crypto";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import type { DatasetInfo } from "./datasets.ts";

/** Progress of one file's download; `total` is undefined when the server does not say. */
export interface DownloadProgress {
  file: string;
  received: number;
  total?: number;
}

/** Options of {@link downloadFile} and {@link downloadDataset}. */
export interface DownloadOptions {
  /** Base URL the file names are appended to (default: the dataset's official host). */
  baseUrl?: string;
  /** Expected MD5 per file name (default: the dataset's published checksums). */
  md5?: Record<string, string>;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
}

/** Why a download could not even start (no permission or no connectivity): the caller may look elsewhere. */
export class DownloadUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DownloadUnavailableError";
  }
}

function temporaryPath(path: string): string {
  return `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
}

async function fetchOrExplain(url: string): Promise<Response> {
  try {
    const response = await fetch(url);
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new DownloadUnavailableError(
        `${url}: server answered ${response.status} ${response.statusText}`,
      );
    }
    return response;
  } catch (error) {
    if (error instanceof DownloadUnavailableError) throw error;
    if (error instanceof Deno.errors.NotCapable) {
      throw new DownloadUnavailableError(
        `${url}: no network permission (run with --allow-net=${new URL(url).host})`,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new DownloadUnavailableError(`${url}: ${reason}`);
  }
}

/**
 * Downloads one file into `dir`, checks its MD5 and only then renames it to
 * its final name: an interrupted or corrupt download leaves no file behind.
 * A checksum mismatch or a dropped connection is an `InputError`.
 */
export async function downloadFile(
  info: DatasetInfo,
  file: string,
  dir: string,
  options: DownloadOptions = {},
): Promise<string> {
  const url = new URL(file, options.baseUrl ?? info.baseUrl).href;
  const expectedMd5 = (options.md5 ?? info.md5)[file];
  const response = await fetchOrExplain(url);
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader === null ? undefined : Number(lengthHeader);
  const finalPath = join(dir, file);
  const partialPath = temporaryPath(finalPath);
  const hash = createHash("md5");
  let received = 0;
  const meter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      received += chunk.length;
      options.onProgress?.({ file, received, total });
      controller.enqueue(chunk);
    },
  });
  const output = await Deno.open(partialPath, { write: true, createNew: true });
  try {
    try {
      await response.body!.pipeThrough(meter).pipeTo(output.writable);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InputError(
        `${url}: download interrupted after ${received} bytes (${reason})`,
      );
    }
    if (total !== undefined && received !== total) {
      throw new InputError(
        `${url}: download ended after ${received} of ${total} bytes`,
      );
    }
    const actualMd5 = hash.digest("hex");
    if (expectedMd5 !== undefined && actualMd5 !== expectedMd5) {
      throw new InputError(
        `${url}: checksum mismatch (MD5 ${actualMd5}, published ${expectedMd5}); the file was discarded`,
      );
    }
    await Deno.rename(partialPath, finalPath);
    return finalPath;
  } catch (error) {
    await Deno.remove(partialPath).catch(() => {});
    throw error;
  }
}

/** Downloads the given files of a dataset into `dir` (created when missing), one after the other. */
export async function downloadDataset(
  info: DatasetInfo,
  files: string[],
  dir: string,
  options: DownloadOptions = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const file of files) {
    await downloadFile(info, file, dir, options);
  }
}
