import { join } from "node:path";

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
