/**
 * Connects a training run to its page: the feed takes the header lines,
 * progress records and epochs that the terminal shows.
 *
 * @module
 */
import type { Dataset } from "../data/load.ts";
import { InputError } from "../errors.ts";
import type { Evaluation } from "../training/evaluate.ts";
import type { EpochRecord, TrainConfig, TrainingState } from "../training/state.ts";
import type { TrainingProgress } from "../training/train.ts";
import type { EpochEvaluation } from "../run_folder/run_files.ts";
import { ViewFeed } from "./feed.ts";
import { serveView, type ViewServer } from "./server.ts";

/** Options of {@link startTrainingView}. */
export interface TrainingViewOptions {
  runDir: string;
  dataset: Dataset;
  config: TrainConfig;
  /** The resumed run's history and last evaluation (none for a new run). */
  resumed?: { state: TrainingState; evaluation?: EpochEvaluation };
  /** Lines printed before training started (the device line). */
  lines: string[];
  port?: number;
}

/** The hooks that feed the page, to pass to `train` next to the terminal's. */
export interface TrainingView {
  url: string;
  log(line: string): void;
  onProgress(progress: TrainingProgress): void;
  onEpoch(record: EpochRecord, evaluation: Evaluation): void;
  /** Shows the run's end on the page ("finished", "stopped"). */
  finish(status: string): void;
  close(): Promise<void>;
}

/** Checks a `--port` value (0: any free port). */
export function checkPort(port: number | undefined): void {
  if (port !== undefined && port > 65535) {
    throw new InputError(`--port ${port}: must be at most 65535`);
  }
}

/** Starts the page server of a run about to train. */
export async function startTrainingView(options: TrainingViewOptions): Promise<TrainingView> {
  const { resumed } = options;
  let checkpoint = resumed ? 1 : 0;
  const feed = new ViewFeed({
    run: options.runDir,
    config: options.config,
    classes: options.dataset.info.classes,
    lines: [...options.lines],
    history: [...(resumed?.state.history ?? [])],
    evaluation: resumed?.evaluation,
    checkpoint,
    status: "training",
  });
  let server: ViewServer;
  try {
    server = await serveView({
      feed,
      runDir: options.runDir,
      test: options.dataset.test,
      port: options.port,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new InputError(`--port ${options.port}: already in use on 127.0.0.1`);
    }
    throw error;
  }
  return {
    url: server.url,
    log: (line) => feed.publish({ type: "line", line }),
    onProgress: (progress) => feed.publish({ type: "progress", progress }),
    onEpoch: (record, evaluation) =>
      feed.publish({
        type: "epoch",
        record,
        evaluation: { epoch: record.epoch, ...evaluation },
        checkpoint: ++checkpoint,
      }),
    finish: (status) => feed.publish({ type: "status", status }),
    close: () => server.close(),
  };
}
