/** Formats seconds as `42s`, `3m05s` or `2h07m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Units of work in all (images, bytes). */
  total: number;
  /** Shown before the bar, e.g. `epoch 1/5`. */
  label: string;
  unit: string;
  /** Redraw one line in place (a terminal) or print a plain line now and then. */
  interactive: boolean;
  /** Units already done before this display started (a resumed epoch): they count for the percentage, not the rate. */
  initial?: number;
  /** Seconds between plain lines when not interactive. */
  lineInterval?: number;
  write: (text: string) => void;
}

/**
 * A progress display with rate and ETA: a bar redrawn in place on a
 * terminal, or a plain line every `lineInterval` seconds elsewhere.
 */
export class Progress {
  #options: ProgressOptions;
  #start = performance.now();
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
  }

  /** Seconds since this progress display started. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Reports `done` units of work so far, with an optional note (loss, accuracy). */
  update(done: number, note = ""): void {
    const { interactive, lineInterval = 10 } = this.#options;
    const now = performance.now();
    const interval = interactive ? 200 : lineInterval * 1000;
    if (now - this.#lastDraw < interval && done < this.#options.total) return;
    this.#lastDraw = now;
    this.#draw(done, note);
  }

  /** Ends the display (a newline after an in-place bar). */
  finish(): void {
    if (this.#options.interactive && this.#drawn) this.#options.write("\n");
    this.#drawn = false;
  }

  #draw(done: number, note: string): void {
    const { total, label, unit, interactive, write } = this.#options;
    const elapsed = this.elapsed;
    const rate = (done - (this.#options.initial ?? 0)) / Math.max(elapsed, 1e-9);
    const eta = done > 0 ? (total - done) / rate : Infinity;
    const fraction = total > 0 ? done / total : 1;
    const figures = `${done}/${total} ${unit}, ${rate.toFixed(1)} ${unit}/s, ETA ${
      formatDuration(eta)
    }${note ? `, ${note}` : ""}`;
    if (interactive) {
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = "█".repeat(filled) + "·".repeat(width - filled);
      write(`\r\x1b[2K${label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${figures}`);
      this.#drawn = true;
    } else {
      write(`${label} ${(fraction * 100).toFixed(0)}% ${figures}\n`);
    }
  }
}
