import * as tf from "@tensorflow/tfjs";
import { mixSeed } from "../data/random.ts";

/** Initialisers for one layer, drawn from seeds derived from the run's seed. */
export interface LayerInit {
  kernelInitializer: ReturnType<typeof tf.initializers.randomUniform>;
  biasInitializer: ReturnType<typeof tf.initializers.randomUniform>;
}

/**
 * PyTorch's default initialisation of `Conv2d` and `Linear`:
 * `kaiming_uniform_(a=√5)` on the weights, i.e. U(−1/√fan_in, 1/√fan_in),
 * and the same bound for the biases. `fanIn` is in × kernel area.
 */
export function torchDefaultInit(
  fanIn: number,
  seed: number,
  layerIndex: number,
): LayerInit {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: mixSeed(seed, layerIndex, 1),
    }),
    biasInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: mixSeed(seed, layerIndex, 2),
    }),
  };
}
