/**
 * The average-pool gradient on the wasm backend for windows that tile the
 * input (stride equal to the window, no padding: LeNet's and DenseNet's
 * 2×2 pools, NiN's global one): each output gradient, divided by the
 * window's size, is written to its window's inputs in one pass over the
 * heap. tfjs's wasm kernel loops over every window position of every input
 * and takes several times as long. Overlapping or padded windows, and
 * other types than float32, keep tfjs's kernel.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { heapFloats, type WasmHeap } from "../heap.ts";
import { poolInfo } from "./pool_info.ts";

interface AvgPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** Whether the windows tile the input: no overlap, no gap between them, no padding. */
function tiles(info: tf.backend_util.Conv2DInfo): boolean {
  const { padInfo } = info;
  return info.strideHeight === info.filterHeight && info.strideWidth === info.filterWidth &&
    padInfo.top === 0 && padInfo.left === 0 && padInfo.bottom === 0 && padInfo.right === 0 &&
    info.dilationHeight === 1 && info.dilationWidth === 1;
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
  spreadOverWindows(info, upstream, dx);
  return gradient;
}

/** Writes each of `upstream`'s values, over the window's size, to its window's pixels of `dx`. */
function spreadOverWindows(
  info: tf.backend_util.Conv2DInfo,
  upstream: Float32Array,
  dx: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth } = info;
  // Rows and columns past the last window (a side the window does not divide) get nothing.
  if (outHeight * filterHeight < inHeight || outWidth * filterWidth < inWidth) dx.fill(0);
  const scale = 1 / (filterHeight * filterWidth);
  const rowFloats = inWidth * channels;
  let from = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = (b * inHeight + oh * filterHeight) * rowFloats;
      for (let ow = 0; ow < outWidth; ow++, from += channels) {
        const corner = top + ow * filterWidth * channels;
        for (let kh = 0; kh < filterHeight; kh++) {
          for (let kw = 0; kw < filterWidth; kw++) {
            const to = corner + kh * rowFloats + kw * channels;
            for (let c = 0; c < channels; c++) dx[to + c] = upstream[from + c] * scale;
          }
        }
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
