/**
 * How one training step's batch is cut: into shares, one per thread
 * (the main thread's first), and each share into micro-batches small
 * enough for the device. The step, the run's header and the bench all
 * read this one plan.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendInfo } from "../backend/backend_info.ts";
import type { Batch } from "../data/batches.ts";
import { IMAGE_SIZE } from "../data/load.ts";

const FLOAT_BYTES = 4;

/**
 * Fewest examples worth a share of their own: each share costs a copy of the
 * weights to its worker and of the gradients back (AlexNet at 224, batch 16
 * on two threads is slower than on one; batch 32 is faster).
 */
export const MIN_SHARE = 16;

/** Largest batch used for evaluation on a GPU, and on the CPU backends. */
export const EVAL_BATCH_LIMIT = 256;
const CPU_EVAL_BATCH_LIMIT = 32;

/** One thread's part of a step. */
export interface Share {
  /** Index of the share's first example in the batch. */
  offset: number;
  count: number;
  /** Sizes of the micro-batches the share is computed in, in order. */
  microBatches: number[];
}

/** The cut of one step's batch: `shares[0]` is the main thread's, the others go to workers. */
export interface StepPlan {
  batchSize: number;
  shares: Share[];
}

/** Options of {@link planStep}. */
export interface StepPlanOptions {
  batchSize: number;
  /** Threads that can share the step (the main thread and its workers). */
  threads: number;
  /** Most examples per micro-batch (see {@link microBatchLimit}). */
  microBatchLimit: number;
  /** Fewest examples per share (default {@link MIN_SHARE}). */
  minShare?: number;
}

/** Splits `count` examples into as few parts of at most `limit` as possible, as even as possible. */
export function splitEvenly(count: number, limit: number): number[] {
  const parts = Math.max(1, Math.ceil(count / Math.min(limit, count)));
  const base = Math.floor(count / parts);
  return Array.from(
    { length: parts },
    (_, i) => base + (i < count % parts ? 1 : 0),
  );
}

/**
 * Cuts a batch into as many even shares of at least `minShare` examples as
 * there are threads, and each share into even micro-batches of at most
 * `microBatchLimit` examples.
 */
export function planStep(options: StepPlanOptions): StepPlan {
  const { batchSize, threads, microBatchLimit, minShare = MIN_SHARE } = options;
  const used = Math.max(1, Math.min(threads, Math.floor(batchSize / minShare)));
  let offset = 0;
  const shares = splitEvenly(batchSize, Math.ceil(batchSize / used)).map((count) => {
    const share = { offset, count, microBatches: splitEvenly(count, microBatchLimit) };
    offset += count;
    return share;
  });
  return { batchSize, shares };
}

/** The examples `[start, start + count)` of a batch, as a batch of their own (no copy). */
export function batchSlice(batch: Batch, start: number, count: number): Batch {
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  return {
    images: batch.images.subarray(start * pixels, (start + count) * pixels),
    labels: batch.labels.subarray(start, start + count),
    count,
  };
}

/** Bytes of the largest activation one example produces in `model` (its input included). */
export function largestActivationBytes(model: tf.LayersModel): number {
  const shapes = [
    model.inputs[0].shape as number[],
    ...model.layers.map((layer) => layer.outputShape as number[]),
  ];
  return Math.max(
    ...shapes.map((shape) => shape.slice(1).reduce((a, b) => a * b, 1) * FLOAT_BYTES),
  );
}

/**
 * The most examples one micro-batch may hold so that no activation tensor
 * exceeds `maxBindingBytes` (the device's largest storage binding).
 */
export function microBatchLimit(model: tf.LayersModel, maxBindingBytes: number): number {
  return Math.max(1, Math.floor(maxBindingBytes / largestActivationBytes(model)));
}

/**
 * Examples per forward pass when evaluating: as many as the device allows,
 * at most 256 on a GPU (its parallelism wants them), 32 on the CPU
 * backends (the matrix products are as fast, and each thread holds less).
 */
export function evaluationBatchSize(model: tf.LayersModel, backend: BackendInfo): number {
  const most = backend.name === "webgpu" ? EVAL_BATCH_LIMIT : CPU_EVAL_BATCH_LIMIT;
  return Math.min(microBatchLimit(model, backend.maxBindingBytes), most);
}
