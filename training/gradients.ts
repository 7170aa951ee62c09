/**
 * The gradients of some examples of a batch: what the main thread and
 * each gradient worker compute for their share of a step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/batches.ts";
import { resizeBatch } from "../data/resize.ts";
import { releaseGradientsEarly } from "./layers/backprop_release.ts";
import type { GradientSink } from "./layers/dense.ts";
import { countCorrect, crossEntropySum, type DropoutPlan, forward } from "./forward.ts";
import { batchSlice } from "./step_plan.ts";

/** What computing gradients needs besides the examples. */
export interface GradientContext {
  model: tf.Sequential;
  resize: number;
}

/** Gradients of some examples of a batch, in the order of the model's trainable weights. */
export interface PartGradients {
  /** Undefined for the weights whose gradients went to the sink. */
  gradients: (tf.Tensor | undefined)[];
  /** Sum of these examples' losses divided by the size of the whole batch. */
  scaledLoss: tf.Scalar;
  correct: tf.Scalar;
}

/** `total + part`, disposing both inputs. */
export function addInto<T extends tf.Tensor>(total: T | undefined, part: T): T {
  if (total === undefined) return part;
  const sum = total.add(part) as T;
  tf.dispose([total, part]);
  return sum;
}

/** The model's trainable variables, in a fixed order. */
export function trainableVariables(model: tf.Sequential): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/**
 * Gradients of the mean softmax cross-entropy of a whole batch restricted to
 * `part`, the examples of that batch that `dropout.offset` locates,
 * accumulated over the micro-batches `microBatches` (sizes summing to
 * `part.count`). Adding the parts of a batch gives the whole batch's
 * gradients, dropout masks included. The gradients a `sink` takes go
 * there instead (undefined in the result).
 */
export function partGradients(
  context: GradientContext,
  part: Batch,
  options: { dropout: DropoutPlan; microBatches: number[]; sink?: GradientSink },
): PartGradients {
  const { model, resize } = context;
  const { dropout, microBatches, sink } = options;
  const variables = trainableVariables(model);
  const sums: (tf.Tensor | undefined)[] = variables.map(() => undefined);
  let scaledLoss: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  let start = 0;
  for (const size of microBatches) {
    const micro = batchSlice(part, start, size);
    const images = resizeBatch(micro.images, size, resize);
    const labels = tf.tensor1d(micro.labels, "int32");
    const plan = { ...dropout, offset: dropout.offset + start };
    let microCorrect: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(model, images, plan, { sink });
      microCorrect = tf.keep(countCorrect(logits, labels));
      const loss = crossEntropySum(logits, labels).div(dropout.batchSize) as tf.Scalar;
      releaseGradientsEarly();
      return loss;
    }, variables);
    variables.forEach((variable, i) => {
      const gradient = grads[variable.name];
      // A placeholder where the sink took the gradient.
      if (sink?.takes(variable)) gradient.dispose();
      else sums[i] = addInto(sums[i], gradient);
    });
    scaledLoss = addInto(scaledLoss, value);
    correct = addInto(correct, microCorrect!);
    tf.dispose([images, labels]);
    start += size;
  }
  return { gradients: sums, scaledLoss: scaledLoss!, correct: correct! };
}
