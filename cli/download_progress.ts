import type { DownloadProgress } from "../data/download.ts";
import { Progress } from "./progress.ts";

/** A download progress callback that shows one progress display per file on stderr. */
export function downloadProgressPrinter(): (progress: DownloadProgress) => void {
  let current: { file: string; display: Progress } | undefined;
  const write = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));
  return ({ file, received, total }) => {
    if (current?.file !== file) {
      current?.display.finish();
      current = {
        file,
        display: new Progress({
          total: total ?? 0,
          label: `download ${file}`,
          unit: "B",
          interactive: Deno.stderr.isTerminal(),
          lineInterval: 2,
          write,
        }),
      };
    }
    current.display.update(received);
    if (total !== undefined && received >= total) current.display.finish();
  };
}
