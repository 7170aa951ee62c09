/**
 * The machine's own BLAS for the wasm backend's matrix products, where one
 * can be opened: its `sgemm` runs on the CPU's native vector units (AVX2
 * and FMA, or Apple's matrix units through Accelerate), several times the
 * rate of WebAssembly's 128-bit SIMD, and works in place on tfjs's wasm
 * heap (the heap's views are passed as buffers; nothing is copied).
 *
 * Opening a library needs Deno's FFI permission for its path; the tasks
 * grant it for Debian's OpenBLAS alone. Without the permission or the
 * library, the products stay on XNNPACK.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "./heap.ts";

/** Row-major storage, and the transpose flags, as CBLAS numbers them. */
const ROW_MAJOR = 101;
const NO_TRANSPOSE = 111;
const TRANSPOSE = 112;

/** The libraries tried, in order: Debian's OpenBLAS, then macOS's Accelerate. */
export const BLAS_LIBRARIES = [
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/System/Library/Frameworks/Accelerate.framework/Accelerate",
];

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  // OpenBLAS only: each of our threads calls it single-threaded (they already share the step).
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
} as const;

/** The operands of one product C = op(A)·op(B), row-major, on float32 views. */
export interface Gemm {
  rows: number;
  columns: number;
  inner: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  transposeA?: boolean;
  transposeB?: boolean;
  /** Add the product to C instead of writing over it. */
  accumulate?: boolean;
}

/** A BLAS the products can use. */
export interface Blas {
  /** The library's name (OpenBLAS, Accelerate), for the run's header. */
  name: string;
  path: string;
  /** C = op(A)·op(B), written over C (or added to it). */
  gemm(product: Gemm): void;
}

let opened: Blas | null | undefined;
let enabled = true;

/** Lets the products use the BLAS or not (the tests run both ways). */
export function useBlas(on: boolean): void {
  enabled = on;
}

/** The BLAS of this thread, opened on first use, or undefined where none can be (or it is off). */
export function blas(): Blas | undefined {
  if (!enabled) return undefined;
  if (opened === undefined) opened = open() ?? null;
  return opened ?? undefined;
}

function open(): Blas | undefined {
  for (const path of BLAS_LIBRARIES) {
    // Asking only where granted: elsewhere Deno would prompt on a terminal.
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    let library;
    try {
      library = Deno.dlopen(path, SYMBOLS);
    } catch {
      continue; // Not installed here.
    }
    library.symbols.openblas_set_num_threads?.(1);
    const sgemm = library.symbols.cblas_sgemm;
    return {
      name: path.includes("Accelerate") ? "Accelerate" : "OpenBLAS",
      path,
      gemm: (product) => {
        const { rows, columns, inner, a, b, c, transposeA = false, transposeB = false } = product;
        sgemm(
          ROW_MAJOR,
          transposeA ? TRANSPOSE : NO_TRANSPOSE,
          transposeB ? TRANSPOSE : NO_TRANSPOSE,
          rows,
          columns,
          inner,
          1,
          a,
          transposeA ? rows : inner,
          b,
          transposeB ? inner : columns,
          product.accumulate ? 1 : 0,
          c,
          columns,
        );
      },
    };
  }
  return undefined;
}

/**
 * Writes xᵀ·dy (x [batch, in], dy [batch, out], float32 tensors on the wasm
 * heap) into `target` [in, out], or adds it there, by the BLAS: no tensor
 * is made for the product. Returns false, doing nothing, without a BLAS.
 */
export function transposedProductInto(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  target: Float32Array,
  accumulate: boolean,
): boolean {
  const library = blas();
  if (!library || tf.getBackend() !== "wasm") return false;
  const [batch, inner] = x.shape;
  const columns = dy.shape[1];
  const [xv, dyv] = heapViews(tf.backend() as unknown as WasmHeap, [x, dy]);
  library.gemm({
    rows: inner,
    columns,
    inner: batch,
    a: xv,
    b: dyv,
    c: target,
    transposeA: true,
    accumulate,
  });
  return true;
}
