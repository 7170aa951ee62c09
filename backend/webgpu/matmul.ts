/**
 * The WebGPU backend's matrix product for one pair of matrices (a dense
 * layer's forward pass and both its gradients) as a generated tiled
 * product. tfjs reads a transposed right-hand side one float at a time,
 * which is exactly the dense layers' input gradient dy·Wᵀ; here every
 * operand is read four floats at a time along whichever axis is
 * contiguous. Batched products (the resize's) keep tfjs's kernel.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import { webgpuKernelOptions } from "./tuning/kernel_options.ts";
import { denseOperand } from "./products/operands.ts";
import { runProduct } from "./products/run.ts";
import { storedAsFloat32, type WebGPURunner } from "./program.ts";
import type { ProductSpec } from "./products/generator.ts";

/** The sizes of a product of one pair of matrices, or undefined for a batched one. */
function matrixSizes(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { rows: number; columns: number; terms: number } | undefined {
  const batch = (shape: number[]) => shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (batch(a.shape) !== 1 || batch(b.shape) !== 1 || a.shape.length > 3 || b.shape.length > 3) {
    return undefined;
  }
  const [aRows, aColumns] = a.shape.slice(-2);
  const [bRows, bColumns] = b.shape.slice(-2);
  return {
    rows: transposeA ? aColumns : aRows,
    terms: transposeA ? aRows : aColumns,
    columns: transposeB ? bRows : bColumns,
  };
}

/** C = op(A)·op(B) as a product; A and B are read along whichever axis is contiguous. */
export function matmulSpec(
  sizes: { rows: number; columns: number; terms: number },
  transposeA: boolean,
  transposeB: boolean,
  epilogue: { bias: boolean; activation?: "relu" },
): ProductSpec {
  const { rows, columns, terms } = sizes;
  return {
    ...sizes,
    a: denseOperand({
      variable: "A",
      terms,
      outer: rows,
      contiguous: transposeA ? "outer" : "reduction",
    }),
    b: denseOperand({
      variable: "B",
      terms,
      outer: columns,
      contiguous: transposeB ? "reduction" : "outer",
    }),
    ...epilogue,
    key: `matmul_${rows}_${columns}_${terms}_${transposeA}_${transposeB}`,
  };
}

/** Replaces tfjs-backend-webgpu's `BatchMatMul` and `_FusedMatMul` for single products (once). */
export const registerWebGPUMatMul: () => void = once(() => {
  for (const name of ["BatchMatMul", "_FusedMatMul"]) {
    overrideKernel(name, "webgpu", (original) => (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<
        string,
        tf.TensorInfo | undefined
      >;
      const attrs = args.attrs as {
        transposeA?: boolean;
        transposeB?: boolean;
        activation?: string;
      };
      const transposeA = attrs.transposeA ?? false;
      const transposeB = attrs.transposeB ?? false;
      const activation = attrs.activation ?? "linear";
      const backend = args.backend as unknown as WebGPURunner;
      const inputs = bias ? [a!, b!, bias] : [a!, b!];
      const sizes = matrixSizes(a!, b!, transposeA, transposeB);
      const plain = preluActivationWeights === undefined && storedAsFloat32(backend, inputs) &&
        (activation === "linear" || activation === "relu") &&
        (bias === undefined || bias.shape.length === 1);
      if (!sizes || !plain || webgpuKernelOptions().matmul !== "product") return original(args);
      const spec = matmulSpec(sizes, transposeA, transposeB, {
        bias: bias !== undefined,
        activation: activation === "relu" ? "relu" : undefined,
      });
      const rank = Math.max(a!.shape.length, b!.shape.length);
      const outShape = [...(rank === 3 ? [1] : []), sizes.rows, sizes.columns];
      return runProduct(backend, spec, inputs, outShape);
    });
  }
});
