import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/batches.ts";
import { IMAGE_SIZE } from "../data/load.ts";
import { resizeBatch } from "../data/resize.ts";
import { countCorrect, crossEntropySum, forward } from "./forward.ts";
import { splitEvenly } from "./memory.ts";

/** What a training step needs besides the batch. */
export interface StepContext {
  model: tf.Sequential;
  optimizer: tf.Optimizer;
  resize: number;
  /** Most examples per micro-batch (see `microBatchLimit`). */
  microBatchLimit: number;
}

/** Device-side results of one step, to be accumulated and disposed by the caller. */
export interface StepResult {
  /** Sum of the per-example losses of the batch. */
  lossSum: tf.Scalar;
  /** Number of examples classified correctly (before the update). */
  correct: tf.Scalar;
}

/** `total + part`, disposing both inputs. */
function addInto<T extends tf.Tensor>(total: T | undefined, part: T): T {
  if (total === undefined) return part;
  const sum = total.add(part) as T;
  tf.dispose([total, part]);
  return sum;
}

/**
 * One optimisation step on a batch: the mean softmax cross-entropy over
 * the whole batch, its gradients accumulated over micro-batches (so the
 * update equals the full batch's, dropout masks included), then one
 * optimizer update.
 */
export function trainStep(
  context: StepContext,
  batch: Batch,
  dropoutSeed: number,
): StepResult {
  const { model, optimizer, resize } = context;
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const gradientSum: tf.NamedTensorMap = {};
  let lossSum: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  let offset = 0;
  for (const size of splitEvenly(batch.count, context.microBatchLimit)) {
    const images = resizeBatch(
      batch.images.subarray(offset * pixels, (offset + size) * pixels),
      size,
      resize,
    );
    const labels = tf.tensor1d(
      batch.labels.subarray(offset, offset + size),
      "int32",
    );
    const plan = { seed: dropoutSeed, batchSize: batch.count, offset };
    let partCorrect: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(model, images, plan);
      partCorrect = tf.keep(countCorrect(logits, labels));
      return crossEntropySum(logits, labels).div(batch.count) as tf.Scalar;
    }, variables);
    for (const [name, gradient] of Object.entries(grads)) {
      gradientSum[name] = addInto(gradientSum[name], gradient);
    }
    lossSum = addInto(lossSum, value);
    correct = addInto(correct, partCorrect!);
    tf.dispose([images, labels]);
    offset += size;
  }
  optimizer.applyGradients(gradientSum);
  tf.dispose(Object.values(gradientSum));
  const meanLoss = lossSum!;
  lossSum = meanLoss.mul(batch.count);
  meanLoss.dispose();
  return { lossSum, correct: correct! };
}
