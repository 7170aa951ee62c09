import * as tf from "@tensorflow/tfjs";
import { overrideKernel } from "./kernel_override.ts";

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/** tfjs's own wasm matrix product, used here without transposes only (its fast XNNPACK path). */
let plainMatMul: tf.KernelFunc | undefined;

/**
 * Relative cost of XNNPACK packing its right operand, per element, against
 * one element of an explicit transpose (measured on the dense layers of
 * AlexNet: packing a 6400×4096 operand costs about as much as the product
 * of a batch of 128 with it).
 */
const PACKING_COST = 4;

function transposeKernel(): tf.KernelFunc {
  return tf.getKernel("Transpose", "wasm")!.kernelFunc;
}

/** Swaps the last two axes of `x` with the wasm backend's own transpose. */
function swapLastAxes(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  const perm = x.shape.map((_, axis) => axis);
  perm.splice(-2, 2, perm.length - 1, perm.length - 2);
  return transposeKernel()({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

function product(a: tf.TensorInfo, b: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  return plainMatMul!({
    inputs: { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
}

/**
 * The matrix product on the wasm backend: tfjs's kernel is fast (XNNPACK)
 * only without transposes and packs its right operand on every call, so
 * this computes A'·B' either directly or as (B'ᵀ·A'ᵀ)ᵀ, with explicit
 * transposes, whichever moves fewer elements. The backward pass of a
 * dense layer (xᵀ·dy and dy·Wᵀ) runs 10–20 times faster than with tfjs's
 * transposing loop.
 */
function batchMatMulWasm({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const [aRows, aColumns] = a.shape.slice(-2);
  const [bRows, bColumns] = b.shape.slice(-2);
  const [m, k] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const n = transposeB ? bRows : bColumns;
  const directCost = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACKING_COST * k * n;
  const swappedCost = (transposeA ? 0 : m * k) + (transposeB ? 0 : k * n) +
    PACKING_COST * m * k + m * n;
  const temporaries: tf.TensorInfo[] = [];
  const oriented = (x: tf.TensorInfo, swap: boolean) => {
    if (!swap) return x;
    const swapped = swapLastAxes(x, backend);
    temporaries.push(swapped);
    return swapped;
  };
  let result: tf.TensorInfo;
  if (directCost <= swappedCost) {
    result = product(oriented(a, transposeA), oriented(b, transposeB), backend);
  } else {
    const transposed = product(oriented(b, !transposeB), oriented(a, !transposeA), backend);
    temporaries.push(transposed);
    result = swapLastAxes(transposed, backend);
  }
  for (const temporary of temporaries) backend.disposeData(temporary.dataId);
  return result;
}

/** Replaces the wasm backend's matrix product with the transpose-aware one above (once). */
export function registerWasmMatMul(): void {
  if (plainMatMul !== undefined) return;
  overrideKernel("BatchMatMul", "wasm", (original) => {
    plainMatMul = original;
    return batchMatMulWasm as unknown as tf.KernelFunc;
  });
}
