/**
 * The average-pool gradient on the wasm backend for windows that tile the
 * input (stride equal to the window, no padding: LeNet's and DenseNet's
 * 2×2 pools, NiN's global one): each output gradient, divided by the
 * window's size, is written to its window's inputs in one pass over the
 * heap. With four channels or more, the first row of each row of windows
 * by a generated WebAssembly SIMD kernel, copied to the window's other
 * rows. tfjs's wasm kernel loops over every window position of every input
 * and takes several times as long. Overlapping or padded windows, and
 * other types than float32, keep tfjs's kernel.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { heapFloats, type WasmHeap } from "../heap.ts";
import {
  advance,
  cachedModule,
  chunkOffsets,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  op,
  V128,
} from "../simd_module.ts";
import { poolInfo, tiles } from "./pool_info.ts";

interface AvgPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

function avgPoolGradWasm(args: AvgPoolGradArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  const info = poolInfo(input, attrs);
  if (input.dtype !== "float32" || dy.dtype !== "float32" || !tiles(info)) {
    return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const heap = backend as unknown as WasmHeap;
  const gradient = heap.makeOutput(input.shape, "float32");
  const [upstream, dx] = [dy, gradient].map((t) => heapFloats(heap, t));
  spreadOverWindows(info, upstream, dx, heap);
  return gradient;
}

/** `row(from, to, windows)`: the first row of `windows` windows from `to` on, from dy at `from`. */
type SpreadKernel = (from: number, to: number, windows: number) => void;

const [FROM, TO, WINDOWS, SCALE] = [0, 1, 2, 3];

/**
 * The row kernel for `channels` (at least 4) and windows `filterWidth`
 * wide: each pixel's gradient times `scale`, written `filterWidth` times
 * side by side, four floats at a time (the last four overlapping where the
 * channels are not in fours).
 */
function spreadKernel(
  heap: WasmHeap,
  geometry: { channels: number; filterWidth: number; scale: number },
): SpreadKernel | undefined {
  const { channels, filterWidth, scale } = geometry;
  const writes: Instruction[] = [];
  for (let kw = 0; kw < filterWidth; kw++) {
    for (const offset of chunkOffsets(channels)) {
      writes.push(
        op.localGet(TO),
        op.localGet(FROM),
        op.v128LoadOffset(offset),
        op.localGet(SCALE),
        op.f32x4Mul,
        op.v128StoreOffset(4 * kw * channels + offset),
      );
    }
  }
  const binary = cachedModule(`avg-pool-gradient:${JSON.stringify(geometry)}`, () => [{
    name: "row",
    params: [I32, I32, I32],
    locals: [V128],
    code: [
      ...[op.f32Const(scale), op.f32x4Splat, op.localSet(SCALE)],
      ...countedLoop({
        count: WINDOWS,
        body: [
          ...writes,
          ...advance(FROM, op.i32Const(4 * channels)),
          ...advance(TO, op.i32Const(4 * filterWidth * channels)),
        ],
      }),
    ],
  }]);
  return heapKernels(heap, binary)?.row as SpreadKernel | undefined;
}

/** Writes each of `upstream`'s values, over the window's size, to its window's pixels of `dx`. */
function spreadOverWindows(
  info: tf.backend_util.Conv2DInfo,
  upstream: Float32Array,
  dx: Float32Array,
  heap: WasmHeap,
): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth } = info;
  // Rows and columns past the last window (a side the window does not divide) get nothing.
  if (outHeight * filterHeight < inHeight || outWidth * filterWidth < inWidth) dx.fill(0);
  const scale = 1 / (filterHeight * filterWidth);
  const kernel = channels >= 4 ? spreadKernel(heap, { channels, filterWidth, scale }) : undefined;
  const rowFloats = inWidth * channels;
  const windowRow = kernel ? 1 : filterHeight;
  for (let b = 0, from = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++, from += outWidth * channels) {
      const top = (b * inHeight + oh * filterHeight) * rowFloats;
      if (kernel) kernel(upstream.byteOffset + 4 * from, dx.byteOffset + 4 * top, outWidth);
      else spreadRows({ upstream, dx, from, top, rows: windowRow, scale }, info);
      for (let kh = windowRow; kh < filterHeight; kh++) {
        dx.copyWithin(top + kh * rowFloats, top, top + rowFloats);
      }
    }
  }
}

/** A row of windows in JavaScript: dy's row from `from` over `rows` rows of dx from `top`. */
function spreadRows(
  place: {
    upstream: Float32Array;
    dx: Float32Array;
    from: number;
    top: number;
    rows: number;
    scale: number;
  },
  info: tf.backend_util.Conv2DInfo,
): void {
  const { upstream, dx, top, rows, scale } = place;
  const { inWidth, inChannels: channels, outWidth, filterWidth } = info;
  const rowFloats = inWidth * channels;
  for (let ow = 0, from = place.from; ow < outWidth; ow++, from += channels) {
    const corner = top + ow * filterWidth * channels;
    for (let kh = 0; kh < rows; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        const to = corner + kh * rowFloats + kw * channels;
        for (let c = 0; c < channels; c++) dx[to + c] = upstream[from + c] * scale;
      }
    }
  }
}

/** Replaces the wasm backend's AvgPoolGrad with the one above (once). */
export const registerWasmAvgPoolGrad: () => void = once(() =>
  overrideKernel(
    "AvgPoolGrad",
    "wasm",
    (original) => (args) => avgPoolGradWasm(args as unknown as AvgPoolGradArgs, original),
  )
);
