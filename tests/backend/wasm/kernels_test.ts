import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { setupBackend } from "../../../backend/setup.ts";
import type { WasmHeap } from "../../../backend/wasm/heap.ts";
import { forEachBlas } from "../../support/blas_choices.ts";

const random = seededRandom(12);

const uniform = (shape: number[]) => uniformTensor(shape, random);

type Conv = {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "same" | "valid" | number;
};

/**
 * AlexNet's five convolutions (on smaller images: the CPU backend is slow;
 * conv2, conv3 and conv4 by Winograd's algorithm), LeNet's two, one whose im2col
 * matrix is built in two chunks (two examples, then one), ResNet's strided ones (3×3
 * padded by 1, the 1×1 shortcut, the 7×7 stem padded by 3), and odd ones (stride 2 and
 * 3, channels not a multiple of 4, asymmetric "same" padding), and VGG's first layer and a
 * strided one with one input channel (the direct filter gradient).
 */
const CONVS: Conv[] = [
  { x: [17, 35, 35, 1], filter: [11, 11, 1, 96], stride: 4, pad: 1 },
  { x: [1, 7, 7, 96], filter: [5, 5, 96, 256], stride: 1, pad: 2 },
  { x: [1, 5, 5, 256], filter: [3, 3, 256, 384], stride: 1, pad: 1 },
  { x: [1, 5, 5, 384], filter: [3, 3, 384, 256], stride: 1, pad: 1 },
  { x: [3, 28, 28, 1], filter: [5, 5, 1, 6], stride: 1, pad: "same" },
  { x: [3, 45, 45, 16], filter: [5, 5, 16, 64], stride: 1, pad: 2 },
  { x: [3, 14, 14, 6], filter: [5, 5, 6, 16], stride: 1, pad: "valid" },
  { x: [3, 10, 9, 5], filter: [3, 2, 5, 7], stride: 2, pad: "same" },
  { x: [3, 10, 9, 5], filter: [4, 2, 5, 7], stride: 1, pad: "same" },
  { x: [2, 11, 13, 3], filter: [3, 3, 3, 4], stride: 3, pad: "valid" },
  { x: [3, 12, 12, 64], filter: [3, 3, 64, 128], stride: 2, pad: 1 },
  { x: [3, 13, 13, 64], filter: [1, 1, 64, 128], stride: 2, pad: "valid" },
  { x: [2, 32, 32, 1], filter: [7, 7, 1, 64], stride: 2, pad: 3 },
  { x: [3, 30, 30, 1], filter: [3, 3, 1, 8], stride: 1, pad: 1 },
  { x: [2, 15, 14, 1], filter: [3, 2, 1, 4], stride: 2, pad: "same" },
];

/** The gradients of Σ conv(x, filter) · dy: the two backward kernels' outputs. */
function gradients(c: Conv, x: tf.Tensor, filter: tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  return tf.grads((xs: tf.Tensor, fs: tf.Tensor) =>
    tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, c.stride, c.pad).mul(dy).sum()
  )([x, filter]);
}

Deno.test({
  name:
    "wasm convolution gradients equal the CPU backend's with each BLAS installed and none (relative error ≤ 1e-4)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const c of CONVS) {
      await setupBackend("cpu");
      const x = uniform(c.x);
      const filter = uniform(c.filter);
      const dy = uniform(
        tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, c.stride, c.pad).shape,
      );
      const expected = await Promise.all(gradients(c, x, filter, dy).map((g) => g.data()));
      await setupBackend("wasm");
      await forEachBlas(async ({ label }) => {
        const actual = await Promise.all(gradients(c, x, filter, dy).map((g) => g.data()));
        ["input", "filter"].forEach((name, i) => {
          const error = relativeError(actual[i], expected[i]);
          assert(
            error <= 1e-4,
            `${label}, x ${c.x}, filter ${c.filter}: ${name} gradient ${error}`,
          );
        });
      });
      tf.dispose([x, filter, dy]);
    }
    await setupBackend("cpu");
  },
});

/** Both dense layers of AlexNet (narrowed) forward and backward, batched and broadcast products. */
const PRODUCTS: [number[], number[], boolean, boolean][] = [
  [[8, 6400], [6400, 512], false, false],
  [[8, 6400], [8, 512], true, false],
  [[8, 512], [6400, 512], false, true],
  [[7, 5], [3, 7], true, true],
  [[2, 7, 5], [2, 3, 7], true, true],
  [[2, 5, 7], [7, 3], false, false],
  [[1, 9, 4], [2, 9, 6], true, false],
  [[1, 9, 4], [9, 6], true, false],
];

