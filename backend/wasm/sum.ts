import * as tf from "@tensorflow/tfjs";
import { overrideKernel } from "../kernel_override.ts";
import { heapFloats, type WasmHeap } from "./heap.ts";

interface SumArgs {
  inputs: { x: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

/** tfjs's own wasm kernel, kept for the reductions this one does not cover. */
let originalSum: tf.KernelFunc | undefined;

/**
 * The sum over the leading axes of a float32 tensor (a bias gradient: dy
 * summed over batch, height and width) in one JavaScript pass over the wasm
 * heap, adding whole rows into float64 totals. tfjs's wasm kernel first
 * transposes the tensor so that the summed axes come last, a copy of it.
 * Other reductions keep tfjs's kernel.
 */
function sumWasm(args: SumArgs): tf.TensorInfo {
  const { inputs: { x }, backend, attrs: { axis, keepDims } } = args;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length &&
    axes.every((a, i) => a === i);
  if (x.dtype !== "float32" || !leading) {
    return originalSum!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const kept = x.shape.slice(axes.length);
  const columns = kept.reduce((a, b) => a * b, 1);
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const heap = backend as unknown as WasmHeap;
  const shape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = heap.makeOutput(shape, "float32");
  const values = heapFloats(heap, x);
  const totals = new Float64Array(columns);
  for (let row = 0, at = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++, at++) totals[column] += values[at];
  }
  heapFloats(heap, out).set(totals);
  return out;
}

/** Replaces the wasm backend's sum with the leading-axes pass above where it applies (once). */
export function registerWasmSum(): void {
  if (originalSum !== undefined) return;
  overrideKernel("Sum", "wasm", (original) => {
    originalSum = original;
    return sumWasm as unknown as tf.KernelFunc;
  });
}
