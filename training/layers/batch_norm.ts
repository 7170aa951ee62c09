import * as tf from "@tensorflow/tfjs";
import { activate, type Activation, activationGradient } from "./activation.ts";

/** What one batch norm saw of one micro-batch: per channel, the mean and the biased variance. */
export interface Moments {
  /** Values per channel (examples × positions). */
  count: number;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Batch normalisation in training, as PyTorch's: each channel normalised
 * by the mean and the biased variance of this batch (NHWC over examples
 * and positions, or over examples), scaled and shifted, then the
 * activation when one is fused. The gradient keeps only the input and the
 * per-channel statistics and recomputes the rest: the output's own memory
 * is not held for the backward pass. `record` receives the batch's moments
 * (kept tensors, the receiver's to dispose), from which the running
 * statistics are updated.
 */
export function batchNormTraining<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  options: { epsilon: number; activation: Activation; record: (moments: Moments) => void },
): T {
  const { epsilon, activation } = options;
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  const count = x.size / x.shape[x.rank - 1];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, scale, offset] = args as tf.Tensor[];
    const { mean, variance } = tf.moments(input, axes);
    const inverseDeviation = tf.rsqrt(variance.add(epsilon));
    const y = tf.tidy(() =>
      activate(input.sub(mean).mul(inverseDeviation).mul(scale).add(offset), activation)
    );
    save([input, mean, inverseDeviation, scale, offset]);
    options.record({
      count,
      mean: tf.keep(mean.clone()) as tf.Tensor1D,
      variance: tf.keep(variance) as tf.Tensor1D,
    });
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [savedInput, savedMean, savedDeviation, savedScale, savedOffset] = saved;
          const normalised = savedInput.sub(savedMean).mul(savedDeviation);
          const output = activate(normalised.mul(savedScale).add(savedOffset), activation);
          const dz = activationGradient(dy, output, activation);
          const dBeta = tf.sum(dz, axes);
          const dGamma = tf.sum(dz.mul(normalised), axes);
          const dx = dz.sub(dBeta.div(count)).sub(normalised.mul(dGamma.div(count)))
            .mul(savedScale.mul(savedDeviation));
          return [dx, dGamma, dBeta];
        }),
    };
  });
  return op(x, gamma, beta) as T;
}
