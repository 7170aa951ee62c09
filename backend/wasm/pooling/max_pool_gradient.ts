import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { heapFloats, type WasmHeap } from "../heap.ts";
import { poolInfo } from "./pool_info.ts";
import { tiledMaxPoolGradient } from "./tiled_max_pool_gradient.ts";
import {
  addressOf,
  advance,
  cachedModule,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  op,
  V128,
  vectorLoop,
} from "../simd_module.ts";

interface MaxPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/**
 * Locals of the SIMD kernels: their parameters (heap offsets, advanced pixel
 * by pixel; the channels' bytes; the pixel count; the input's bytes from one
 * window to the next), then their own.
 */
const [X, MAXIMUM, UPSTREAM, DX, BYTES, PIXELS, STEP] = [0, 1, 2, 3, 4, 5, 6];
const [AT, X_AT, DX_AT, LARGEST, GRADIENT, UNFOUND, FOUND] = [7, 8, 9, 10, 11, 12, 13];

/** The geometry a SIMD module is generated for. */
interface WindowGeometry {
  filterHeight: number;
  filterWidth: number;
  /** Bytes from one input row, and from one input pixel, to the next. */
  rowBytes: number;
  pixelBytes: number;
}

/** The name of the kernel whose windows hold `rows` × `columns` inputs. */
function kernelName(rows: number, columns: number): string {
  return `window${rows}x${columns}`;
}

/**
 * The max-pool gradient of one output pixel, four channels at a time, over
 * a window of `rows` × `columns` inputs from the address in `X_AT`: for each
 * input in row-major order, the channels whose maximum it is and that no
 * earlier input matched take the output gradient (added, as windows
 * overlap). The window is unrolled, its inputs addressed by constant offsets.
 */
function windowCode(geometry: WindowGeometry, rows: number, columns: number): Instruction[] {
  const code: Instruction[] = [];
  for (let kh = 0; kh < rows; kh++) {
    for (let kw = 0; kw < columns; kw++) {
      const offset = kh * geometry.rowBytes + kw * geometry.pixelBytes;
      code.push(
        op.localGet(X_AT),
        op.v128LoadOffset(offset),
        op.localGet(LARGEST),
        op.f32x4Eq,
        op.localGet(UNFOUND),
        op.v128And,
        op.localSet(FOUND),
        op.localGet(UNFOUND),
        op.localGet(FOUND),
        op.v128AndNot,
        op.localSet(UNFOUND),
        op.localGet(DX_AT),
        op.localGet(DX_AT),
        op.v128LoadOffset(offset),
        op.localGet(GRADIENT),
        op.localGet(FOUND),
        op.v128And,
        op.f32x4Add,
        op.v128StoreOffset(offset),
      );
    }
  }
  return code;
}

/**
 * One kernel over `PIXELS` output pixels of a row whose windows hold `rows`
 * × `columns` inputs: per pixel, every channel by {@link windowCode}, then
 * the addresses move on to the next pixel and window.
 */
function rowKernel(geometry: WindowGeometry, rows: number, columns: number): Instruction[] {
  const channels = vectorLoop({
    at: AT,
    bytes: BYTES,
    body: [
      ...addressOf(X, AT),
      op.localSet(X_AT),
      ...addressOf(DX, AT),
      op.localSet(DX_AT),
      ...addressOf(MAXIMUM, AT),
      op.v128Load,
      op.localSet(LARGEST),
      ...addressOf(UPSTREAM, AT),
      op.v128Load,
      op.localSet(GRADIENT),
      op.i32Const(-1),
      op.i32x4Splat,
      op.localSet(UNFOUND),
      ...windowCode(geometry, rows, columns),
    ],
  });
  return countedLoop({
    count: PIXELS,
    body: [
      op.i32Const(0),
      op.localSet(AT),
      ...channels,
      ...advance(X, op.localGet(STEP)),
      ...advance(DX, op.localGet(STEP)),
      ...advance(MAXIMUM, op.localGet(BYTES)),
      ...advance(UPSTREAM, op.localGet(BYTES)),
    ],
  });
}

/**
 * A module with one kernel per window size a padded pooling clips its
 * windows to (1 to `filterHeight` rows by 1 to `filterWidth` columns), so
 * that border windows need no padded copy of the input.
 */
function windowModule(geometry: WindowGeometry): Uint8Array<ArrayBuffer> {
  return cachedModule(`max-pool-gradient:${JSON.stringify(geometry)}`, () => {
    const kernels = [];
    for (let rows = 1; rows <= geometry.filterHeight; rows++) {
      for (let columns = 1; columns <= geometry.filterWidth; columns++) {
        kernels.push({
          name: kernelName(rows, columns),
          params: [I32, I32, I32, I32, I32, I32, I32],
          locals: [I32, I32, I32, V128, V128, V128, V128],
          code: rowKernel(geometry, rows, columns),
        });
      }
    }
    return kernels;
  });
}

type RowKernel = (
  x: number,
  maximum: number,
  upstream: number,
  dx: number,
  bytes: number,
  pixels: number,
  step: number,
) => void;

/**
 * The gradient of a 2-D max pooling (NHWC) on the wasm backend in one pass
 * over the wasm heap (SIMD kernels where the channels come in fours or the
 * windows tile the input, see `tiled_max_pool_gradient.ts`, else
 * JavaScript): each window's gradient goes to the first input, in row-major
 * order, equal to the window's maximum (the pooling's output), as on tfjs's
 * CPU backend. tfjs's wasm kernel takes three times as long and sends the
 * gradient of tied windows, common after a ReLU, to other inputs than the
 * CPU backend does. Other types than float32 keep tfjs's kernel, `original`.
 */
