/**
 * The gradient of a concatenation of channels (DenseNet's dense blocks,
 * GoogLeNet's Inception blocks) on the wasm backend: tfjs splits dy with
 * `SplitV`, a `Slice` per part, which on the last axis of an NHWC tensor
 * copies element by element through a general strided loop. Here each
 * pixel's run of channels is copied to its part in one pass.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import { heapViews, type WasmHeap } from "./heap.ts";

/** Runs shorter than this are copied element by element (cheaper than a `set` call). */
const SHORT_RUN = 64;

interface SplitArgs {
  inputs: { x: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** The parts' sizes along the last axis, or undefined for a split along another axis. */
function lastAxisSizes(x: tf.TensorInfo, attrs: tf.NamedAttrMap): number[] | undefined {
  const rank = x.shape.length;
  const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + rank : attrs.axis as number;
  if (x.dtype !== "float32" || axis !== rank - 1) return undefined;
  const channels = x.shape[axis];
  const sizes = attrs.numOrSizeSplits as number | number[];
  if (typeof sizes === "number") return Array(sizes).fill(channels / sizes);
  const known = sizes.reduce((sum, size) => sum + (size < 0 ? 0 : size), 0);
  return sizes.map((size) => size < 0 ? channels - known : size);
}

/** Splits `x` along its last axis into parts of `sizes` channels, pixel by pixel. */
function splitChannels(heap: WasmHeap, x: tf.TensorInfo, sizes: number[]): tf.TensorInfo[] {
  const channels = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -1);
  const parts = sizes.map((size) => heap.makeOutput([...lead, size], "float32"));
  const [source, ...targets] = heapViews(heap, [x, ...parts]);
  const pixels = source.length / channels;
  let offset = 0;
  sizes.forEach((size, k) => {
    const target = targets[k];
    for (let p = 0; p < pixels; p++) {
      const from = p * channels + offset;
      if (size < SHORT_RUN) {
        for (let i = 0, to = p * size; i < size; i++) target[to + i] = source[from + i];
      } else {
        target.set(source.subarray(from, from + size), p * size);
      }
    }
    offset += size;
  });
  return parts;
}

/** Routes the wasm backend's splits along the last axis through {@link splitChannels} (once). */
export const registerWasmSplit: () => void = once(() => {
  overrideKernel("SplitV", "wasm", (next) => (args) => {
    const { inputs, backend, attrs } = args as unknown as SplitArgs;
    const sizes = lastAxisSizes(inputs.x, attrs);
    if (!sizes) return next(args);
    return splitChannels(backend as unknown as WasmHeap, inputs.x, sizes);
  });
});
