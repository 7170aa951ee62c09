/**
 * Downloads into the cache folder that every process of the tool shares,
 * one process at a time: two runs that both find the dataset missing do
 * not fetch it twice. The second waits for the first (it holds
 * `.download.lock` in the folder), then finds the files there.
 *
 * @module
 */
import { join } from "node:path";
import { describeHolder, type LockHolder, takeLock } from "../lock/lock_file.ts";
import type { DatasetInfo } from "./datasets.ts";
import { downloadDataset, type DownloadOptions } from "./download.ts";
import { missingFiles } from "./locate.ts";

/** The lock file's name in a dataset's cache folder. */
export const DOWNLOAD_LOCK = ".download.lock";

/** What a download cut short leaves: `NAME.partial-XXXXXXXX` (see `downloadFile`). */
const PARTIAL = /\.partial-[0-9a-f]{8}$/;

/**
 * Downloads the files of `info` missing from `cache` (made when missing),
 * holding the folder's lock; `log` tells of a wait for another process
 * and of the download.
 */
export async function downloadShared(
  info: DatasetInfo,
  cache: string,
  options: DownloadOptions,
  log: (line: string) => void,
): Promise<void> {
  await Deno.mkdir(cache, { recursive: true });
  const told = { waiting: false };
  const lock = await takeLock(join(cache, DOWNLOAD_LOCK), {
    onWait: (holder: LockHolder | undefined) => {
      if (!told.waiting) {
        log(`waiting for ${describeHolder(holder)}, which downloads into ${cache}`);
      }
      told.waiting = true;
    },
  });
  try {
    await removePartials(cache);
    // Another process may have downloaded them while this one waited.
    const missing = await missingFiles(info, cache);
    if (missing.length === 0) return;
    log(`downloading ${info.name} (${missing.join(", ")}) into ${cache}`);
    await downloadDataset(info, missing, cache, options);
  } finally {
    lock.release();
  }
}

/** Removes what killed downloads left: no other process writes here while the lock is held. */
async function removePartials(cache: string): Promise<void> {
  for await (const entry of Deno.readDir(cache)) {
    if (PARTIAL.test(entry.name)) await Deno.remove(join(cache, entry.name));
  }
}
