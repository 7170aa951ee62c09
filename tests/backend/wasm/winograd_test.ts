import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { forEachBlas } from "../../support/blas_choices.ts";
import {
  winogradConv2D,
  winogradFilterGradient,
  winogradScheme,
} from "../../../backend/wasm/winograd/convolution.ts";
import { toomCookMatrices } from "../../../backend/wasm/winograd/toom_cook.ts";

const random = seededRandom(31);

const uniform = (shape: number[]) => uniformTensor(shape, random);

const SAME = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 } as const;

Deno.test("Winograd takes AlexNet's 3×3 and 5×5 convolutions, VGG's narrow ones, and leaves the others", () => {
  const taken = [
    [[64, 26, 26, 96], [5, 5, 96, 256]],
    [[64, 12, 12, 256], [3, 3, 256, 384]],
    [[64, 12, 12, 384], [3, 3, 384, 256]],
    [[64, 112, 112, 8], [3, 3, 8, 16]],
    [[64, 56, 56, 16], [3, 3, 16, 32]],
    [[8, 12, 12, 36], [3, 3, 36, 33]],
  ];
  for (const [x, filter] of taken) {
    const scheme = winogradScheme(x, filter, SAME);
    assert(scheme?.filterSize === filter[0], `${x} * ${filter} should take Winograd`);
  }
  const others: [number[], number[], tf.NamedAttrMap][] = [
    [[64, 224, 224, 1], [11, 11, 1, 96], { ...SAME, strides: 4, pad: "valid" }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, strides: 2 }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, pad: "valid" }],
    [[8, 12, 12, 64], [5, 5, 64, 64], { ...SAME, pad: 1 }],
    [[8, 12, 12, 64], [3, 3, 64, 64], { ...SAME, dilations: 2 }],
    [[8, 12, 12, 64], [3, 5, 64, 64], SAME],
    [[8, 12, 12, 64], [7, 7, 64, 64], SAME],
    [[8, 12, 12, 4], [3, 3, 4, 64], SAME],
    [[8, 5, 5, 384], [3, 3, 384, 10], SAME],
    [[8, 224, 224, 1], [3, 3, 1, 8], SAME],
    [[8, 28, 28, 1], [5, 5, 1, 6], SAME],
  ];
  for (const [x, filter, attrs] of others) {
    assert(!winogradScheme(x, filter, attrs), `${x} * ${filter} ${JSON.stringify(attrs)}`);
  }
});

Deno.test("3×3 filters take F(3×3) on the maps it covers with fewer multiplications, else F(4×4)", () => {
  const tileSides: [number, number, number][] = [
    [3, 3, 3], // ResNet's and GoogLeNet's last stages: 25 against 36 multiplications.
    [6, 6, 3], // 4 tiles of 25 against 4 of 36.
    [5, 5, 3],
    [9, 10, 3], // 3 × 4 tiles of 25 (300) against 3 × 3 of 36 (324).
    [7, 5, 4], // 3 × 2 of 25 (150) against 2 × 2 of 36 (144).
    [12, 12, 4],
    [14, 14, 4], // VGG's last block at 224.
    [24, 24, 4],
    [112, 112, 4],
  ];
  for (const [height, width, outputSize] of tileSides) {
    const scheme = winogradScheme([2, height, width, 64], [3, 3, 64, 64], SAME);
    assert(scheme?.outputSize === outputSize, `${height}×${width}: F(${scheme?.outputSize})`);
  }
  assert(winogradScheme([2, 6, 6, 64], [5, 5, 64, 64], SAME)?.outputSize === 4);
});

Deno.test("Toom–Cook matrices compute the 1-D correlation exactly: Aᵀ [(G g) ⊙ (Bᵀ d)]", () => {
  const cases: [number, number, number[]][] = [
    [2, 3, [0, 1, -1]],
    [3, 3, [0, 1, -1, 2]],
    [4, 3, [0, 1, -1, 2, -2]],
    [2, 5, [0, 1, -1, 2, -2]],
    [4, 5, [0, 1, -1, 2, -2, 0.5, -0.5]],
  ];
  for (const [m, r, points] of cases) {
    const { outputTransposed, filter, inputTransposed } = toomCookMatrices(m, r, points);
    const d = Array.from({ length: m + r - 1 }, () => random() - 0.5);
    const g = Array.from({ length: r }, () => random() - 0.5);
    const dot = (row: number[], v: number[]) => row.reduce((sum, w, i) => sum + w * v[i], 0);
    const products = filter.map((row, j) => dot(row, g) * dot(inputTransposed[j], d));
    outputTransposed.forEach((row, i) => {
      const expected = g.reduce((sum, w, k) => sum + w * d[i + k], 0);
      const error = Math.abs(dot(row, products) - expected);
      assert(error < 1e-12, `F(${m}, ${r}) output ${i}: off by ${error}`);
    });
  }
});

