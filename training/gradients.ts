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
import { type LayerMoments, mergeLayerMoments } from "./batch_statistics.ts";
import type { Moments } from "./layers/batch_norm.ts";

/** What computing gradients needs besides the examples. */
export interface GradientContext {
  model: tf.LayersModel;
  resize: number;
}

/** Gradients of some examples of a batch, in the order of the model's trainable weights. */
export interface PartGradients {
  /** Undefined for the weights whose gradients went to the sink. */
  gradients: (tf.Tensor | undefined)[];
  /** Sum of these examples' losses divided by the size of the whole batch. */
  scaledLoss: tf.Scalar;
  correct: tf.Scalar;
  /** Each batch norm's moments over these examples. */
  moments: Map<string, Moments>;
}

/** `total + part`, disposing both inputs. */
export function addInto<T extends tf.Tensor>(total: T | undefined, part: T): T {
  if (total === undefined) return part;
  const sum = total.add(part) as T;
  tf.dispose([total, part]);
  return sum;
}

/**
 * `sink` as seen by one backward pass, which records in `delivered` the
 * weights whose gradients it was given: only the layers that know the sink
 * (see `denseLayer`) give it theirs, whatever it would take, and every
 * other gradient must still reach the sum.
 */
function recordingSink(sink: GradientSink, delivered: Set<tf.Variable>): GradientSink {
  return {
    takes: (weight) => sink.takes(weight),
    add: (weight, write) => {
      sink.add(weight, write);
      delivered.add(weight);
    },
  };
}

/** The model's trainable variables, in a fixed order. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/** One micro-batch's share of {@link partGradients}. */
interface MicroBatch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  dropout: DropoutPlan;
}

/**
 * The loss, correct count and gradients of one micro-batch (those the sink
 * was given disposed and left out), its batch norms' moments recorded.
 */
function microBatchGradients(
  model: tf.LayersModel,
  micro: MicroBatch,
  options: { moments: LayerMoments; sink?: GradientSink },
) {
  const variables = trainableVariables(model);
  const delivered = new Set<tf.Variable>();
  const sink = options.sink && recordingSink(options.sink, delivered);
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const training = { dropout: micro.dropout, moments: options.moments };
    const logits = forward(model, micro.images, { training, sink });
    correct = tf.keep(countCorrect(logits, micro.labels));
    const loss = crossEntropySum(logits, micro.labels).div(micro.dropout.batchSize) as tf.Scalar;
    releaseGradientsEarly();
    return loss;
  }, variables);
  const gradients = variables.map((variable) => {
    const gradient = grads[variable.name];
    // A placeholder where the sink took the gradient.
    if (!delivered.has(variable)) return gradient;
    gradient.dispose();
    return undefined;
  });
  return { scaledLoss: value, correct: correct!, gradients };
}

/**
 * Gradients of the mean softmax cross-entropy of a whole batch restricted to
 * `part`, the examples of that batch that `dropout.offset` locates,
 * accumulated over the micro-batches `microBatches` (sizes summing to
 * `part.count`). Adding the parts of a batch gives the whole batch's
 * gradients, dropout masks included. The gradients a `sink` takes go
 * there instead (undefined in the result). Each micro-batch's batch norms
 * use its own statistics; their moments come back merged.
 */
export function partGradients(
  context: GradientContext,
  part: Batch,
  options: { dropout: DropoutPlan; microBatches: number[]; sink?: GradientSink },
): PartGradients {
  const { model, resize } = context;
  const { dropout, microBatches, sink } = options;
  const sums: (tf.Tensor | undefined)[] = trainableVariables(model).map(() => undefined);
  const moments: LayerMoments = new Map();
  let scaledLoss: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  let start = 0;
  for (const size of microBatches) {
    const slice = batchSlice(part, start, size);
    const micro = {
      images: resizeBatch(slice.images, size, resize),
      labels: tf.tensor1d(slice.labels, "int32"),
      dropout: { ...dropout, offset: dropout.offset + start },
    };
    const result = microBatchGradients(model, micro, { moments, sink });
    result.gradients.forEach((gradient, i) => {
      if (gradient) sums[i] = addInto(sums[i], gradient);
    });
    scaledLoss = addInto(scaledLoss, result.scaledLoss);
    correct = addInto(correct, result.correct);
    tf.dispose([micro.images, micro.labels]);
    start += size;
  }
  return {
    gradients: sums,
    scaledLoss: scaledLoss!,
    correct: correct!,
    moments: mergeLayerMoments(moments),
  };
}