Deno.test({
  name:
    "wasm matMul with every transpose combination equals the CPU backend's with each BLAS and none",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const [aShape, bShape, transposeA, transposeB] of PRODUCTS) {
      await setupBackend("cpu");
      const a = uniform(aShape);
      const b = uniform(bShape);
      const expected = tf.matMul(a, b, transposeA, transposeB);
      const expectedValues = await expected.data();
      await setupBackend("wasm");
      await forEachBlas(async (run) => {
        const actual = tf.matMul(a, b, transposeA, transposeB);
        const error = relativeError(await actual.data(), expectedValues);
        const label = `${run.label}, ${aShape}${transposeA ? "ᵀ" : ""}·${bShape}${
          transposeB ? "ᵀ" : ""
        }`;
        assert(actual.shape.join() === expected.shape.join(), `${label}: shape ${actual.shape}`);
        assert(error <= 1e-5, `${label}: relative error ${error}`);
        actual.dispose();
      });
      tf.dispose([a, b, expected]);
    }
    await setupBackend("cpu");
  },
});

type Pool = {
  x: [number, number, number, number];
  size: number | [number, number];
  stride: number;
  pad: "same" | "valid" | number;
};

/**
 * AlexNet's pooling (3, stride 2) at 67 and LeNet's (2, stride 2, 6
 * channels), plus tiling, padded, overlapping and non-square ones.
 */
const POOLS: Pool[] = [
  { x: [3, 15, 15, 96], size: 3, stride: 2, pad: "valid" },
  { x: [2, 28, 28, 6], size: 2, stride: 2, pad: "valid" },
  // Tiling windows over channels not in fours: sides they divide and not, and too few for SIMD.
  { x: [2, 9, 11, 5], size: 2, stride: 2, pad: "valid" },
  { x: [2, 8, 6, 3], size: 2, stride: 2, pad: "valid" },
  { x: [2, 9, 7, 5], size: 3, stride: 1, pad: "same" },
  { x: [2, 10, 11, 3], size: [2, 3], stride: 2, pad: "same" },
  // Padded windows over channels in fours (Inception's, the stems' and GoogLeNet's pools).
  { x: [2, 6, 6, 8], size: 3, stride: 1, pad: "same" },
  { x: [2, 12, 12, 8], size: 3, stride: 2, pad: 1 },
  { x: [2, 11, 12, 4], size: 3, stride: 2, pad: 1 },
  { x: [2, 10, 11, 4], size: [2, 3], stride: 2, pad: "same" },
];

/**
 * Holds the wasm backend's gradient of `kind` pooling over each of `pools`
 * to the CPU backend's; `input` makes each pool's x on the CPU backend.
 */
async function checkPoolGradients(
  kind: "max" | "average",
  pools: Pool[],
  input: (p: Pool) => tf.Tensor,
): Promise<void> {
  for (const p of pools) {
    await setupBackend("cpu");
    const x = input(p);
    const pool = kind === "max" ? tf.maxPool : tf.avgPool;
    const pooled = (xs: tf.Tensor) => pool(xs as tf.Tensor4D, p.size, p.stride, p.pad);
    const dy = uniform(pooled(x).shape);
    const gradient = () => tf.grad((xs: tf.Tensor) => pooled(xs).mul(dy).sum())(x);
    const expected = await gradient().data();
    await setupBackend("wasm");
    const error = relativeError(await gradient().data(), expected);
    assert(error <= 1e-6, `x ${p.x}, pool ${p.size}/${p.stride} ${p.pad}: relative error ${error}`);
    tf.dispose([x, dy]);
  }
  await setupBackend("cpu");
}

Deno.test({
  name: "wasm max-pool gradient equals the CPU backend's, ties included (first largest wins)",
  sanitizeOps: false,
  sanitizeResources: false,
  // Few distinct values after a ReLU, as in a network: most windows hold ties.
  fn: () =>
    checkPoolGradients("max", POOLS, (p) => tf.tidy(() => uniform(p.x).mul(3).round().relu())),
});

/**
 * Average pools: windows that tile the input (LeNet's and DenseNet's 2×2,
 * NiN's global 5×5, a side the window does not divide; by SIMD, and over
 * fewer than four channels in JavaScript) on this project's kernel, and
 * an overlapping and a padded one left to tfjs's.
 */
