/**
 * The 1-D passes of the Toom–Cook transforms (see `toom_cook.ts`)
 * as WebAssembly SIMD functions on tfjs's wasm heap, four channels at a
 * time: each output vector is a sum of the input vectors times the matrix
 * entries, in float32 (the JavaScript passes sum in float64 and round once).
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import {
  addressOf,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  V128,
  vectorLoop,
} from "../simd_module.ts";

/**
 * A pass on heap addresses: for each row t of its matrix, the floats from
 * output t's address get Σₛ M[t][s] · the floats from input s's, over a
 * number of bytes (a multiple of 16). Its one argument lists the addresses
 * of the inputs the matrix uses (nonzero columns), then of the outputs, then
 * the byte count: one array the caller fills again for each call.
 */
export type HeapPass = (addresses: number[]) => void;

/** The input columns that `matrix` uses (those with a nonzero entry). */
export function usedColumns(matrix: number[][]): number[] {
  return matrix[0].map((_, s) => s).filter((s) => matrix.some((row) => row[s] !== 0));
}

/** The binary of `matrix`'s pass (see {@link HeapPass}), exported as `pass`. */
export function passModule(matrix: number[][]): Uint8Array<ArrayBuffer> {
  const used = usedColumns(matrix);
  const outputs = matrix.length;
  // Locals: the input addresses, the output addresses and the byte count (the
  // parameters), then the loop's offset, the input vectors and the splatted entries.
  const bytes = used.length + outputs;
  const at = bytes + 1;
  const weights = [...new Set(matrix.flat().filter((w) => w !== 0 && Math.abs(w) !== 1))];
  const input = (s: number) => at + 1 + used.indexOf(s);
  const weight = (w: number) => at + 1 + used.length + weights.indexOf(w);
  const address = (parameter: number) => addressOf(parameter, at);
  const term = (w: number, s: number, first: boolean): Instruction[] => {
    if (w === 1) return first ? [op.localGet(input(s))] : [op.localGet(input(s)), op.f32x4Add];
    if (w === -1) {
      return [op.localGet(input(s)), first ? op.f32x4Neg : op.f32x4Sub];
    }
    const product = [op.localGet(input(s)), op.localGet(weight(w)), op.f32x4Mul];
    return first ? product : [...product, op.f32x4Add];
  };
  const row = (entries: number[]): Instruction[] => {
    const terms = entries.flatMap((w, s) => w === 0 ? [] : [[w, s]]);
    if (terms.length === 0) return [op.f32Const(0), op.f32x4Splat];
    return terms.flatMap(([w, s], i) => term(w, s, i === 0));
  };
  return kernelModule([{
    name: "pass",
    params: Array(bytes + 1).fill(I32),
    locals: [I32, ...Array(used.length + weights.length).fill(V128)],
    code: [
      ...weights.flatMap((w): Instruction[] => [
        op.f32Const(w),
        op.f32x4Splat,
        op.localSet(weight(w)),
      ]),
      ...vectorLoop({
        at,
        bytes,
        body: [
          ...used.flatMap((s, k) => [...address(k), op.v128Load, op.localSet(input(s))]),
          ...matrix.flatMap((entries, t) => [
            ...address(used.length + t),
            ...row(entries),
            op.v128Store,
          ]),
        ],
      }),
    ],
  }]);
}

/** The pass of `binary` (from {@link passModule}) on `heap`'s memory, if it can be reached. */
export function heapPass(heap: WasmHeap, binary: Uint8Array<ArrayBuffer>): HeapPass | undefined {
  const pass = heapKernels(heap, binary)?.pass as ((...args: number[]) => void) | undefined;
  return pass && ((addresses) => Reflect.apply(pass, undefined, addresses));
}

/**
 * The last step of the output transform on heap addresses: `bytes` bytes
 * from `to` get those from `from` plus the bias (`channelBytes` long,
 * repeated), through a ReLU if asked.
 */
export type HeapEpilogue = (
  to: number,
  from: number,
  bias: number,
  channelBytes: number,
  bytes: number,
  relu: boolean,
) => void;

/**
 * Bias and ReLU as `max(x + b, 0)` in float32: the same values as the
 * JavaScript `(v + |v|) / 2` of the float64 sum rounded once (a float32 sum
 * rounds alike; both give +0 for −0 and for negative values).
 */
function epilogue(name: string, relu: boolean) {
  const [to, from, bias, channelBytes, bytes, at, k, zero] = [0, 1, 2, 3, 4, 5, 6, 7];
  return {
    name,
    params: [I32, I32, I32, I32, I32],
    locals: [I32, I32, V128],
    code: vectorLoop({
      at,
      bytes,
      body: [
        ...addressOf(to, at),
        ...addressOf(from, at),
        op.v128Load,
        ...addressOf(bias, k),
        op.v128Load,
        op.f32x4Add,
        ...(relu ? [op.localGet(zero), op.f32x4Max] : []),
        op.v128Store,
        // k + 16, or 0 at the end of the channels.
        op.i32Const(0),
        op.localGet(k),
        op.i32Const(16),
        op.i32Add,
        op.localTee(k),
        op.localGet(k),
        op.localGet(channelBytes),
        op.i32Eq,
        op.select,
        op.localSet(k),
      ],
    }),
  };
}

const EPILOGUE_MODULE = kernelModule([epilogue("linear", false), epilogue("relu", true)]);

/** The output transform's last step on `heap`'s memory, if it can be reached. */
export function heapEpilogue(heap: WasmHeap): HeapEpilogue | undefined {
  const kernels = heapKernels(heap, EPILOGUE_MODULE);
  if (kernels === undefined) return undefined;
  const [linear, relu] = [kernels.linear, kernels.relu] as ((...args: number[]) => void)[];
  return (to, from, bias, channelBytes, bytes, withRelu) =>
    (withRelu ? relu : linear)(to, from, bias, channelBytes, bytes);
}
