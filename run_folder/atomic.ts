import { basename, dirname, join } from "node:path";
import { InputError } from "../errors.ts";

/**
 * Writes a file atomically: a temporary file in the same folder, then a
 * rename over the target. A write that fails (a full disk) leaves the
 * previous file as it was and nothing else, and is an `InputError` of one
 * line naming the file.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.tmp-${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    if (typeof data === "string") await Deno.writeTextFile(temporary, data);
    else await Deno.writeFile(temporary, data);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`${path}: could not be written (${reason}); the previous one is intact`);
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