/**
 * The three schemes, F(4×4, 3×3), F(3×3, 3×3) and F(4×4, 5×5), on sides
 * their tiles divide and sides they do not (partial tiles) and a single
 * pixel (F(3×3)), AlexNet's conv4 on 5×5 images (F(3×3)) and its conv2 on
 * 13×13.
 */
const CONVS: [number[], number[]][] = [
  [[2, 12, 12, 64], [3, 3, 64, 48]],
  [[2, 9, 10, 8], [3, 3, 8, 16]],
  [[3, 7, 5, 40], [3, 3, 40, 33]],
  [[2, 1, 1, 32], [3, 3, 32, 32]],
  [[2, 5, 5, 384], [3, 3, 384, 384]],
  [[2, 8, 8, 48], [5, 5, 48, 40]],
  [[3, 7, 6, 40], [5, 5, 40, 33]],
  [[2, 1, 1, 32], [5, 5, 32, 32]],
  [[1, 13, 13, 96], [5, 5, 96, 256]],
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
  name:
    "wasm Winograd convolutions and gradients equal the CPU backend's with each BLAS and none (≤ 1e-4)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const [xShape, filterShape] of CONVS) {
      assert(winogradScheme(xShape, filterShape, SAME));
      await setupBackend("cpu");
      const x = uniform(xShape);
      const filter = uniform(filterShape);
      const bias = uniform([filterShape[3]]);
      const dy = uniform([...xShape.slice(0, 3), filterShape[3]]);
      const expected = await Promise.all(
        convolutionAndGradients(x, filter, bias, dy).map((t) => t.data()),
      );
      await setupBackend("wasm");
      await forEachBlas(async ({ label }) => {
        const actual = await Promise.all(
          convolutionAndGradients(x, filter, bias, dy).map((t) => t.data()),
        );
        ["output", "input gradient", "filter gradient"].forEach((name, i) => {
          const error = relativeError(actual[i], expected[i]);
          assert(error <= 1e-4, `${label}, x ${xShape}, filter ${filterShape}: ${name} ${error}`);
        });
      });
      tf.dispose([x, filter, bias, dy]);
    }
    await setupBackend("cpu");
  },
});

Deno.test({
  name: "wasm Winograd in chunks of the batch (2 + 2 + 1 images) equals it in one chunk (≤ 1e-5)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await setupBackend("wasm");
    const cases = [[[5, 6, 7, 32], [3, 3, 32, 40]], [[5, 6, 6, 32], [3, 3, 32, 40]], [
      [5, 6, 7, 32],
      [5, 5, 32, 40],
    ]];
    for (const [xShape, filterShape] of cases) {
      const x = uniform(xShape);
      const filter = uniform(filterShape);
      const dy = uniform([...xShape.slice(0, 3), 40]);
      const scheme = winogradScheme(x.shape, filterShape, SAME)!;
      const backend = tf.backend();
      const run = (chunk: number) =>
        [
          winogradConv2D(backend, { scheme, x, filter, chunk }),
          winogradFilterGradient(backend, { scheme, x, dy, chunk }),
        ].map((info) => tf.engine().makeTensorFromTensorInfo(info));
      const [whole, chunked] = [
        await Promise.all(run(5).map((t) => t.data())),
        await Promise.all(run(2).map((t) => t.data())),
      ];
      ["output", "filter gradient"].forEach((name, i) => {
        const error = relativeError(chunked[i], whole[i]);
        assert(error <= 1e-5, `filter ${filterShape}: ${name} error ${error}`);
      });
    }
    await setupBackend("cpu");
  },
});
