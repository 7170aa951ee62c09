import type * as tf from "@tensorflow/tfjs";
import { ElementwiseProgram, type WebGPURunner } from "./program.ts";

/** The activations whose gradient this kernel computes. */
type GradientActivation = "relu" | "sigmoid";

/** Each activation's gradient of one element, in WGSL. */
const ELEMENT: Record<GradientActivation, string> = {
  relu: "select(0.0, dy[index], y[index] > 0.0)",
  sigmoid: "dy[index] * (y[index] * (1.0 - y[index]))",
};

/** An activation's gradient from dy and its output y, in one pass. */
class ActivationGradientProgram extends ElementwiseProgram {
  variableNames = ["dy", "y"];
  shaderKey: string;

  constructor(shape: number[], private readonly activation: GradientActivation) {
    super(shape);
    this.shaderKey = `activationGradient_${activation}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${ELEMENT[this.activation]});
        }
      }
    `;
  }
}

/** An activation's gradient on WebGPU in one pass (tfjs runs two or three). */
export function webgpuActivationGradient(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
  activation: GradientActivation,
): tf.TensorInfo {
  return (backend as unknown as WebGPURunner).runWebGPUProgram(
    new ActivationGradientProgram(dy.shape, activation),
    [dy, y],
    "float32",
  );
}
