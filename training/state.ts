import type { DatasetName } from "../data/datasets.ts";
import type { ModelName } from "../model/registry.ts";

/** Names of the optimizers `--optimizer` accepts. */
export type OptimizerName = "adam" | "sgd";

/** Everything that defines a training run (saved with every checkpoint). */
export interface TrainConfig {
  model: ModelName;
  dataset: DatasetName;
  resize: number;
  batchSize: number;
  learningRate: number;
  optimizer: OptimizerName;
  epochs: number;
  seed: number;
  /** Train on the first N training images only. */
  limit?: number;
  /** Evaluate on the first N test images only. */
  testLimit?: number;
}

/** The figures of one finished epoch, as written to `metrics.jsonl`. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Training time of the epoch in seconds (evaluation excluded). */
  seconds: number;
  evalSeconds: number;
  imagesPerSecond: number;
}

/** Running sums of the epoch in progress. */
export interface EpochProgress {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

/** Where a run stands: saved with each checkpoint, enough to resume exactly. */
export interface TrainingState {
  version: 1;
  config: TrainConfig;
  /** Epoch in progress (0-based); equals `config.epochs` when done. */
  epoch: number;
  /** Next batch of that epoch. */
  batch: number;
  /** Optimisation steps taken so far (seeds each step's dropout). */
  step: number;
  partial: EpochProgress;
  history: EpochRecord[];
}

/** The state of a run that has not started. */
export function initialState(config: TrainConfig): TrainingState {
  return {
    version: 1,
    config,
    epoch: 0,
    batch: 0,
    step: 0,
    partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
    history: [],
  };
}
