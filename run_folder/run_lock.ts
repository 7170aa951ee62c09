/**
 * One writer per run folder: `train` holds `RUN/train.lock` while it runs.
 * Readers (`eval`, `view`) ignore it.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { describeHolder, type LockFile, LockHeldError, takeLock } from "../lock/lock_file.ts";

/** The lock file's name inside a run folder. */
export const LOCK_FILE = "train.lock";

/**
 * Locks a run folder for this process, or an `InputError` of one line
 * naming the process that holds it. A lock left by a process that no
 * longer runs is taken over, and `log` says so.
 */
export async function lockRunFolder(
  runDir: string,
  log: (line: string) => void,
): Promise<LockFile> {
  const path = join(runDir, LOCK_FILE);
  try {
    return await takeLock(path, {
      onTakeover: (holder) =>
        log(`${path}: taken over from ${describeHolder(holder)}, which no longer runs`),
    });
  } catch (error) {
    if (error instanceof LockHeldError) {
      throw new InputError(
        `${runDir}: ${
          describeHolder(error.holder)
        } is training this run (one writer at a time; ${path})`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`${runDir}: cannot write there (${reason})`);
  }
}
