import { formatDuration } from "../training/duration.ts";
import type { TrainingProgress } from "../training/train.ts";

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
  /** Seconds the work has already run when the display starts. */
  elapsed?: number;
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
  #lastDone = -1;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#start -= (options.elapsed ?? 0) * 1000;
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
    // The last report of a phase repeats the one before it: one line is enough.
    if (done === this.#lastDone && !interactive) return;
    this.#lastDraw = now;
    this.#lastDone = done;
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

/** The training loop's reporters for a terminal or a log: header lines and a bar per epoch. */
export interface TrainingDisplay {
  log: (line: string) => void;
  onProgress: (progress: TrainingProgress) => void;
}

/**
 * Shows the training loop's progress on stderr (a bar in place on a
 * terminal, a plain line every 10 seconds elsewhere) and its lines on
 * stdout, ending a bar before a line is printed.
 */
export function trainingDisplay(
  options: { interactive: boolean; write: (text: string) => void; print: (line: string) => void },
): TrainingDisplay {
  let bar: { key: string; display: Progress } | undefined;
  return {
    log: (line) => {
      bar?.display.finish();
      options.print(line);
    },
    onProgress: (progress) => {
      const key = `${progress.phase} ${progress.epoch}/${progress.epochs}`;
      if (bar?.key !== key) {
        bar?.display.finish();
        bar = {
          key,
          display: new Progress({
            total: progress.total,
            label: progress.phase === "train" ? `epoch ${progress.epoch}/${progress.epochs}` : key,
            unit: "img",
            initial: progress.seenBefore,
            elapsed: progress.seconds,
            interactive: options.interactive,
            write: options.write,
          }),
        };
      }
      const loss = progress.loss === undefined ? "" : `loss ${progress.loss.toFixed(4)}, `;
      bar.display.update(progress.seen, `${loss}acc ${progress.accuracy.toFixed(3)}`);
      if (progress.done) bar.display.finish();
    },
  };
}
