import * as tf from "@tensorflow/tfjs";
import { mixSeed } from "../data/random.ts";
import { NUM_CLASSES } from "../data/load.ts";

/**
 * Where a micro-batch sits in its full batch, and the seed of that batch's
 * dropout masks: the masks are drawn for the whole batch and sliced, so
 * splitting a batch never changes which units are dropped.
 */
export interface DropoutPlan {
  seed: number;
  batchSize: number;
  offset: number;
}

function dropoutMask(
  shape: number[],
  rate: number,
  plan: DropoutPlan,
  layerIndex: number,
): tf.Tensor {
  const [rows, ...features] = shape;
  const uniform = tf.randomUniform(
    [plan.batchSize, ...features],
    0,
    1,
    "float32",
    mixSeed(plan.seed, layerIndex),
  );
  const rowsOfThisPart = uniform.slice(plan.offset, rows);
  return tf.greaterEqual(rowsOfThisPart, rate).toFloat().mul(1 / (1 - rate));
}

/**
 * Runs a sequential model layer by layer. With a `dropout` plan (training)
 * each Dropout layer applies a seeded inverted-dropout mask; without one
 * (evaluation) Dropout layers pass their input through. Returns the logits.
 */
export function forward(
  model: tf.Sequential,
  images: tf.Tensor4D,
  dropout?: DropoutPlan,
): tf.Tensor2D {
  let activations: tf.Tensor = images;
  model.layers.forEach((layer, index) => {
    if (layer.getClassName() === "Dropout") {
      if (dropout === undefined) return;
      const { rate } = layer.getConfig() as { rate: number };
      activations = activations.mul(
        dropoutMask(activations.shape, rate, dropout, index),
      );
    } else {
      activations = layer.apply(activations) as tf.Tensor;
    }
  });
  return activations as tf.Tensor2D;
}

/** Sum over the batch of the softmax cross-entropy between logits and integer labels. */
export function crossEntropySum(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Scalar {
  const oneHot = tf.oneHot(labels, NUM_CLASSES);
  return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits))));
}

/** How many rows of `logits` have their largest value at the label. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.equal(tf.argMax(logits, 1), labels).toInt());
}
