import type * as tf from "@tensorflow/tfjs";
import { ElementwiseProgram, type WebGPURunner } from "./program.ts";

/** dy where y > 0, else 0, in one pass. */
class ReluGradientProgram extends ElementwiseProgram {
  variableNames = ["dy", "y"];
  shaderKey = "reluGradient";

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, select(0.0, dy[index], y[index] > 0.0));
        }
      }
    `;
  }
}

/** ReLU's gradient on WebGPU in one pass (tfjs runs `Step`, then `Multiply`). */
export function webgpuReluGradient(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
): tf.TensorInfo {
  return (backend as unknown as WebGPURunner).runWebGPUProgram(
    new ReluGradientProgram(dy.shape),
    [dy, y],
    "float32",
  );
}
