import { join } from "node:path";
import { InputError } from "../errors.ts";

/** Bytes written at a time while probing. */
const CHUNK = 8 * 2 ** 20;

/**
 * Checks, before any work, that `dir` can hold a file of `bytes` more: it
 * writes one, then removes it (Deno has no call that reports free space).
 * A full disk, a read-only file system or a missing permission is an
 * `InputError` naming `what` (a flag and folder, or the folder).
 */
export async function checkRoom(dir: string, bytes: number, what = dir): Promise<void> {
  const probe = join(dir, `.room-probe-${crypto.randomUUID().slice(0, 8)}`);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(probe, { write: true, createNew: true });
    const zeros = new Uint8Array(Math.min(CHUNK, Math.max(bytes, 1)));
    for (let left = bytes; left > 0; left -= zeros.length) {
      const chunk = left >= zeros.length ? zeros : zeros.subarray(0, left);
      for (let written = 0; written < chunk.length;) {
        written += await file.write(chunk.subarray(written));
      }
    }
    await file.sync();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new InputError(
        `${what}: this task may not write there (${error.message.split(",")[0]})`,
      );
    }
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    const full = /No space left/i.test(reason);
    throw new InputError(
      full
        ? `${what}: not enough room for a checkpoint (about ${Math.ceil(bytes / 2 ** 20)} MiB)`
        : `${what}: cannot write there (${reason})`,
    );
  } finally {
    file?.close();
    await Deno.remove(probe).catch(() => {});
  }
}
