import * as tf from "@tensorflow/tfjs";
import {
  BATCH_NORM_BACKWARD,
  BATCH_NORM_FORWARD,
  BATCH_NORM_MOMENTS,
  type BatchNormAttrs,
} from "../../backend/batch_norm/kernels.ts";
import { activate, type Activation, activationGradient } from "./activation.ts";

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

/** Whether the active backend has this project's batch-norm kernels (cpu, wasm). */
function hasKernels(): boolean {
  return tf.getKernel(BATCH_NORM_FORWARD, tf.getBackend()) !== undefined;
}

/** Per-channel mean and biased variance over every axis but the last. */
function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (hasKernels()) {
    const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }) as tf.Tensor1D[];
    return { mean, variance };
  }
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/** activation((x − mean) · inverseDeviation · γ + β). */
function normalize(x: tf.Tensor, statistics: Statistics, activation: Activation): tf.Tensor {
  const { mean, inverseDeviation, gamma, beta } = statistics;
  if (hasKernels()) {
    const attrs: BatchNormAttrs = { activation };
    const inputs = { x, mean, inverseDeviation, gamma, beta };
    return tf.engine().runKernel(
      BATCH_NORM_FORWARD,
      inputs,
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  }
  return tf.tidy(() =>
    activate(x.sub(mean).mul(inverseDeviation).mul(gamma).add(beta), activation)
  );
}

/** [dx, dγ, dβ] for dy at the output of {@link normalize}, recomputing what it needs from x. */
function normalizeGradients(
  dy: tf.Tensor,
  x: tf.Tensor,
  statistics: Statistics,
  activation: Activation,
): tf.Tensor[] {
  if (hasKernels()) {
    const attrs: BatchNormAttrs = { activation };
    return tf.engine().runKernel(
      BATCH_NORM_BACKWARD,
      { dy, x, ...statistics },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
  }
  return tf.tidy(() => {
    const { mean, inverseDeviation, gamma, beta } = statistics;
    const axes = [...Array(x.rank - 1).keys()];
    const count = x.size / x.shape[x.rank - 1];
    const normalised = x.sub(mean).mul(inverseDeviation);
    const output = activate(normalised.mul(gamma).add(beta), activation);
    const dz = activationGradient(dy, output, activation);
    const dBeta = tf.sum(dz, axes);
    const dGamma = tf.sum(dz.mul(normalised), axes);
    const dx = dz.sub(dBeta.div(count)).sub(normalised.mul(dGamma.div(count)))
      .mul(gamma.mul(inverseDeviation));
    return [dx, dGamma, dBeta];
  });
}

/**
 * Batch normalisation in training, as PyTorch's: each channel normalised
 * by the mean and the biased variance of this batch (NHWC over examples
 * and positions, or over examples), scaled and shifted, then the
 * activation when one is fused. The gradient keeps only the input and the
 * per-channel statistics and recomputes the rest: the output's own memory
 * is not held for the backward pass. On the cpu and wasm backends each
 * direction is a pass or two over memory (see `backend/batch_norm/passes.ts`).
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
    save([input, mean, inverseDeviation, scale, offset]);
    options.record({ count, mean: tf.keep(mean.clone()), variance: tf.keep(variance) });
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, ...perChannel] = saved as [tf.Tensor, ...tf.Tensor1D[]];
        const [savedMean, savedDeviation, savedScale, savedOffset] = perChannel;
        return normalizeGradients(dy, savedInput, {
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
