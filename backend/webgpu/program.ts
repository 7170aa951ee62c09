/**
 * What this project's WebGPU kernels hand to tfjs-backend-webgpu: a
 * program object in the shape its `runWebGPUProgram` compiles (tfjs adds
 * the bindings, the uniforms and helpers in front of `getUserCode()`).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A compute program for tfjs-backend-webgpu's `runWebGPUProgram`. */
export interface WebGPUProgram {
  variableNames: string[];
  /** Components per element of each input (4: read as `vec4<f32>`). */
  variableComponents?: number[];
  /** Components per element of the output. */
  outputComponent?: number;
  uniforms?: string;
  /** Declares `uniforms.size` (the output's element count). */
  size?: boolean;
  workgroupSize: [number, number, number];
  outputShape: number[];
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  /** Names the compiled pipeline: two programs with the same key must have the same code. */
  shaderKey: string;
  getUserCode(): string;
}

/** An element-wise pass over an output of `shape` (one thread per float, `uniforms.size` declared). */
export abstract class ElementwiseProgram implements WebGPUProgram {
  abstract variableNames: string[];
  size = true;
  workgroupSize: [number, number, number] = [128, 1, 1];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  abstract shaderKey: string;

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, axis) => axis) };
    const size = shape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

  abstract getUserCode(): string;
}
/** A uniform's value as tfjs-backend-webgpu takes it. */
export interface UniformValue {
  type: "int32" | "uint32" | "float32";
  data: number[];
}

/** The members of tfjs's `WebGPUBackend` this project's kernels use. */
export interface WebGPURunner {
  runWebGPUProgram(
    program: WebGPUProgram,
    inputs: tf.TensorInfo[],
    dtype: string,
    uniforms?: UniformValue[],
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  disposeData(dataId: object): void;
  device: GPUDevice;
  tensorMap: { get(dataId: object): { dtype: string } };
}

/**
 * Whether each tensor's buffer holds float32: a tensor cast from int32 can
 * keep its int32 buffer on tfjs-backend-webgpu, and a program reading it
 * as float32 would not compile.
 */
export function storedAsFloat32(backend: WebGPURunner, tensors: tf.TensorInfo[]): boolean {
  return tensors.every((t) => backend.tensorMap.get(t.dataId).dtype === "float32");
}
