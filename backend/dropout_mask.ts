/**
 * Dropout masks drawn where the activations live, the same on every
 * backend: element e of a mask is kept when a counter-based hash of
 * (seed, e) is at least the rate, and kept elements are scaled by
 * 1 / (1 − rate) (inverted dropout). A mask's elements are numbered
 * across the whole batch, so a micro-batch or a worker's share that starts
 * at row `offset` draws exactly the rows of the whole batch's mask.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { heapFloats, type WasmHeap } from "./wasm/heap.ts";
import { DropoutMaskProgram } from "./webgpu/dropout_mask.ts";
import type { WebGPURunner } from "./webgpu/program.ts";
import { once } from "./kernel_override.ts";

/** The kernel's name (tfjs has none of its own). */
export const DROPOUT_MASK = "FashionDropoutMask";

/** The attributes of a {@link DROPOUT_MASK} kernel call. */
export interface DropoutMaskAttrs {
  /** The mask's shape: [rows, ...features]. */
  shape: number[];
  seed: number;
  /** The batch row of the mask's first row. */
  offset: number;
  rate: number;
}

/** Wellons's lowbias32: a 32-bit integer hash with good avalanche (`HASH32_WGSL` on the GPU). */
export function hash32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The scale of kept elements, as float32. */
export function keptScale(rate: number): number {
  return Math.fround(1 / (1 - rate));
}

/** Writes the mask of {@link DropoutMaskAttrs} into `values`. */
export function fillDropoutMask(values: Float32Array, attrs: DropoutMaskAttrs): void {
  const features = values.length / attrs.shape[0];
  const key = hash32(attrs.seed);
  const first = attrs.offset * features;
  const threshold = maskThreshold(attrs.rate);
  const scale = keptScale(attrs.rate);
  for (let i = 0; i < values.length; i++) {
    values[i] = hash32((first + i) ^ key) >>> 8 >= threshold ? scale : 0;
  }
}

/** The mask's 24-bit threshold: an element is kept when its hash's top 24 bits reach it. */
export function maskThreshold(rate: number): number {
  return Math.ceil(rate * 2 ** 24);
}

/** Registers the dropout-mask kernel on the cpu, wasm and WebGPU backends (once). */
export const registerDropoutMask: () => void = once(() => {
  tf.registerKernel({
    kernelName: DROPOUT_MASK,
    backendName: "cpu",
    kernelFunc: ({ attrs, backend }) => {
      const mask = attrs as unknown as DropoutMaskAttrs;
      const values = new Float32Array(mask.shape.reduce((a, b) => a * b, 1));
      fillDropoutMask(values, mask);
      return (backend as unknown as {
        makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      }).makeTensorInfo(mask.shape, "float32", values);
    },
  });
  tf.registerKernel({
    kernelName: DROPOUT_MASK,
    backendName: "wasm",
    kernelFunc: ({ attrs, backend }) => {
      const mask = attrs as unknown as DropoutMaskAttrs;
      const heap = backend as unknown as WasmHeap;
      const output = heap.makeOutput(mask.shape, "float32");
      fillDropoutMask(heapFloats(heap, output), mask);
      return output;
    },
  });
  tf.registerKernel({
    kernelName: DROPOUT_MASK,
    backendName: "webgpu",
    kernelFunc: ({ attrs, backend }) => {
      const mask = attrs as unknown as DropoutMaskAttrs;
      const features = mask.shape.slice(1).reduce((a, b) => a * b, 1);
      return (backend as unknown as WebGPURunner).runWebGPUProgram(
        new DropoutMaskProgram(mask.shape),
        [],
        "float32",
        [
          { type: "uint32", data: [hash32(mask.seed)] },
          { type: "uint32", data: [mask.offset * features] },
          { type: "uint32", data: [maskThreshold(mask.rate)] },
          { type: "float32", data: [keptScale(mask.rate)] },
        ],
      );
    },
  });
});
