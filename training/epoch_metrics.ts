import * as tf from "@tensorflow/tfjs";
import { DivergenceError } from "../errors.ts";
import type { TrainingState } from "./state.ts";

/** Seconds between reads of the device-side metrics. */
const METRICS_READ_INTERVAL = 0.5;

/** Where the epoch in progress stands, as reported to `TrainOptions.onProgress`. */
export interface TrainingProgress {
  /** Training on the training split, or evaluating on the test split after it. */
  phase: "train" | "test";
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** Examples of this phase done so far, and in all. */
  seen: number;
  total: number;
  /** Examples of this epoch done before this process started on it (a resumed epoch). */
  seenBefore: number;
  /** Seconds this process has spent on the phase. */
  seconds: number;
  /** Mean loss of the examples seen so far (training only). */
  loss?: number;
  /** Accuracy of the examples seen so far. */
  accuracy: number;
  /** True for the phase's last report. */
  done: boolean;
}

/** A step's sums over its batch, on the device. */
export interface StepSums {
  lossSum: tf.Scalar;
  correct: tf.Scalar;
}

/**
 * The running figures of the epoch in progress. The loss and the count of
 * right answers are summed on the device step after step and read into
 * `state.partial` only when {@link due} (a read waits for the device to
 * finish, which a step need not); each read checks that the loss is still
 * a finite number, and the figures of the last read are what
 * {@link report} sends on.
 */
export class EpochMetrics {
  private lossSum: tf.Scalar;
  private correct: tf.Scalar;
  private readonly started = performance.now();
  /** Examples and seconds of this epoch before this process started on it. */
  private readonly seenBefore: number;
  private readonly secondsBefore: number;
  /** Seconds into this process's share of the epoch at the last read. */
  private lastRead = 0;
  /** The step after which the loss was last read finite. */
  private lastGoodStep: number;

  constructor(
    private readonly state: TrainingState,
    /** Examples of the epoch in all. */
    private readonly total: number,
    private readonly onProgress?: (progress: TrainingProgress) => void,
  ) {
    this.lossSum = tf.scalar(state.partial.lossSum);
    this.correct = tf.scalar(state.partial.correct, "int32");
    this.seenBefore = state.partial.seen;
    this.secondsBefore = state.partial.seconds;
    this.lastGoodStep = state.step;
  }

  /** Seconds this process has spent on the epoch. */
  elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Adds a step's sums to the epoch's, on the device (the step's are disposed). */
  add(step: StepSums): void {
    const sums = [this.lossSum, this.correct];
    this.lossSum = this.lossSum.add(step.lossSum);
    this.correct = this.correct.add(step.correct);
    tf.dispose([...sums, step.lossSum, step.correct]);
  }

  /** True when the last read is `METRICS_READ_INTERVAL` old. */
  due(): boolean {
    return this.elapsed() - this.lastRead >= METRICS_READ_INTERVAL;
  }

  /**
   * Reads the sums into `state.partial`; returns the seconds since the
   * previous read. Throws a `DivergenceError` when the loss is not a finite
   * number (naming the steps since the last good read).
   */
  async read(): Promise<number> {
    const { state } = this;
    const [loss, right] = await Promise.all([this.lossSum.data(), this.correct.data()]);
    if (!Number.isFinite(loss[0])) throw this.divergence(loss[0]);
    this.lastGoodStep = state.step;
    state.partial = {
      ...state.partial,
      lossSum: loss[0],
      correct: right[0],
      seconds: this.secondsBefore + this.elapsed(),
    };
    const previous = this.lastRead;
    this.lastRead = this.elapsed();
    // The wasm and cpu backends compute synchronously: let the event loop run (Ctrl-C).
    await new Promise((resolve) => setTimeout(resolve, 0));
    return this.lastRead - previous;
  }

  /** Sends the figures of the last read to `onProgress`. */
  report(done: boolean): void {
    const { state } = this;
    const { partial } = state;
    this.onProgress?.({
      phase: "train",
      epoch: state.epoch + 1,
      epochs: state.config.epochs,
      seen: partial.seen,
      total: this.total,
      seenBefore: this.seenBefore,
      seconds: this.elapsed(),
      loss: partial.lossSum / Math.max(partial.seen, 1),
      accuracy: partial.correct / Math.max(partial.seen, 1),
      done,
    });
  }

  /** Frees the device-side sums. */
  dispose(): void {
    tf.dispose([this.lossSum, this.correct]);
  }

  private divergence(loss: number): DivergenceError {
    const { state, lastGoodStep } = this;
    const steps = lastGoodStep + 1 === state.step
      ? state.step
      : `${lastGoodStep + 1}–${state.step}`;
    return new DivergenceError(
      `training diverged: the loss is ${loss} in epoch ${
        state.epoch + 1
      }, after step ${steps}; the last checkpoint is kept as it was (try a smaller learning rate, --lr)`,
    );
  }
}
