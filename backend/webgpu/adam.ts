/**
 * Adam's update on WebGPU in three passes per parameter (each moment, then
 * the weight) instead of tfjs's fourteen element-wise kernels, each a pass
 * over memory into a fresh tensor. The values are tfjs's formulas in tfjs's
 * order; a GPU compiler may fuse a multiply and an add, so the last bit can
 * differ. β₁ᵗ and β₂ᵗ are read on the GPU, not copied back.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AdamParameter, AdamStep } from "../adam_step.ts";
import {
  ElementwiseProgram,
  storedAsFloat32,
  type WebGPUProgram,
  type WebGPURunner,
} from "./program.ts";

/** m·β + g·(1 − β), or v·β + g²·(1 − β) for the second moment. */
export class MomentProgram extends ElementwiseProgram {
  variableNames = ["moment", "gradient"];
  uniforms = "beta : f32, keep : f32,";
  shaderKey: string;

  constructor(shape: number[], readonly second: boolean) {
    super(shape);
    this.shaderKey = `adamMoment_${second}`;
  }

  getUserCode(): string {
    const term = this.second ? "gradient[index] * gradient[index]" : "gradient[index]";
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, moment[index] * uniforms.beta + ${term} * uniforms.keep);
        }
      }
    `;
  }
}

/** w − rate · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε), with β₁ᵗ and β₂ᵗ read from tensors. */
export class WeightProgram extends ElementwiseProgram {
  variableNames = ["weight", "first", "second", "beta1Power", "beta2Power"];
  uniforms = "epsilon : f32, negativeRate : f32,";
  shaderKey = "adamWeight";

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let corrected1 = first[index] / (1.0 - beta1Power[0]);
          let corrected2 = second[index] / (1.0 - beta2Power[0]);
          let ratio = corrected1 / (sqrt(corrected2) + uniforms.epsilon);
          setOutputAtIndex(index, ratio * uniforms.negativeRate + weight[index]);
        }
      }
    `;
  }
}

/**
 * One Adam step on WebGPU for `parameters`; the moments and weights get
 * their new values. Returns false, having changed nothing, unless every
 * tensor's buffer holds float32.
 */
export function webgpuAdamUpdate(parameters: AdamParameter[], step: AdamStep): boolean {
  const backend = tf.backend() as unknown as WebGPURunner;
  const tensors = parameters.flatMap((p) => [p.value, p.gradient, p.firstMoment, p.secondMoment]);
  if (!storedAsFloat32(backend, [...tensors, step.beta1Power, step.beta2Power])) return false;
  const run = (program: WebGPUProgram, inputs: tf.TensorInfo[], data: number[]) =>
    tf.engine().makeTensorFromTensorInfo(
      backend.runWebGPUProgram(
        program,
        inputs,
        "float32",
        data.map((value) => ({ type: "float32", data: [value] })),
      ),
    );
  for (const { value, gradient, firstMoment, secondMoment } of parameters) {
    const first = run(new MomentProgram(value.shape, false), [firstMoment, gradient], [
      step.beta1,
      1 - step.beta1,
    ]);
    const second = run(new MomentProgram(value.shape, true), [secondMoment, gradient], [
      step.beta2,
      1 - step.beta2,
    ]);
    const weight = run(
      new WeightProgram(value.shape),
      [value, first, second, step.beta1Power, step.beta2Power],
      [step.epsilon, -step.learningRate],
    );
    (firstMoment as tf.Variable).assign(first);
    (secondMoment as tf.Variable).assign(second);
    value.assign(weight);
    tf.dispose([first, second, weight]);
  }
  return true;
}
