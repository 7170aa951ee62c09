import { dirname, join } from "node:path";

/** The tool's name, used for its cache folder. */
export const TOOL_NAME = "fashion-webgpu";

/**
 * The tool's cache folder: `$XDG_CACHE_HOME/fashion-webgpu`, else
 * `~/.cache/fashion-webgpu`; `undefined` when neither variable is set.
 */
export function toolCacheDir(): string | undefined {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  const base = xdg ? xdg : home ? join(home, ".cache") : undefined;
  return base === undefined ? undefined : join(base, TOOL_NAME);
}

/** The entries of a JSON cache file by key: none when it is missing or unreadable. */
export async function readCacheFile<T>(file: string): Promise<Record<string, T>> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(file));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/**
 * Writes a JSON cache file's entries, making its folder. A cache that
 * cannot be written only means measuring again next time, so failures are
 * ignored, and a command not granted the write (`bench`) is not made to
 * prompt for it.
 */
export async function writeCacheFile<T>(file: string, entries: Record<string, T>): Promise<void> {
  const folder = dirname(file);
  if (Deno.permissions.querySync({ name: "write", path: folder }).state !== "granted") return;
  try {
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(entries, null, 2));
  } catch {
    // Measured again next time.
  }
}
