import type * as tf from "@tensorflow/tfjs";
import type { WebGPUProgram, WebGPURunner } from "./program.ts";

/** dy where y > 0, else 0, in one pass. */
class ReluGradientProgram implements WebGPUProgram {
  variableNames = ["dy", "y"];
  size = true;
  workgroupSize: [number, number, number] = [128, 1, 1];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey = "reluGradient";

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, axis) => axis) };
    const size = shape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

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
