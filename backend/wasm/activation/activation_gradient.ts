import type * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "../heap.ts";
import {
  addressOf,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  vectorLoop,
} from "../simd_module.ts";

/** The activations whose gradient this kernel computes. */
type GradientActivation = "relu" | "sigmoid";

/** Locals of the SIMD kernels: their parameters (heap offsets, the byte count), then the loop's offset. */
const [DY, Y, OUT, BYTES, AT] = [0, 1, 2, 3, 4];

/** The loop over four floats at a time that stores `value` (computed from dy and y) at `out`. */
function elementwise(name: string, value: Instruction[]) {
  return {
    name,
    params: [I32, I32, I32, I32],
    locals: [I32],
    code: vectorLoop({
      at: AT,
      bytes: BYTES,
      body: [...addressOf(OUT, AT), ...value, op.v128Store],
    }),
  };
}

const load = (base: number): Instruction[] => [...addressOf(base, AT), op.v128Load];

/**
 * ReLU's gradient (the comparison's mask ANDed with dy) and the sigmoid's
 * (dy · (y · (1 − y)), in the CPU backend's order of operations).
 */
const ACTIVATION_GRADIENT_MODULE = kernelModule([
  elementwise("relu", [
    ...load(DY),
    ...load(Y),
    op.f32Const(0),
    op.f32x4Splat,
    op.f32x4Gt,
    op.v128And,
  ]),
  elementwise("sigmoid", [
    ...load(DY),
    ...load(Y),
    op.f32Const(1),
    op.f32x4Splat,
    ...load(Y),
    op.f32x4Sub,
    op.f32x4Mul,
    op.f32x4Mul,
  ]),
]);

type ElementwiseKernel = (dy: number, y: number, out: number, bytes: number) => void;

/** What the kernels compute for the elements past the last four. */
const ELEMENT: Record<GradientActivation, (dy: number, y: number) => number> = {
  relu: (dy, y) => y > 0 ? dy : 0,
  sigmoid: (dy, y) => Math.fround(dy * Math.fround(y * Math.fround(1 - y))),
};

/**
 * An activation's gradient on the wasm backend in one pass over the heap,
 * four floats at a time.
 */
export function wasmActivationGradient(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
  activation: GradientActivation,
): tf.TensorInfo {
  const heap = backend as unknown as WasmHeap;
  const out = heap.makeOutput(dy.shape, "float32");
  const [dyView, yView, outView] = heapViews(heap, [dy, y, out]);
  const kernel = heapKernels(heap, ACTIVATION_GRADIENT_MODULE)?.[activation] as
    | ElementwiseKernel
    | undefined;
  const vectorized = kernel === undefined ? 0 : dyView.length - dyView.length % 4;
  if (vectorized > 0) {
    kernel!(dyView.byteOffset, yView.byteOffset, outView.byteOffset, 4 * vectorized);
  }
  const element = ELEMENT[activation];
  for (let i = vectorized; i < dyView.length; i++) outView[i] = element(dyView[i], yView[i]);
  return out;
}
