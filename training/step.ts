import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/batches.ts";
import { IMAGE_SIZE } from "../data/load.ts";
import { resizeBatch } from "../data/resize.ts";
import { addFloats } from "../backend/wasm/heap.ts";
import { countCorrect, crossEntropySum, type DropoutPlan, forward } from "./forward.ts";
import { releaseGradientsEarly } from "./backprop_release.ts";
import type { GradientHelpers } from "./workers/gradient_workers.ts";
import { splitEvenly } from "./step_plan.ts";

/** What computing gradients needs besides the examples. */
export interface GradientContext {
  model: tf.Sequential;
  resize: number;
  /** Most examples per micro-batch (see `microBatchLimit`). */
  microBatchLimit: number;
}

/** What a training step needs besides the batch. */
export interface StepContext extends GradientContext {
  optimizer: tf.Optimizer;
  /** Workers that compute the gradients of shares of each batch in parallel (wasm backend). */
  helpers?: GradientHelpers;
}

/** Device-side results of one step, to be accumulated and disposed by the caller. */
export interface StepResult {
  /** Sum of the per-example losses of the batch. */
  lossSum: tf.Scalar;
  /** Number of examples classified correctly (before the update). */
  correct: tf.Scalar;
}

/** Gradients of some examples of a batch, in the order of the model's trainable weights. */
export interface PartGradients {
  gradients: tf.Tensor[];
  /** Sum of these examples' losses divided by the size of the whole batch. */
  scaledLoss: tf.Scalar;
  correct: tf.Scalar;
}

/** `total + part`, disposing both inputs. */
function addInto<T extends tf.Tensor>(total: T | undefined, part: T): T {
  if (total === undefined) return part;
  const sum = total.add(part) as T;
  tf.dispose([total, part]);
  return sum;
}

/** The model's trainable variables, in a fixed order. */
export function trainableVariables(model: tf.Sequential): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
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

/**
 * Gradients of the mean softmax cross-entropy of a whole batch restricted to
 * `part`, the examples of that batch that `dropout.offset` locates,
 * accumulated over micro-batches. Adding the parts of a batch gives the
 * whole batch's gradients, dropout masks included.
 */
export function partGradients(
  context: GradientContext,
  part: Batch,
  dropout: DropoutPlan,
): PartGradients {
  const { model, resize } = context;
  const variables = trainableVariables(model);
  const sums: (tf.Tensor | undefined)[] = variables.map(() => undefined);
  let scaledLoss: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  let start = 0;
  for (const size of splitEvenly(part.count, context.microBatchLimit)) {
    const micro = batchSlice(part, start, size);
    const images = resizeBatch(micro.images, size, resize);
    const labels = tf.tensor1d(micro.labels, "int32");
    const plan = { ...dropout, offset: dropout.offset + start };
    let microCorrect: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(model, images, plan);
      microCorrect = tf.keep(countCorrect(logits, labels));
      const loss = crossEntropySum(logits, labels).div(dropout.batchSize) as tf.Scalar;
      releaseGradientsEarly();
      return loss;
    }, variables);
    variables.forEach((variable, i) => {
      sums[i] = addInto(sums[i], grads[variable.name]);
    });
    scaledLoss = addInto(scaledLoss, value);
    correct = addInto(correct, microCorrect!);
    tf.dispose([images, labels]);
    start += size;
  }
  return { gradients: sums as tf.Tensor[], scaledLoss: scaledLoss!, correct: correct! };
}

/**
 * One optimisation step on a batch: the mean softmax cross-entropy over
 * the whole batch, its gradients accumulated over micro-batches (so the
 * update equals the full batch's, dropout masks included) and, with
 * helpers, over shares of the batch computed in parallel by workers; then
 * one optimizer update.
 */
export async function trainStep(
  context: StepContext,
  batch: Batch,
  dropoutSeed: number,
): Promise<StepResult> {
  const { model, optimizer, helpers } = context;
  const variables = trainableVariables(model);
  const shares = helpers?.shares(batch.count) ?? [batch.count];
  const plan = { seed: dropoutSeed, batchSize: batch.count, offset: 0 };
  const collect = shares.length > 1
    ? await helpers!.dispatch(variables, batch, {
      shares,
      dropout: plan,
      microBatchLimit: context.microBatchLimit,
    })
    : undefined;
  const own = partGradients(context, batchSlice(batch, 0, shares[0]), plan);
  let { gradients, scaledLoss, correct } = own;
  for (const other of collect ? await collect() : []) {
    gradients = gradients.map((gradient, i) => addFloats(gradient, other.gradients[i]));
    scaledLoss = addInto(scaledLoss, tf.scalar(other.scaledLoss));
    correct = addInto(correct, tf.scalar(other.correct, "int32"));
  }
  const named: tf.NamedTensorMap = {};
  variables.forEach((variable, i) => named[variable.name] = gradients[i]);
  optimizer.applyGradients(named);
  tf.dispose(gradients);
  const lossSum = scaledLoss.mul(batch.count) as tf.Scalar;
  scaledLoss.dispose();
  return { lossSum, correct };
}