const AVERAGE_POOLS: Pool[] = [
  { x: [3, 28, 28, 6], size: 2, stride: 2, pad: "valid" },
  { x: [2, 10, 10, 16], size: 2, stride: 2, pad: "valid" },
  { x: [2, 5, 5, 10], size: 5, stride: 5, pad: "valid" },
  { x: [2, 7, 9, 4], size: 2, stride: 2, pad: "valid" },
  { x: [2, 6, 6, 3], size: 2, stride: 2, pad: "valid" },
  { x: [2, 8, 8, 4], size: 3, stride: 2, pad: "valid" },
  { x: [2, 7, 7, 4], size: 2, stride: 2, pad: "same" },
];

Deno.test({
  name: "wasm average-pool gradient equals the CPU backend's (relative error ≤ 1e-6)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => checkPoolGradients("average", AVERAGE_POOLS, (p) => uniform(p.x)),
});

/** Bias gradients (leading axes), with kept dimensions, and reductions left to tfjs's kernel. */
const SUMS: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
  { shape: [5, 7, 7, 96], axis: [0, 1, 2], keepDims: false },
  { shape: [64, 13, 13, 12], axis: [0, 1, 2], keepDims: false },
  { shape: [128, 10], axis: [0], keepDims: false },
  { shape: [3, 4, 6], axis: [1, 0], keepDims: true },
  { shape: [3, 4, 6], axis: [1], keepDims: false },
  { shape: [3, 4, 6], axis: [0, 1, 2], keepDims: false },
  // LeNet's bias gradients: 6 channels two pixels a period, then an odd count of pixels.
  { shape: [16, 28, 28, 6], axis: [0, 1, 2], keepDims: false },
  { shape: [3, 5, 6], axis: [0, 1], keepDims: false },
];

Deno.test({
  name: "wasm sum equals the CPU backend's (relative error ≤ 1e-6)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const { shape, axis, keepDims } of SUMS) {
      await setupBackend("cpu");
      const x = uniform(shape);
      const expected = tf.sum(x, axis, keepDims);
      const expectedValues = await expected.data();
      await setupBackend("wasm");
      const actual = tf.sum(x, axis, keepDims);
      const label = `sum of ${shape} over ${axis}${keepDims ? ", dimensions kept" : ""}`;
      assert(actual.shape.join() === expected.shape.join(), `${label}: shape ${actual.shape}`);
      const error = relativeError(await actual.data(), expectedValues);
      assert(error <= 1e-6, `${label}: relative error ${error}`);
      tf.dispose([x, expected, actual]);
    }
    await setupBackend("cpu");
  },
});

Deno.test({
  name: "wasm clone shares its input's memory, and each outlives the other's disposal",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await setupBackend("wasm");
    const heap = tf.backend() as unknown as WasmHeap;
    const x = tf.tensor1d([1, -2, 3.5]);
    const clone = x.clone();
    assert(clone.dataId === x.dataId, "the clone has memory of its own");
    assert(heap.refCount(x.dataId) === 2, `reference count ${heap.refCount(x.dataId)}, not 2`);
    x.dispose();
    const values = Array.from(await clone.data());
    assert(values.join() === "1,-2,3.5", `clone after disposing its input: ${values}`);
    clone.dispose();
    assert(heap.refCount(x.dataId) === 0, "memory still held after disposing both");
    await setupBackend("cpu");
  },
});

/**
 * Splits along the channels (a concatenation's gradient), as sizes or a
 * count, parts in fours of floats (the SIMD copy, from an unaligned offset
 * too) and not, and along another axis.
 */
const SPLITS: { shape: number[]; sizes: number | number[]; axis: number }[] = [
  { shape: [4, 6, 6, 96], sizes: [64, 32], axis: 3 },
  { shape: [2, 3, 5, 7], sizes: [2, -1, 3], axis: -1 },
  { shape: [2, 3, 5, 11], sizes: [3, 8], axis: 3 },
  { shape: [3, 4, 12], sizes: 3, axis: 2 },
  { shape: [4, 6, 6, 8], sizes: [1, 3], axis: 0 },
];

Deno.test({
  name: "wasm split along channels equals the CPU backend's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const { shape, sizes, axis } of SPLITS) {
      await setupBackend("cpu");
      const x = uniform(shape);
      const expected = await Promise.all(tf.split(x, sizes, axis).map((part) => part.data()));
      await setupBackend("wasm");
      const actual = await Promise.all(tf.split(x, sizes, axis).map((part) => part.data()));
      assert(actual.length === expected.length, `${actual.length} parts, not ${expected.length}`);
      actual.forEach((values, i) =>
        assert(
          values.every((v, j) => v === expected[i][j]),
          `[${shape}] split ${sizes} on ${axis}: part ${i} differs`,
        )
      );
      x.dispose();
    }
    await setupBackend("cpu");
  },
});
