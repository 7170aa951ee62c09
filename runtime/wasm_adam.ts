import * as tf from "@tensorflow/tfjs";
import { heapFloats, heapViews, type WasmHeap } from "./wasm_heap.ts";

/** One parameter's tensors in an Adam step. */
export interface AdamParameter {
  value: tf.Variable;
  gradient: tf.Tensor;
  firstMoment: tf.Tensor;
  secondMoment: tf.Tensor;
}

/** Adam's settings, and the optimizer's scalars β₁ᵗ and β₂ᵗ of this step. */
export interface AdamStep {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  beta1Power: tf.Tensor;
  beta2Power: tf.Tensor;
}

const f32 = Math.fround;

/**
 * Adam's update of `parameters` in one pass over the wasm heap. tfjs's Adam
 * runs fourteen element-wise kernels per parameter, each a pass over memory
 * into a fresh tensor. Here each float32 operation is the same one, in the
 * same order, rounded to float32 (a double holds the exact result of one
 * float32 operation before that rounding), so the values are those tfjs
 * computes. The moments are updated in place; each value gets a fresh
 * tensor, since XNNPACK keeps its own packed copy of a weight until that
 * weight's memory is freed.
 *
 * Returns false, having changed nothing, unless the wasm backend is active,
 * every tensor is float32 (β powers included) and each moment owns its memory (another tensor
 * sharing it would see the writes).
 */
export function fusedAdamUpdate(parameters: AdamParameter[], step: AdamStep): boolean {
  if (tf.getBackend() !== "wasm") return false;
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
  for (const parameter of parameters) {
    const updated = tf.engine().makeTensorFromTensorInfo(
      heap.makeOutput(parameter.value.shape, "float32"),
    );
    const { value, gradient, firstMoment, secondMoment } = parameter;
    // Viewed after allocating `updated`, which may grow the heap (see heapFloats).
    const [next, w, g, m, v] = heapViews(heap, [
      updated,
      value,
      gradient,
      firstMoment,
      secondMoment,
    ]);
    for (let i = 0; i < w.length; i++) {
      const gi = g[i];
      const mi = f32(f32(m[i] * beta1) + f32(gi * oneMinusBeta1));
      const vi = f32(f32(v[i] * beta2) + f32(f32(gi * gi) * oneMinusBeta2));
      m[i] = mi;
      v[i] = vi;
      const root = f32(Math.sqrt(f32(vi / correction2)));
      const ratio = f32(f32(mi / correction1) / f32(root + epsilon));
      next[i] = f32(f32(ratio * negativeRate) + w[i]);
    }
    parameter.value.assign(updated);
    updated.dispose();
  }
  return true;
}
