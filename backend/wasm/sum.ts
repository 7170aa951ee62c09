import * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import { heapFloats, type WasmHeap } from "./heap.ts";
import {
  addressOf,
  heapKernels,
  I32,
  kernelModule,
  op,
  vectorLoop,
  vectorPeriod,
} from "./simd_module.ts";
import { WasmWorkspace } from "./workspace.ts";

interface SumArgs {
  inputs: { x: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

/** Locals of the SIMD kernel: its parameters (heap offsets, a row's bytes, the rows), the loop's offset. */
const [X, TOTALS, ROW_BYTES, ROWS, AT] = [0, 1, 2, 3, 4];

/** Rows added in float32 before their sums join the float64 totals (bounds the rounding). */
const BLOCK_ROWS = 64;

/** Adds `ROWS` rows of `ROW_BYTES` from `X` on into the float32 totals at `TOTALS`, four at a time. */
const ROW_SUM_MODULE = kernelModule([{
  name: "addRows",
  params: [I32, I32, I32, I32],
  locals: [I32],
  code: [
    op.block,
    op.loop,
    op.localGet(ROWS),
    op.i32Eqz,
    op.brIf(1),
    ...vectorLoop({
      at: AT,
      bytes: ROW_BYTES,
      body: [
        ...addressOf(TOTALS, AT),
        ...addressOf(TOTALS, AT),
        op.v128Load,
        ...addressOf(X, AT),
        op.v128Load,
        op.f32x4Add,
        op.v128Store,
      ],
    }),
    op.i32Const(0),
    op.localSet(AT),
    ...addressOf(X, ROW_BYTES),
    op.localSet(X),
    op.localGet(ROWS),
    op.i32Const(1),
    op.i32Sub,
    op.localSet(ROWS),
    op.br(0),
    op.end,
    op.end,
  ],
}]);

type AddRowsKernel = (x: number, totals: number, rowBytes: number, rows: number) => void;

/**
 * The sum over the leading axes of a float32 tensor (a bias gradient: dy
 * summed over batch, height and width) in one pass over the wasm heap:
 * blocks of rows added four columns at a time in WebAssembly SIMD, each
 * block's sums then added into float64 totals. Columns not in fours are
 * taken a period of lcm(columns, 4) at a time (LeNet's 6 channels: two
 * pixels), the period's sums folded onto the columns. tfjs's wasm kernel
 * first transposes the tensor so that the summed axes come last, a copy of
 * it. Other reductions keep tfjs's kernel, `original`.
 */
function sumWasm(args: SumArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { x }, backend, attrs: { axis, keepDims } } = args;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length &&
    axes.every((a, i) => a === i);
  if (x.dtype !== "float32" || !leading) {
    return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const kept = x.shape.slice(axes.length);
  const columns = kept.reduce((a, b) => a * b, 1);
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const heap = backend as unknown as WasmHeap;
  const shape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = heap.makeOutput(shape, "float32");
  const totals = simdColumnSums(backend, x, { rows, columns }) ??
    javaScriptColumnSums(heapFloats(heap, x), columns);
  heapFloats(heap, out).set(totals);
  return out;
}

/** Each column's float64 sum of `values` [rows, columns]. */
function javaScriptColumnSums(values: Float32Array, columns: number): Float64Array {
  const totals = new Float64Array(columns);
  for (let at = 0; at < values.length;) {
    for (let column = 0; column < columns; column++, at++) totals[column] += values[at];
  }
  return totals;
}

/**
 * Each column's sum of `x` [rows, columns] by the SIMD kernel, over rows
 * of a period of floats, or undefined where the values do not fill whole
 * periods or the heap is out of reach.
 */
function simdColumnSums(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  { rows, columns }: { rows: number; columns: number },
): Float64Array | undefined {
  const period = vectorPeriod(columns);
  const work = new WasmWorkspace(backend);
  const kernel = heapKernels(work.heap, ROW_SUM_MODULE)?.addRows as AddRowsKernel | undefined;
  if (!kernel || (rows * columns) % period !== 0) return undefined;
  const periods = (rows * columns) / period;
  const [values, blockSums] = work.views([x, work.temporary([period])]);
  const totals = new Float64Array(columns);
  for (let row = 0; row < periods; row += BLOCK_ROWS) {
    blockSums.fill(0);
    const at = values.byteOffset + 4 * row * period;
    kernel(at, blockSums.byteOffset, 4 * period, Math.min(BLOCK_ROWS, periods - row));
    for (let p = 0; p < period; p++) totals[p % columns] += blockSums[p];
  }
  work.release();
  return totals;
}

/** Replaces the wasm backend's sum with the leading-axes pass above where it applies (once). */
export const registerWasmSum: () => void = once(() =>
  overrideKernel(
    "Sum",
    "wasm",
    (original) => (args) => sumWasm(args as unknown as SumArgs, original),
  )
);
