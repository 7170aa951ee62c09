/**
 * The gradient of a concatenation of channels (DenseNet's dense blocks,
 * GoogLeNet's Inception blocks) on the wasm backend: tfjs splits dy with
 * `SplitV`, a `Slice` per part, which on the last axis of an NHWC tensor
 * copies element by element through a general strided loop. Here each
 * pixel's run of channels is copied to its part in one pass: by a SIMD
 * kernel, one call per part, where the runs come in fours of floats, else
 * in JavaScript.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import { heapViews, type WasmHeap } from "./heap.ts";
import {
  advance,
  countedLoop,
  heapKernels,
  I32,
  kernelModule,
  op,
  vectorLoop,
} from "./simd_module.ts";

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

/** Parameters of the copy kernel, then its own local. */
const [FROM, FROM_STEP, TO, TO_STEP, BYTES, COUNT, AT] = [0, 1, 2, 3, 4, 5, 6];

/**
 * `copyRuns(from, fromStep, to, toStep, bytes, count)`: `count` runs of
 * `bytes` (a multiple of 16), the i-th from `from + i·fromStep` to
 * `to + i·toStep`.
 */
const COPY_MODULE = kernelModule([{
  name: "copyRuns",
  params: [I32, I32, I32, I32, I32, I32],
  locals: [I32],
  code: countedLoop({
    count: COUNT,
    body: [
      op.i32Const(0),
      op.localSet(AT),
      ...vectorLoop({
        at: AT,
        bytes: BYTES,
        body: [
          op.localGet(TO),
          op.localGet(AT),
          op.i32Add,
          op.localGet(FROM),
          op.localGet(AT),
          op.i32Add,
          op.v128Load,
          op.v128Store,
        ],
      }),
      ...advance(FROM, op.localGet(FROM_STEP)),
      ...advance(TO, op.localGet(TO_STEP)),
    ],
  }),
}]);

type CopyRuns = (
  from: number,
  fromStep: number,
  to: number,
  toStep: number,
  bytes: number,
  count: number,
) => void;

/** Splits `x` along its last axis into parts of `sizes` channels, pixel by pixel. */
function splitChannels(heap: WasmHeap, x: tf.TensorInfo, sizes: number[]): tf.TensorInfo[] {
  const channels = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -1);
  const parts = sizes.map((size) => heap.makeOutput([...lead, size], "float32"));
  const [source, ...targets] = heapViews(heap, [x, ...parts]);
  const pixels = source.length / channels;
  const copyRuns = heapKernels(heap, COPY_MODULE)?.copyRuns as CopyRuns | undefined;
  let offset = 0;
  sizes.forEach((size, k) => {
    const target = targets[k];
    if (copyRuns && size % 4 === 0) {
      const from = source.byteOffset + 4 * offset;
      copyRuns(from, 4 * channels, target.byteOffset, 4 * size, 4 * size, pixels);
      offset += size;
      return;
    }
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
