/**
 * What the training page shows, kept up to date and sent to every open
 * page as server-sent events: a snapshot when a page connects, then each
 * change as it happens.
 *
 * @module
 */
import type { EpochEvaluation } from "../run_folder/run_files.ts";
import type { TrainConfig, TrainingState } from "../training/state.ts";
import type { TrainingProgress } from "../training/train.ts";
import { applyEvent } from "./page/apply_event.js";

/** Everything a page needs to draw itself from scratch. */
export interface ViewSnapshot {
  /** The run folder, as given. */
  run: string;
  config: TrainConfig;
  /** The dataset's class names. */
  classes: readonly string[];
  /** The header lines, as the terminal printed them. */
  lines: string[];
  history: TrainingState["history"];
  progress?: TrainingProgress;
  evaluation?: EpochEvaluation;
  /** Counts the checkpoints saved (0: none yet): a page reloads the model when it grows. */
  checkpoint: number;
  /** "training", "finished", "stopped" or "watching". */
  status: string;
}

/** A change to the snapshot. */
export type ViewEvent =
  | { type: "snapshot"; snapshot: ViewSnapshot }
  | { type: "line"; line: string }
  | { type: "progress"; progress: TrainingProgress }
  | {
    type: "epoch";
    record: TrainingState["history"][number];
    evaluation: EpochEvaluation;
    checkpoint: number;
  }
  | { type: "status"; status: string };

const encoder = new TextEncoder();

/** The latest snapshot and the pages listening to it. */
export class ViewFeed {
  #snapshot: ViewSnapshot;
  #listeners = new Set<ReadableStreamDefaultController<Uint8Array>>();

  constructor(snapshot: ViewSnapshot) {
    this.#snapshot = snapshot;
  }

  /** The current snapshot. */
  get snapshot(): Readonly<ViewSnapshot> {
    return this.#snapshot;
  }

  /** Applies a change and sends it to every page. */
  publish(event: ViewEvent): void {
    this.#snapshot = applyEvent(this.#snapshot, event) as ViewSnapshot;
    this.#send(event);
  }

  /** A stream of server-sent events: the snapshot first, then every change. */
  stream(): ReadableStream<Uint8Array> {
    let self: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream({
      start: (controller) => {
        self = controller;
        this.#listeners.add(controller);
        controller.enqueue(message({ type: "snapshot", snapshot: this.#snapshot }));
      },
      // A closed page only drops its own stream: training goes on.
      cancel: () => void this.#listeners.delete(self),
    });
  }

  /** Ends every page's stream (before the server stops). */
  close(): void {
    for (const listener of this.#listeners) listener.close();
    this.#listeners.clear();
  }

  #send(event: ViewEvent): void {
    const bytes = message(event);
    for (const listener of this.#listeners) {
      try {
        listener.enqueue(bytes);
      } catch {
        this.#listeners.delete(listener);
      }
    }
  }
}

function message(event: ViewEvent): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(event)}\n\n`);
}
