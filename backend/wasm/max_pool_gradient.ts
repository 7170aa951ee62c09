import * as tf from "@tensorflow/tfjs";
import { overrideKernel } from "../kernel_override.ts";
import { heapFloats, type WasmHeap } from "./heap.ts";

interface MaxPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** tfjs's own wasm kernel, kept for the cases this one does not cover. */
let originalMaxPoolGrad: tf.KernelFunc | undefined;

/**
 * The gradient of a 2-D max pooling (NHWC) on the wasm backend in one
 * JavaScript pass over the wasm heap: each window's gradient goes to the
 * first input, in row-major order, equal to the window's maximum (the
 * pooling's output), as on tfjs's CPU backend. tfjs's wasm kernel takes
 * three times as long and sends the gradient of tied windows, common after a
 * ReLU, to other inputs than the CPU backend does. Other types than
 * float32 keep tfjs's kernel.
 */
function maxPoolGradWasm(args: MaxPoolGradArgs): tf.TensorInfo {
  const { inputs: { dy, input, output }, backend, attrs } = args;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: "valid" | "same" | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    return originalMaxPoolGrad!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const heap = backend as unknown as WasmHeap;
  const gradient = heap.makeOutput(input.shape, "float32");
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

/** Replaces the wasm backend's max-pool gradient with the one-pass kernel above (once). */
export function registerWasmMaxPoolGrad(): void {
  if (originalMaxPoolGrad !== undefined) return;
  overrideKernel("MaxPoolGrad", "wasm", (original) => {
    originalMaxPoolGrad = original;
    return maxPoolGradWasm as unknown as tf.KernelFunc;
  });
}