function maxPoolGradWasm(args: MaxPoolGradArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { dy, input, output }, backend, attrs } = args;
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const info = poolInfo(input, attrs);
  const heap = backend as unknown as WasmHeap;
  const gradient = heap.makeOutput(input.shape, "float32");
  const [x, maximum, upstream, dx] = [input, output, dy, gradient].map((t) => heapFloats(heap, t));
  dx.fill(0);
  const views = { x, maximum, upstream, dx };
  const kernels = channels4(info) && heapKernels(heap, windowModule(windowGeometry(info)));
  if (kernels) windowsBySimd(kernels as Record<string, RowKernel>, info, views);
  else if (!tiledMaxPoolGradient(heap, info, views)) windowsInJavaScript(info, views);
  return gradient;
}

/** The heap's views a gradient pass reads and writes (`dx` zeroed). */
interface PassViews {
  x: Float32Array;
  maximum: Float32Array;
  upstream: Float32Array;
  dx: Float32Array;
}

/** The gradient one channel at a time, for channels that are not in fours. */
function windowsInJavaScript(info: tf.backend_util.Conv2DInfo, views: PassViews): void {
  const { x, maximum, upstream, dx } = views;
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth, padInfo } = info;
  let at = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = Math.max(0, oh * strideHeight - padInfo.top);
      const bottom = Math.min(inHeight, oh * strideHeight - padInfo.top + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const left = Math.max(0, ow * strideWidth - padInfo.left);
        const right = Math.min(inWidth, ow * strideWidth - padInfo.left + filterWidth);
        for (let c = 0; c < channels; c++, at++) {
          const largest = maximum[at];
          search: for (let ih = top; ih < bottom; ih++) {
            for (let iw = left; iw < right; iw++) {
              const index = ((b * inHeight + ih) * inWidth + iw) * channels + c;
              if (x[index] === largest) {
                dx[index] += upstream[at];
                break search;
              }
            }
          }
        }
      }
    }
  }
}

/** Whether the SIMD kernel fits: channels in fours. */
function channels4(info: tf.backend_util.Conv2DInfo): boolean {
  return info.inChannels % 4 === 0;
}

/** The window geometry of the SIMD kernels. */
function windowGeometry(info: tf.backend_util.Conv2DInfo): WindowGeometry {
  const pixelBytes = 4 * info.inChannels;
  return {
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    rowBytes: info.inWidth * pixelBytes,
    pixelBytes,
  };
}

/** The inputs of one side's window positions that fall inside the image. */
interface Span {
  /** The first input inside, and how many are. */
  first: number;
  count: number;
}

/** Where the window at output position `out` overlaps the input along one side. */
function spanOf(out: number, stride: number, pad: number, filter: number, size: number): Span {
  const start = out * stride - pad;
  const first = Math.max(0, start);
  return { first, count: Math.min(size, start + filter) - first };
}

/**
 * The output columns in runs whose windows overlap the input by as many
 * columns from the same offset (so that the next window is one stride on):
 * the clipped columns at the borders, and the interior as one run.
 */
function columnRuns(info: tf.backend_util.Conv2DInfo): (Span & { out: number; pixels: number })[] {
  const runs: (Span & { out: number; pixels: number })[] = [];
  for (let ow = 0; ow < info.outWidth; ow++) {
    const span = spanOf(ow, info.strideWidth, info.padInfo.left, info.filterWidth, info.inWidth);
    const last = runs.at(-1);
    const skip = span.first - (ow * info.strideWidth - info.padInfo.left);
    const lastSkip = last && last.first - (last.out * info.strideWidth - info.padInfo.left);
    if (last && last.count === span.count && lastSkip === skip) last.pixels += 1;
    else runs.push({ ...span, out: ow, pixels: 1 });
  }
  return runs;
}

/**
 * The gradient by the SIMD kernels, a run of output pixels of one row at a
 * time. Windows that padding clips run the kernel of their clipped size from
 * their first input inside the image, so the input needs no padded copy.
 */
function windowsBySimd(
  kernels: Record<string, RowKernel>,
  info: tf.backend_util.Conv2DInfo,
  { x, maximum, upstream, dx }: PassViews,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const pixelBytes = 4 * inChannels;
  const step = info.strideWidth * pixelBytes;
  const runs = columnRuns(info);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rows = spanOf(oh, info.strideHeight, info.padInfo.top, info.filterHeight, inHeight);
      const inputRow = (b * inHeight + rows.first) * inWidth;
      const outputRow = (b * outHeight + oh) * outWidth;
      for (const run of runs) {
        const inputAt = (inputRow + run.first) * pixelBytes;
        const outputAt = (outputRow + run.out) * pixelBytes;
        kernels[kernelName(rows.count, run.count)](
          x.byteOffset + inputAt,
          maximum.byteOffset + outputAt,
          upstream.byteOffset + outputAt,
          dx.byteOffset + inputAt,
          pixelBytes,
          run.pixels,
          step,
        );
      }
    }
  }
}

/** Replaces the wasm backend's max-pool gradient with the one-pass kernel above (once). */
export const registerWasmMaxPoolGrad: () => void = once(() =>
  overrideKernel(
    "MaxPoolGrad",
    "wasm",
    (original) => (args) => maxPoolGradWasm(args as unknown as MaxPoolGradArgs, original),
  )
);
