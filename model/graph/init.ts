import * as tf from "@tensorflow/tfjs";
import { mixSeed, seededRandom } from "../../data/random.ts";
import { filledTensor } from "../../backend/wasm/heap.ts";

type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** Initialisers for one layer, drawn from seeds derived from the run's seed. */
export interface LayerInit {
  kernelInitializer: Initializer;
  biasInitializer: Initializer;
}

/**
 * `initializer` (which keeps its kind and configuration when a model is
 * saved) with its values written by `fill` where the tensor lives (see
 * `filledTensor`): tfjs's own initialisers fill an intermediate array, and
 * its `randomUniform` draws each value through a slower generator.
 */
function filling(initializer: Initializer, fill: (values: Float32Array) => void): Initializer {
  initializer.apply = (shape) => filledTensor(shape as number[], fill);
  return initializer;
}

/** U(−bound, bound) from `seed` (mulberry32, see `seededRandom`), as tfjs's `RandomUniform`. */
function uniform(bound: number, seed: number): Initializer {
  return filling(
    tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed }),
    (values) => {
      const random = seededRandom(seed);
      for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * bound;
    },
  );
}

/**
 * PyTorch's default initialisation of `Conv2d` and `Linear`:
 * `kaiming_uniform_(a=√5)` on the weights, i.e. U(−1/√fan_in, 1/√fan_in),
 * and the same bound for the biases. `fanIn` is in × kernel area. A `null`
 * seed gives zeros instead, for a copy of a network whose weights are
 * overwritten before use (a gradient worker).
 */
export function torchDefaultInit(
  fanIn: number,
  seed: number | null,
  layerIndex: number,
): LayerInit {
  if (seed === null) {
    const zeros = () => filling(tf.initializers.zeros(), (values) => values.fill(0));
    return { kernelInitializer: zeros(), biasInitializer: zeros() };
  }
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: uniform(bound, mixSeed(seed, layerIndex, 1)),
    biasInitializer: uniform(bound, mixSeed(seed, layerIndex, 2)),
  };
}
