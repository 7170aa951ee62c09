/**
 * The layers the chapter's networks add, forward and gradients, on every
 * backend that trains, against tfjs's own operations on its CPU backend:
 * batch normalisation in training (with each fused activation, over maps
 * and over dense layers) and the moments it records, an activation layer
 * of its own, and the max-pool padded with −∞.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { testOnBackends } from "../../support/backends.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { type Activation, activationLayer } from "../../../training/layers/activation.ts";
import { batchNormTraining, type Moments } from "../../../training/layers/batch_norm.ts";
import { paddedMaxPooling2d } from "../../../model/graph/padded_max_pool.ts";

/** Σ f(inputs) · dy, its value and its gradients with respect to every input, as arrays. */
async function valueAndGradients(
  f: (...inputs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  dy: tf.Tensor,
): Promise<Float32Array[]> {
  const value = f(...inputs);
  const gradients = tf.grads((...xs: tf.Tensor[]) => f(...xs).mul(dy).sum())(inputs);
  const arrays = await Promise.all([value, ...gradients].map((t) => t.data()));
  tf.dispose([value, ...gradients]);
  return arrays as Float32Array[];
}

/**
 * Compares `ours` on the active backend with `reference` on the CPU
 * backend, on the same inputs (made on the CPU backend from `shapes`).
 */
async function compareWithCpu(
  ours: (...inputs: tf.Tensor[]) => tf.Tensor,
  reference: (...inputs: tf.Tensor[]) => tf.Tensor,
  shapes: number[][],
  what: string,
  tolerance = 1e-5,
): Promise<void> {
  const backend = tf.getBackend();
  await setupBackend("cpu");
  const random = seededRandom(7);
  const inputs = shapes.map((shape) => uniformTensor(shape, random).mul(2));
  const output = reference(...inputs);
  const dy = uniformTensor(output.shape, random);
  const expected = await valueAndGradients(reference, inputs, dy);
  await setupBackend(backend as "cpu");
  const actual = await valueAndGradients(ours, inputs, dy);
  actual.forEach((values, i) => {
    const error = relativeError(values, expected[i]);
    const name = i === 0 ? "output" : `gradient ${i}`;
    assert(error <= tolerance, `${what}: ${name} off by ${error}`);
  });
  tf.dispose([...inputs, output, dy]);
}

/** Batch norm in training as tfjs's operations: the biased variance, ε 1e-5. */
function plainBatchNorm(activation: Activation) {
  return (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
    const y = x.sub(mean).div(tf.sqrt(variance.add(1e-5))).mul(gamma).add(beta);
    return activation === "relu" ? tf.relu(y) : activation === "sigmoid" ? tf.sigmoid(y) : y;
  };
}

testOnBackends(
  "batch norm in training, each activation fused, over maps and dense layers: tfjs's formula's output and gradients",
  async () => {
    for (const activation of ["linear", "relu", "sigmoid"] as const) {
      // Channels in fours, 6 (two pixels a period), 5 (four) and 3 over pixels not in fours;
      // 3,240 rows of 20 channels: WebGPU's sums over several groups of rows and of channels.
      const shapes = [[4, 5, 3, 8], [24, 12], [4, 5, 3, 6], [4, 3, 3, 5], [3, 5, 3, 3], [
        40,
        9,
        9,
        20,
      ]];
      for (const shape of shapes) {
        const channels = shape[shape.length - 1];
        const ours = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) =>
          batchNormTraining(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, {
            epsilon: 1e-5,
            activation,
            record: (moments) => tf.dispose([moments.mean, moments.variance]),
          });
        await compareWithCpu(
          ours,
          plainBatchNorm(activation),
          [shape, [channels], [channels]],
          `${activation} over [${shape}]`,
        );
      }
    }
  },
);

testOnBackends(
  "batch norm records the batch's per-channel mean and biased variance",
  async () => {
    const random = seededRandom(3);
    const x = uniformTensor([6, 4, 4, 5], random).mul(3).add(1);
    let recorded: Moments | undefined;
    const y = batchNormTraining(x, tf.ones([5]), tf.zeros([5]), {
      epsilon: 1e-5,
      activation: "linear",
      record: (moments) => recorded = moments,
    });
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    assert(recorded!.count === 6 * 4 * 4, `count ${recorded!.count}`);
    for (
      const [ours, theirs] of [[recorded!.mean, mean], [recorded!.variance, variance]] as const
    ) {
      const error = relativeError(
        (await ours.data()) as Float32Array,
        (await theirs.data()) as Float32Array,
      );
      // WebGPU sums in float32 (the cpu and wasm kernels in float64).
      const tolerance = tf.getBackend() === "webgpu" ? 3e-6 : 1e-6;
      assert(error <= tolerance, `moments off by ${error}`);
    }
    tf.dispose([x, y, mean, variance, recorded!.mean, recorded!.variance]);
  },
);

testOnBackends(
  "an activation layer of its own: tfjs's ReLU's and sigmoid's output and gradients",
  async () => {
    for (const activation of ["relu", "sigmoid"] as const) {
      await compareWithCpu(
        (x) => activationLayer(x, activation),
        (x) => activation === "relu" ? tf.relu(x) : tf.sigmoid(x),
        [[3, 5, 5, 4]],
        activation,
      );
    }
  },
);

testOnBackends(
  "the max-pool padded with −∞ (GoogLeNet's): the largest of each window's real values, gradient to it",
  async () => {
    // Negative inputs: a zero padding would win at the borders, −∞ never does.
    const layer = paddedMaxPooling2d({ poolSize: 3, strides: 2, padding: 1, name: "pool" });
    const negative = (x: tf.Tensor) => x.sub(3);
    for (const side of [8, 9]) {
      await compareWithCpu(
        (x) => layer.apply(negative(x)) as tf.Tensor,
        (x) => tf.maxPool(negative(x) as tf.Tensor4D, 3, 2, 1),
        [[2, side, side, 4]],
        `side ${side}`,
      );
    }
    const corner = layer.apply(tf.tensor4d([-5, -3, -4, -6], [1, 2, 2, 1])) as tf.Tensor;
    const values = Array.from(await corner.data());
    assert(values.join() === "-3", `pooled ${values} (padding that counts would give 0)`);
    corner.dispose();
    const shape = layer.computeOutputShape([null, 24, 24, 192]) as number[];
    assert(shape.join() === ",12,12,192", `output shape ${shape}`);
  },
);
