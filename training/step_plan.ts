import type * as tf from "@tensorflow/tfjs";

const FLOAT_BYTES = 4;

/** Bytes of the largest activation one example produces in `model` (its input included). */
export function largestActivationBytes(model: tf.Sequential): number {
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
export function microBatchLimit(
  model: tf.Sequential,
  maxBindingBytes: number,
): number {
  return Math.max(
    1,
    Math.floor(maxBindingBytes / largestActivationBytes(model)),
  );
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

/** Largest batch used for evaluation. */
const EVAL_BATCH_LIMIT = 256;

/** Examples per forward pass when evaluating: as many as the device allows, at most 256. */
export function evaluationBatchSize(model: tf.Sequential, maxBindingBytes: number): number {
  return Math.min(microBatchLimit(model, maxBindingBytes), EVAL_BATCH_LIMIT);
}
