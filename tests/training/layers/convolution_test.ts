import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { type ConvGeometry, convolution } from "../../../training/layers/convolution.ts";

const random = seededRandom(31);

/**
 * AlexNet's first layer (stride 4, no padding) on sides that the stride does
 * and does not divide (the first two take the space-to-depth route on wasm,
 * the second with two channels and a filter padded from 5 to 6), a "same"
 * one, and one that takes Winograd's 5×5 scheme on wasm, on small inputs.
 */
const CASES: { x: number[]; filter: number[]; geometry: ConvGeometry }[] = [
  { x: [2, 24, 24, 1], filter: [11, 11, 1, 8], geometry: { strides: [4, 4], pad: "valid" } },
  { x: [2, 16, 16, 2], filter: [5, 5, 2, 8], geometry: { strides: [2, 2], pad: "valid" } },
  { x: [3, 23, 23, 1], filter: [11, 11, 1, 8], geometry: { strides: [4, 4], pad: "valid" } },
  { x: [2, 9, 9, 6], filter: [3, 3, 6, 5], geometry: { strides: [1, 1], pad: "same" } },
  { x: [2, 7, 7, 32], filter: [5, 5, 32, 48], geometry: { strides: [1, 1], pad: "same" } },
];

/**
 * The output and the gradients of Σ f(x, filter, bias) · dy with respect to
 * x (unless `withInput` is false), the filter and the bias.
 */
function outputAndGradients(
  f: (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor,
  inputs: tf.Tensor[],
  dy: tf.Tensor,
  withInput = true,
): tf.Tensor[] {
  const [x, filter, bias] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
  const gradients = withInput
    ? tf.grads((xs, fs, bs) =>
      f(xs as tf.Tensor4D, fs as tf.Tensor4D, bs as tf.Tensor1D).mul(dy).sum()
    )(inputs)
    : tf.grads((fs, bs) => f(x, fs as tf.Tensor4D, bs as tf.Tensor1D).mul(dy).sum())(
      [filter, bias],
    );
  return [f(x, filter, bias), ...gradients];
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test({
    name:
      `fused conv + bias + ReLU: output and gradients equal tfjs's separate ops on the CPU backend [${backend}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      for (const { x: xShape, filter: filterShape, geometry } of CASES) {
        await setupBackend("cpu");
        // Values in [-1, 1): about half the outputs are negative, so ReLU cuts.
        const inputs = [xShape, filterShape, [filterShape[3]]].map((shape) =>
          uniformTensor(shape, random)
        );
        const separate = (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D) =>
          tf.relu(tf.conv2d(x, filter, geometry.strides, geometry.pad).add(bias));
        const dy = uniformTensor(
          separate(...inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D]).shape,
          random,
        );
        const expected = await Promise.all(
          outputAndGradients(separate, inputs, dy).map((t) => t.data()),
        );
        await setupBackend(backend);
        const fused =
          (inputGradient: boolean) => (x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D) =>
            convolution(x, filter, bias, { ...geometry, activation: "relu", inputGradient });
        const actual = await Promise.all(
          outputAndGradients(fused(true), inputs, dy).map((t) => t.data()),
        );
        // Without the input's gradient (a first layer): the others, unchanged.
        const firstLayer = await Promise.all(
          outputAndGradients(fused(false), inputs, dy, false).map((t) => t.data()),
        );
        assert(expected[0].some((v) => v === 0), "ReLU cut nothing");
        const names = ["output", "input gradient", "filter gradient", "bias gradient"];
        const pairs = [
          ...actual.map((values, i) => [names[i], values, expected[i]] as const),
          ...firstLayer.map((values, i) => {
            const at = i === 0 ? 0 : i + 1;
            return [`${names[at]} (first layer)`, values, expected[at]] as const;
          }),
        ];
        for (const [name, values, reference] of pairs) {
          const error = relativeError(values, reference);
          assert(error <= 1e-4, `x ${xShape}, filter ${filterShape}: ${name} error ${error}`);
        }
        tf.dispose([...inputs, dy]);
      }
      await setupBackend("cpu");
    },
  });
}
