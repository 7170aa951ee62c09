import * as tf from "@tensorflow/tfjs";
import type { AdamParameter, AdamStep } from "../adam_step.ts";
import { heapFloats, heapViews, type WasmHeap } from "./heap.ts";
import {
  addressOf,
  F32,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  V128,
  vectorLoop,
} from "./simd_module.ts";

const f32 = Math.fround;

/** Locals of the SIMD kernel: first its parameters (heap offsets, then the byte count). */
const [NEXT, VALUE, GRADIENT, FIRST, SECOND, BYTES] = [0, 1, 2, 3, 4, 5];
/** Its eight float parameters: β₁, 1 − β₁, β₂, 1 − β₂, both corrections, ε, −rate. */
const SETTINGS = 6;
/** The byte offset of the loop. */
const AT = 14;
/** The settings, each splatted into a vector. */
const [BETA1, KEEP1, BETA2, KEEP2, CORRECTION1, CORRECTION2, EPSILON, RATE] = Array.from(
  { length: 8 },
  (_, k) => AT + 1 + k,
);
/** Vectors of the gradient and of both moments. */
const [G, M, V] = [AT + 9, AT + 10, AT + 11];

const loadAt = (base: number) => [...addressOf(base, AT), op.v128Load];
const addressAt = (base: number) => addressOf(base, AT);

/**
 * A moment's update in place, m·β + x·(1 − β) with x the vector `term`
 * pushes, also left in the local `into`.
 */
function movingAverage(
  locals: { moment: number; beta: number; keep: number; into: number },
  term: Instruction[],
): Instruction[] {
  const { moment, beta, keep, into } = locals;
  return [
    ...addressAt(moment),
    ...loadAt(moment),
    op.localGet(beta),
    op.f32x4Mul,
    ...term,
    op.localGet(keep),
    op.f32x4Mul,
    op.f32x4Add,
    op.localTee(into),
    op.v128Store,
  ];
}

/**
 * Adam's element-wise update in WebAssembly SIMD, four floats at a time on
 * the heap's bytes [0, BYTES) from each offset: the same float32
 * operations in the same order as the loop in {@link wasmAdamUpdate}
 * (WebAssembly rounds each one to float32 and never fuses them), so the
 * values are the same, about eight times as fast as the loop. The loop
 * does the last few floats of each parameter.
 */
const ADAM_MODULE = kernelModule([{
  name: "adam",
  params: [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32],
  locals: [I32, ...Array(11).fill(V128)],
  code: [
    ...Array.from({ length: 8 }, (_, k) => [
      op.localGet(SETTINGS + k),
      op.f32x4Splat,
      op.localSet(BETA1 + k),
    ]).flat(),
    ...vectorLoop({
      at: AT,
      bytes: BYTES,
      body: [
        ...loadAt(GRADIENT),
        op.localSet(G),
        ...movingAverage({ moment: FIRST, beta: BETA1, keep: KEEP1, into: M }, [op.localGet(G)]),
        ...movingAverage({ moment: SECOND, beta: BETA2, keep: KEEP2, into: V }, [
          op.localGet(G),
          op.localGet(G),
          op.f32x4Mul,
        ]),
        ...addressAt(NEXT),
        op.localGet(M),
        op.localGet(CORRECTION1),
        op.f32x4Div,
        op.localGet(V),
        op.localGet(CORRECTION2),
        op.f32x4Div,
        op.f32x4Sqrt,
        op.localGet(EPSILON),
        op.f32x4Add,
        op.f32x4Div,
        op.localGet(RATE),
        op.f32x4Mul,
        ...loadAt(VALUE),
        op.f32x4Add,
        op.v128Store,
      ],
    }),
  ],
}]);

/** The SIMD kernel's signature. */
type AdamKernel = (
  next: number,
  value: number,
  gradient: number,
  first: number,
  second: number,
  bytes: number,
  ...settings: number[]
) => void;

/**
 * Adam's update of `parameters` in one pass over the wasm heap. tfjs's Adam
 * runs fourteen element-wise kernels per parameter, each a pass over memory
 * into a fresh tensor. Here each float32 operation is the same one, in the
 * same order, rounded to float32 (a double holds the exact result of one
 * float32 operation before that rounding), so the values are those tfjs
 * computes. The moments are updated in place. Each value gets new memory,
 * since XNNPACK keeps its own packed copy of a weight until that weight's
 * memory is freed: the gradient's, which the update consumes, when no other
 * tensor shares it (no fresh 187 MB on AlexNet's first step; afterwards the
 * gradient tensor holds the new values), otherwise a fresh tensor's.
 *
 * Returns false, having changed nothing, unless every tensor is float32 (β powers included) and each moment owns its memory (another tensor
 * sharing it would see the writes).
 */
export function wasmAdamUpdate(parameters: AdamParameter[], step: AdamStep): boolean {
  const heap = tf.backend() as unknown as WasmHeap;
  const owned = (t: tf.Tensor) => t.dtype === "float32" && heap.refCount(t.dataId) === 1;
  const usable = step.beta1Power.dtype === "float32" && step.beta2Power.dtype === "float32" &&
    parameters.every((p) =>
      owned(p.firstMoment) && owned(p.secondMoment) && p.value.dtype === "float32" &&
      p.gradient.dtype === "float32"
    );
  if (!usable) return false;
  const scalar = (t: tf.Tensor) => heapFloats(heap, t)[0];
  const beta1 = f32(step.beta1);
  const oneMinusBeta1 = f32(1 - step.beta1);
  const beta2 = f32(step.beta2);
  const oneMinusBeta2 = f32(1 - step.beta2);
  const correction1 = f32(1 - scalar(step.beta1Power));
  const correction2 = f32(1 - scalar(step.beta2Power));
  const epsilon = f32(step.epsilon);
  const negativeRate = f32(-step.learningRate);
  const kernel = heapKernels(heap, ADAM_MODULE)?.adam as AdamKernel | undefined;
  const settings = [
    beta1,
    oneMinusBeta1,
    beta2,
    oneMinusBeta2,
    correction1,
    correction2,
    epsilon,
    negativeRate,
  ];
  for (const parameter of parameters) {
    const { value, gradient, firstMoment, secondMoment } = parameter;
    const intoGradient = owned(gradient) && gradient.dataId !== value.dataId;
    const updated = intoGradient
      ? gradient
      : tf.engine().makeTensorFromTensorInfo(heap.makeOutput(value.shape, "float32"));
    // Viewed after allocating `updated`, which may grow the heap (see heapFloats).
    const [next, w, g, m, v] = heapViews(heap, [
      updated,
      value,
      gradient,
      firstMoment,
      secondMoment,
    ]);
    const vectorized = kernel === undefined ? 0 : w.length - w.length % 4;
    if (vectorized > 0) {
      const offsets = [next, w, g, m, v].map((view) => view.byteOffset);
      kernel!(...offsets as [number, number, number, number, number], 4 * vectorized, ...settings);
    }
    for (let i = vectorized; i < w.length; i++) {
      const gi = g[i];
      const mi = f32(f32(m[i] * beta1) + f32(gi * oneMinusBeta1));
      const vi = f32(f32(v[i] * beta2) + f32(f32(gi * gi) * oneMinusBeta2));
      m[i] = mi;
      v[i] = vi;
      const root = f32(Math.sqrt(f32(vi / correction2)));
      const ratio = f32(f32(mi / correction1) / f32(root + epsilon));
      next[i] = f32(f32(ratio * negativeRate) + w[i]);
    }
    value.assign(updated);
    if (!intoGradient) updated.dispose();
  }
  return true;
}
