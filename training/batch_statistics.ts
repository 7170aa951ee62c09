/**
 * The running statistics of a network's batch norms, updated once per
 * step from the moments every micro-batch and thread saw.
 *
 * Each thread's share of a batch (and each micro-batch of it) is
 * normalised by its own statistics, as PyTorch's `DataParallel` does
 * without synchronised batch norm: exchanging them between threads in the
 * middle of each pass would cost a wait per layer. The running statistics,
 * what evaluation uses, are those of the whole batch all the same: the
 * parts' moments merge exactly (Chan et al.'s pairwise formula) into the
 * whole batch's mean and variance.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Moments } from "./layers/batch_norm.ts";

/** Moments as plain numbers, as a gradient worker sends them. */
export interface MomentValues {
  count: number;
  mean: Float32Array;
  variance: Float32Array;
}

/** Each batch norm layer's moments, by layer name. */
export type LayerMoments = Map<string, Moments[]>;

/**
 * The moments of the union of `parts`: n = Σ nₖ, mean = Σ nₖ·meanₖ / n,
 * and n·variance = Σ nₖ·varianceₖ + Σ nₖ·(meanₖ − mean)². Disposes the parts.
 */
export function mergeMoments(parts: Moments[]): Moments {
  if (parts.length === 1) return parts[0];
  const count = parts.reduce((sum, part) => sum + part.count, 0);
  const merged = tf.tidy(() => {
    const mean = tf.addN(parts.map((part) => part.mean.mul(part.count / count))) as tf.Tensor1D;
    const spread = tf.addN(
      parts.map((part) =>
        part.variance.add(tf.square(part.mean.sub(mean))).mul(part.count / count)
      ),
    ) as tf.Tensor1D;
    return { count, mean, variance: spread };
  });
  tf.dispose(parts.flatMap((part) => [part.mean, part.variance]));
  return merged;
}

/** Each layer's parts merged into one (see {@link mergeMoments}). */
export function mergeLayerMoments(moments: LayerMoments): Map<string, Moments> {
  return new Map([...moments].map(([layer, parts]) => [layer, mergeMoments(parts)]));
}

/** Adds `part` to a layer's list of moments. */
export function recordMoments(moments: LayerMoments, layer: string, part: Moments): void {
  const parts = moments.get(layer);
  if (parts) parts.push(part);
  else moments.set(layer, [part]);
}

/** Reads merged moments into numbers (a worker's reply), disposing them. */
export async function momentValues(
  moments: Map<string, Moments>,
): Promise<Map<string, MomentValues>> {
  const values = new Map<string, MomentValues>();
  for (const [layer, { count, mean, variance }] of moments) {
    const [m, v] = await Promise.all([mean.data(), variance.data()]);
    values.set(layer, { count, mean: m as Float32Array, variance: v as Float32Array });
    tf.dispose([mean, variance]);
  }
  return values;
}

/** Moments received as numbers, as tensors again. */
export function momentTensors(values: MomentValues): Moments {
  return {
    count: values.count,
    mean: tf.tensor1d(values.mean),
    variance: tf.tensor1d(values.variance),
  };
}

/**
 * Updates every batch norm's running statistics from the step's merged
 * moments as PyTorch does: running = (1 − m)·running + m·batch with
 * PyTorch's momentum m (tfjs's layer holds 1 − m), the variance taken
 * unbiased (n / (n − 1) times the biased one). Disposes the moments.
 */
export function updateRunningStatistics(
  model: tf.LayersModel,
  moments: Map<string, Moments>,
): void {
  for (const [name, { count, mean, variance }] of moments) {
    const layer = model.getLayer(name);
    const { momentum } = layer.getConfig() as { momentum: number };
    const [movingMean, movingVariance] = ["moving_mean", "moving_variance"].map((suffix) =>
      layer.weights.find((weight) => weight.originalName.endsWith(`/${suffix}`))!
        .read() as tf.Variable
    );
    tf.tidy(() => {
      const keep = tf.scalar(momentum);
      const take = tf.scalar(1 - momentum);
      movingMean.assign(movingMean.mul(keep).add(mean.mul(take)));
      const unbiased = variance.mul(count / Math.max(count - 1, 1));
      movingVariance.assign(movingVariance.mul(keep).add(unbiased.mul(take)));
    });
    tf.dispose([mean, variance]);
  }
}
