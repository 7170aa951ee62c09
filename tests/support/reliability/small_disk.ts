/**
 * Small file systems for the full-disk tests: a tmpfs of a few MiB,
 * mounted where the tests run as root (as CI does), and a filler that
 * takes its last byte.
 *
 * @module
 */
import { join } from "node:path";

/** A tmpfs of `size` (`"4m"`) mounted at a fresh folder, or undefined (with a warning) where none can be. */
export async function smallDisk(size: string): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "small-disk-" });
  const mount = Deno.build.os === "linux"
    ? await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stderr: "null",
    }).output().catch(() => undefined)
    : undefined;
  if (!mount?.success) {
    await Deno.remove(dir);
    console.warn(
      "SKIPPED: cannot mount a small file system here (needs Linux, root and mount): " +
        "the full-disk test did not run",
    );
    return undefined;
  }
  return dir;
}

/** Unmounts a {@link smallDisk} and removes its folder. */
export async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir] }).output();
  await Deno.remove(dir, { recursive: true });
}

/** Writes `dir/filler` until the disk is full; returns its path (remove it to free the space). */
export async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await Deno.open(path, { write: true, create: true, append: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (let size = chunk.length; size > 0;) {
      try {
        await file.write(chunk.subarray(0, size));
      } catch (error) {
        if (!/No space left/.test(String(error))) throw error;
        // The last pages: smaller writes until not even one byte fits.
        size >>= 1;
      }
    }
  } finally {
    file.close();
  }
  return path;
}
