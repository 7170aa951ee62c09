import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import { blas } from "./blas.ts";
import { transposeInto } from "./layout/transpose.ts";
import { WasmWorkspace } from "./workspace.ts";

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/**
 * Cost of XNNPACK packing the right operand of a product, per element,
 * against one element of `transposeInto`, as measured on AlexNet's dense
 * layers.
 */
const PACKING_COST = 5;

/** Matrices in a tensor of shape [...batch, rows, columns]. */
function batchOf(x: tf.TensorInfo): number {
  return x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
}

/** A temporary holding `x` with its last two axes swapped, each matrix transposed in JavaScript. */
function swapLastAxes(x: tf.TensorInfo, space: WasmWorkspace): tf.TensorInfo {
  const [rows, columns] = x.shape.slice(-2);
  const swapped = space.temporary([...x.shape.slice(0, -2), columns, rows]);
  const [from, to] = space.views([x, swapped]);
  for (let at = 0; at < from.length; at += rows * columns) {
    transposeInto(from.subarray(at), to.subarray(at), { rows, columns });
  }
  return swapped;
}

/**
 * a [..., m, k] · b [..., k, n] without transposes: XNNPACK's 1×1
 * convolution for single matrices (faster than its matrix product on
 * AlexNet's long operands), tfjs's kernel `plain` for batches (used here
 * without transposes only: its fast XNNPACK path).
 */
function product(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  space: WasmWorkspace,
  plain: tf.KernelFunc,
): tf.TensorInfo {
  if (batchOf(a) > 1 || batchOf(b) > 1) {
    const result = plain({
      inputs: { a, b },
      backend: space.backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    space.adopt(result);
    return result;
  }
  const [m] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const outer = (a.shape.length >= b.shape.length ? a : b).shape.slice(0, -2);
  return { ...space.product(a, b, m, n), shape: [...outer, m, n] };
}

/**
 * The matrix product on the wasm backend: tfjs's kernel is fast (XNNPACK)
 * only without transposes and packs its right operand on every call, so
 * this computes A'·B' either directly or as (B'ᵀ·A'ᵀ)ᵀ, with explicit
 * transposes, whichever moves fewer elements. A dense layer's forward
 * pass x·W = (Wᵀ·xᵀ)ᵀ transposes its weights once (cheaper than packing
 * them); its backward pass (dy·Wᵀ = (W·dyᵀ)ᵀ and xᵀ·dy) transposes only
 * the batch's small matrices. `plain` is tfjs's own kernel.
 */
function batchMatMulWasm(
  { inputs, backend, attrs }: MatMulArgs,
  plain: tf.KernelFunc,
): tf.TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const [aRows, aColumns] = a.shape.slice(-2);
  const [bRows, bColumns] = b.shape.slice(-2);
  const [m, k] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const n = transposeB ? bRows : bColumns;
  const library = blas();
  if (library && batchOf(a) === 1 && batchOf(b) === 1) {
    // The BLAS takes the transposes as flags: nothing is moved.
    const space = new WasmWorkspace(backend);
    const outer = (a.shape.length >= b.shape.length ? a : b).shape.slice(0, -2);
    const c = space.temporary([...outer, m, n]);
    const [av, bv, cv] = space.views([a, b, c]);
    library.gemm({ rows: m, columns: n, inner: k, a: av, b: bv, c: cv, transposeA, transposeB });
    space.release(c);
    return c;
  }
  const directCost = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACKING_COST * k * n;
  const swappedCost = (transposeA ? 0 : m * k) + (transposeB ? 0 : k * n) +
    PACKING_COST * m * k + m * n;
  const space = new WasmWorkspace(backend);
  const oriented = (x: tf.TensorInfo, swap: boolean) => swap ? swapLastAxes(x, space) : x;
  const result = directCost <= swappedCost
    ? product(oriented(a, transposeA), oriented(b, transposeB), space, plain)
    : swapLastAxes(
      product(oriented(b, !transposeB), oriented(a, !transposeA), space, plain),
      space,
    );
  space.release(result);
  return result;
}

/** Replaces the wasm backend's matrix product with the transpose-aware one above (once). */
export const registerWasmMatMul: () => void = once(() =>
  overrideKernel(
    "BatchMatMul",
    "wasm",
    (original) => (args) => batchMatMulWasm(args as unknown as MatMulArgs, original),
  )
);
