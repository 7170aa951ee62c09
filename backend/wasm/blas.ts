/**
 * The machine's own BLAS for the wasm backend's matrix products, where one
 * can be opened: its `sgemm` runs on the CPU's native vector units (AVX2
 * and FMA, or Apple's matrix units through Accelerate), several times the
 * rate of WebAssembly's 128-bit SIMD, and works in place on tfjs's wasm
 * heap (the heap's views are passed as buffers; nothing is copied).
 *
 * Each thread opens its own (the gradient workers too, told which by the
 * main thread): `auto` searches the places of `blas/libraries.ts` in
 * order, `none` keeps the products on XNNPACK, and a path opens that
 * library or fails with a `BlasError` that says why. Opening a library
 * needs Deno's FFI permission for its path; the tasks grant it for the
 * places searched.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "./heap.ts";
import { candidateLibraries } from "./blas/libraries.ts";
import {
  absoluteBlasPath,
  BlasError,
  type BlasHandle,
  blasName,
  openBlasLibrary,
} from "./blas/open.ts";

export { BlasError } from "./blas/open.ts";

/** Row-major storage, and the transpose flags, as CBLAS numbers them. */
const ROW_MAJOR = 101;
const NO_TRANSPOSE = 111;
const TRANSPOSE = 112;

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
  /** The library's name: OpenBLAS, BLIS, Accelerate, or its file's name. */
  name: string;
  /** Where it was opened from (absolute). */
  path: string;
  /** How it was chosen: found by `auto`'s search, or named by its path. */
  found: "auto" | "named";
  /** C = op(A)·op(B), written over C (or added to it). */
  gemm(product: Gemm): void;
}

/** Which BLAS to use: search the usual places, none (XNNPACK), or a library's path. */
export type BlasChoice = "auto" | "none" | (string & Record<never, never>);

/**
 * This thread's BLAS: the choice, what it opened (null: nothing), the
 * tests' switch, and the libraries opened so far by path (choosing one
 * again, as the tests do, reuses its handle).
 */
const thisThread: {
  choice: BlasChoice;
  library?: Blas | null;
  enabled: boolean;
  handles: Map<string, BlasHandle>;
} = { choice: "auto", enabled: true, handles: new Map() };

/**
 * Chooses this thread's BLAS and opens it now: for a path, a `BlasError`
 * says why it cannot serve (never a silent fallback). Returns the library,
 * or undefined for `none` or where `auto` finds none.
 */
export function chooseBlas(choice: BlasChoice): Blas | undefined {
  const library = choice === "none"
    ? undefined
    : choice === "auto"
    ? findBlas()
    : open(absoluteBlasPath(choice), "named");
  thisThread.choice = choice;
  thisThread.library = library ?? null;
  return library;
}

/** Lets the products use the BLAS or not (the tests run both ways). */
export function useBlas(on: boolean): void {
  thisThread.enabled = on;
}

/** The BLAS of this thread (chosen by `auto` on first use), or undefined where none is (or it is off). */
export function blas(): Blas | undefined {
  if (!thisThread.enabled) return undefined;
  if (thisThread.library === undefined) chooseBlas(thisThread.choice);
  return thisThread.library ?? undefined;
}

/** The choice that makes another thread open this thread's BLAS: its path, or `none`. */
export function workerBlasChoice(): BlasChoice {
  return blas()?.path ?? "none";
}

/** What computes the matrix products and where it came from, for the run's header. */
export function describeBlas(): string {
  const library = blas();
  if (library) {
    const how = library.found === "auto" ? "found by --blas auto" : "named by --blas";
    return `matrix products on ${library.name}, ${library.path}, ${how}`;
  }
  if (!thisThread.enabled || thisThread.choice === "none") {
    return "matrix products on XNNPACK: --blas none";
  }
  return "matrix products on XNNPACK: --blas auto found no BLAS, see docs/troubleshooting.md";
}

/** The first library of `auto`'s search that opens here. */
function findBlas(): Blas | undefined {
  for (const { path } of candidateLibraries()) {
    try {
      return open(path, "auto");
    } catch (error) {
      // Not granted, not installed or not a CBLAS: the next place, as documented.
      if (!(error instanceof BlasError)) throw error;
    }
  }
  return undefined;
}

/** The library at `path` as this thread's BLAS, opened once per thread. */
function open(path: string, found: Blas["found"]): Blas {
  const handle = thisThread.handles.get(path) ?? openBlasLibrary(path);
  thisThread.handles.set(path, handle);
  return wrap(handle, path, found);
}

/** The BLAS of an opened library: `gemm` in the row-major terms of {@link Gemm}. */
function wrap(handle: BlasHandle, path: string, found: Blas["found"]): Blas {
  const sgemm = handle.symbols.cblas_sgemm!;
  return {
    name: blasName(handle, path),
    path,
    found,
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
