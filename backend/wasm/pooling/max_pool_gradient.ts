import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { heapFloats, type WasmHeap } from "../heap.ts";
import { poolInfo } from "./pool_info.ts";
import { WasmWorkspace } from "../workspace.ts";
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

interface MaxPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** Locals of the SIMD kernel: its parameters (heap offsets, the byte count), then its own. */
const [X, MAXIMUM, UPSTREAM, DX, BYTES, AT, X_AT, DX_AT] = [0, 1, 2, 3, 4, 5, 6, 7];
const [LARGEST, GRADIENT, UNFOUND, FOUND] = [8, 9, 10, 11];

/** The geometry a SIMD kernel is generated for: one window's byte offsets from its corner. */
interface WindowGeometry {
  filterHeight: number;
  filterWidth: number;
  /** Bytes from one input row, and from one input pixel, to the next. */
  rowBytes: number;
  pixelBytes: number;
}

/** Generated kernels by geometry, so that each binary is instantiated once per heap. */
const windowModules = new Map<string, Uint8Array<ArrayBuffer>>();

/**
 * The max-pool gradient of one output pixel, four channels at a time: for
 * each window input in row-major order, the channels whose maximum it is
 * and that no earlier input matched take the output gradient (added, as
 * windows overlap). The window is unrolled, its inputs addressed by
 * constant offsets.
 */
function windowModule(geometry: WindowGeometry): Uint8Array<ArrayBuffer> {
  const key = JSON.stringify(geometry);
  const cached = windowModules.get(key);
  if (cached) return cached;
  const { filterHeight, filterWidth, rowBytes, pixelBytes } = geometry;
  const window: Instruction[] = [];
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const offset = kh * rowBytes + kw * pixelBytes;
      window.push(
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
  const binary = kernelModule([{
    name: "maxPoolGradient",
    params: [I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, V128, V128, V128, V128],
    code: vectorLoop({
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
        ...window,
      ],
    }),
  }]);
  windowModules.set(key, binary);
  return binary;
}

type WindowKernel = (
  x: number,
  maximum: number,
  upstream: number,
  dx: number,
  bytes: number,
) => void;

/**
 * The gradient of a 2-D max pooling (NHWC) on the wasm backend in one
 * JavaScript pass over the wasm heap: each window's gradient goes to the
 * first input, in row-major order, equal to the window's maximum (the
 * pooling's output), as on tfjs's CPU backend. tfjs's wasm kernel takes
 * three times as long and sends the gradient of tied windows, common after a
 * ReLU, to other inputs than the CPU backend does. Other types than
 * float32 keep tfjs's kernel, `original`.
 */
function maxPoolGradWasm(args: MaxPoolGradArgs, original: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { dy, input, output }, backend, attrs } = args;
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    return original(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const info = poolInfo(input, attrs);
  const heap = backend as unknown as WasmHeap;
  const gradient = heap.makeOutput(input.shape, "float32");
  const simd = channels4(info) && heapKernels(heap, windowModule(windowGeometry(info)));
  if (simd) {
    windowsBySimd(backend, { info, input, output, dy, gradient });
    return gradient;
  }
  const [x, maximum, upstream, dx] = [input, output, dy, gradient].map((t) => heapFloats(heap, t));
  dx.fill(0);
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
  return gradient;
}

/** Whether the SIMD kernel fits: channels in fours. */
function channels4(info: tf.backend_util.Conv2DInfo): boolean {
  return info.inChannels % 4 === 0;
}

/**
 * The input as the windows see it: `rows` × `columns` per image, the
 * input at (`top`, `left`), −∞ elsewhere when `padded`.
 */
function paddedLayout(info: tf.backend_util.Conv2DInfo) {
  const { top, left } = info.padInfo;
  const rows = Math.max(
    top + info.inHeight,
    (info.outHeight - 1) * info.strideHeight + info.filterHeight,
  );
  const columns = Math.max(
    left + info.inWidth,
    (info.outWidth - 1) * info.strideWidth + info.filterWidth,
  );
  const padded = rows > info.inHeight || columns > info.inWidth;
  return { rows, columns, top, left, padded };
}

/** The window geometry of the SIMD kernel, over the input as padded for it. */
function windowGeometry(info: tf.backend_util.Conv2DInfo): WindowGeometry {
  const pixelBytes = 4 * info.inChannels;
  return {
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    rowBytes: paddedLayout(info).columns * pixelBytes,
    pixelBytes,
  };
}

/**
 * The gradient by the SIMD kernel, one output pixel at a time. A padded
 * pooling runs over a copy of its input padded with −∞ (which never equals
 * a window's maximum: every window holds an input) and a gradient padded
 * alike, cropped afterwards: the kernel needs every window whole.
 */
function windowsBySimd(
  backend: tf.KernelBackend,
  tensors: {
    info: tf.backend_util.Conv2DInfo;
    input: tf.TensorInfo;
    output: tf.TensorInfo;
    dy: tf.TensorInfo;
    gradient: tf.TensorInfo;
  },
): void {
  const { info, input, output, dy, gradient } = tensors;
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const layout = paddedLayout(info);
  const { rows, columns, padded } = layout;
  const work = new WasmWorkspace(backend);
  const shape = [batchSize, rows, columns, channels];
  const [xPad, dxPad] = padded ? work.planes(2, shape) : [input, gradient];
  const [x, maximum, upstream, dx, source, target] = work.views([
    xPad,
    output,
    dy,
    dxPad,
    input,
    gradient,
  ]);
  const images = { batch: batchSize, height: inHeight, width: inWidth, channels };
  if (padded) placeInto(source, x, { ...images, ...layout }, -Infinity);
  dx.fill(0);
  const pixelBytes = 4 * channels;
  const kernel = heapKernels(work.heap, windowModule(windowGeometry(info)))!
    .maxPoolGradient as WindowKernel;
  for (let b = 0, out = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, out += pixelBytes) {
        const corner = ((b * rows + oh * info.strideHeight) * columns + ow * info.strideWidth) *
          pixelBytes;
        kernel(
          x.byteOffset + corner,
          maximum.byteOffset + out,
          upstream.byteOffset + out,
          dx.byteOffset + corner,
          pixelBytes,
        );
      }
    }
  }
  if (padded) cropInto(dx, target, { ...images, ...layout });
  work.release();
}

/** Where an NHWC batch sits inside its padded copy. */
interface Placement {
  batch: number;
  height: number;
  width: number;
  channels: number;
  rows: number;
  columns: number;
  top: number;
  left: number;
}

/** Copies `source` [batch, height, width, channels] into the padded `target`, `fill` around. */
function placeInto(source: Float32Array, target: Float32Array, place: Placement, fill: number) {
  const { batch, height, width, channels, rows, columns, top, left } = place;
  target.fill(fill);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < height; y++) {
      const from = (b * height + y) * width * channels;
      const to = ((b * rows + y + top) * columns + left) * channels;
      target.set(source.subarray(from, from + width * channels), to);
    }
  }
}

/** The inverse of {@link placeInto}: the unpadded part of `padded` into `target`. */
function cropInto(padded: Float32Array, target: Float32Array, place: Placement) {
  const { batch, height, width, channels, rows, columns, top, left } = place;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < height; y++) {
      const from = ((b * rows + y + top) * columns + left) * channels;
      target.set(
        padded.subarray(from, from + width * channels),
        (b * height + y) * width * channels,
      );
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
