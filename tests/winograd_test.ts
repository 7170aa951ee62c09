import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "./assert.ts";
import { seededRandom } from "../data/random.ts";
import { setupBackend } from "../runtime/backend.ts";
import { fitsWinograd } from "../runtime/wasm_winograd.ts";

const random = seededRandom(31);

function uniform(shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => random() * 2 - 1), shape);
}

const SAME = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 } as const;

Deno.test("Winograd takes AlexNet's 3×3 convolutions and leaves every other one to XNNPACK", () => {
  for (
    const [x, filter] of [[[64, 12, 12, 256], [3, 3, 256, 384]], [[64, 12, 12, 384], [
      3,
      3,
      384,
      256,
    ]]]
  ) {
    assert(fitsWinograd(x, filter, SAME), `${x} * ${filter} should take Winograd`);
  }
  const others: [number[], number[], tf.NamedAttrMap][] = [
    [[64, 26, 26, 96], [5, 5, 96, 256], { ...SAME, pad: 2 }],
    [[64, 224, 224, 1], [11, 11, 1, 96], { ...SAME, strides: 4, pad: "valid" }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, strides: 2 }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, pad: "valid" }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, dilations: 2 }],
    [[8, 12, 12, 16], [3, 3, 16, 64], SAME],
  ];
  for (const [x, filter, attrs] of others) {
    assert(!fitsWinograd(x, filter, attrs), `${x} * ${filter} ${JSON.stringify(attrs)}`);
  }
});

/** Even and odd sides (partial tiles), a single pixel, and AlexNet's conv4 on 5×5 images. */
const CONVS: [number[], number[]][] = [
  [[2, 12, 12, 64], [3, 3, 64, 48]],
  [[3, 7, 5, 40], [3, 3, 40, 33]],
  [[2, 1, 1, 32], [3, 3, 32, 32]],
  [[2, 5, 5, 384], [3, 3, 384, 384]],
];

/** The fused forward (bias, ReLU) and both gradients of Σ conv(x, filter) · dy. */
function convolutionAndGradients(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor, dy: tf.Tensor) {
  const forward = tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: filter as tf.Tensor4D,
    bias,
    activation: "relu",
    strides: 1,
    pad: "same",
  });
  const gradients = tf.grads((xs: tf.Tensor, fs: tf.Tensor) =>
    tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, 1, "same").mul(dy).sum()
  )([x, filter]);
  return [forward, ...gradients];
}

Deno.test({
  name: "wasm Winograd F(2×2, 3×3) convolution and gradients equal the CPU backend's (≤ 1e-4)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const [xShape, filterShape] of CONVS) {
      assert(fitsWinograd(xShape, filterShape, SAME));
      await setupBackend("cpu");
      const x = uniform(xShape);
      const filter = uniform(filterShape);
      const bias = uniform([filterShape[3]]);
      const dy = uniform([...xShape.slice(0, 3), filterShape[3]]);
      const expected = await Promise.all(
        convolutionAndGradients(x, filter, bias, dy).map((t) => t.data()),
      );
      await setupBackend("wasm");
      const actual = await Promise.all(
        convolutionAndGradients(x, filter, bias, dy).map((t) => t.data()),
      );
      ["output", "input gradient", "filter gradient"].forEach((name, i) => {
        const error = relativeError(actual[i], expected[i]);
        assert(error <= 1e-4, `x ${xShape}, filter ${filterShape}: ${name} error ${error}`);
      });
      tf.dispose([x, filter, bias, dy]);
    }
    await setupBackend("cpu");
  },
});
