import * as tf from "@tensorflow/tfjs";
import {
  BATCH_NORM_BACKWARD,
  BATCH_NORM_FORWARD,
  BATCH_NORM_MOMENTS,
  type BatchNormAttrs,
} from "../../backend/batch_norm/kernels.ts";
import type { Activation } from "./activation.ts";

/** What one batch norm saw of one micro-batch: per channel, the mean and the biased variance. */
export interface Moments {
  /** Values per channel (examples × positions). */
  count: number;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** The per-channel tensors both directions use. */
interface Statistics {
  mean: tf.Tensor1D;
  inverseDeviation: tf.Tensor1D;
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** Per-channel mean and biased variance over every axis but the last. */
function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }) as tf.Tensor1D[];
  return { mean, variance };
}

/** activation((x − mean) · inverseDeviation · γ + β). */
function normalize(x: tf.Tensor, statistics: Statistics, activation: Activation): tf.Tensor {
  const attrs: BatchNormAttrs = { activation };
  return tf.engine().runKernel(
    BATCH_NORM_FORWARD,
    { x, ...statistics },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/**
 * [dx, dγ, dβ] for dy at the output `y` of {@link normalize}, recomputing
 * the rest from x (`y` is given for the sigmoid only).
 */
function normalizeGradients(
  maps: { dy: tf.Tensor; x: tf.Tensor; y?: tf.Tensor },
  statistics: Statistics,
  activation: Activation,
): tf.Tensor[] {
  const { dy, x, y } = maps;
  const attrs: BatchNormAttrs = { activation };
  return tf.engine().runKernel(
    BATCH_NORM_BACKWARD,
    { dy, x, ...(y ? { y } : {}), ...statistics },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
}

/**
 * Batch normalisation in training, as PyTorch's: each channel normalised
 * by the mean and the biased variance of this batch (NHWC over examples
 * and positions, or over examples), scaled and shifted, then the
 * activation when one is fused. The gradient keeps the input and the
 * per-channel statistics and recomputes the rest; only the sigmoid's
 * output is kept too (the layer after it, a pooling or a dense layer, keeps
 * it for its own gradient anyway), so that its gradient is not recomputed.
 * Each direction is a pass or two over memory on every backend (see
 * `backend/batch_norm/kernels.ts`).
 * `record` receives the batch's moments (kept tensors, the receiver's to
 * dispose), from which the running statistics are updated.
 */
export function batchNormTraining<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  options: { epsilon: number; activation: Activation; record: (moments: Moments) => void },
): T {
  const { epsilon, activation } = options;
  const count = x.size / x.shape[x.rank - 1];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, scale, offset] = args as tf.Tensor1D[];
    const { mean, variance } = channelMoments(input);
    const inverseDeviation = tf.tidy(() => tf.rsqrt(variance.add(epsilon))) as tf.Tensor1D;
    const statistics = { mean, inverseDeviation, gamma: scale, beta: offset };
    const y = normalize(input, statistics, activation);
    save([input, mean, inverseDeviation, scale, offset, ...(activation === "sigmoid" ? [y] : [])]);
    options.record({ count, mean: tf.keep(mean.clone()), variance: tf.keep(variance) });
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, ...perChannel] = saved as [tf.Tensor, ...tf.Tensor1D[]];
        const [savedMean, savedDeviation, savedScale, savedOffset, savedOutput] = perChannel;
        return normalizeGradients({ dy, x: savedInput, y: savedOutput }, {
          mean: savedMean,
          inverseDeviation: savedDeviation,
          gamma: savedScale,
          beta: savedOffset,
        }, activation);
      },
    };
  });
  return op(x, gamma, beta) as T;
}
