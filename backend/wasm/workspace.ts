import * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "./heap.ts";

/**
 * Scratch tensors on the wasm heap for one kernel call, and XNNPACK's matrix
 * product on them. Every temporary is freed by `release`.
 */
export class WasmWorkspace {
  readonly heap: WasmHeap;
  private readonly temporaries: tf.TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend) {
    this.heap = backend as unknown as WasmHeap;
  }

  /** A temporary float32 tensor of `shape` (its memory is not cleared). */
  temporary(shape: number[]): tf.TensorInfo {
    const tensor = this.heap.makeOutput(shape, "float32");
    this.temporaries.push(tensor);
    return tensor;
  }

  /** `count` temporaries of `shape`. */
  planes(count: number, shape: number[]): tf.TensorInfo[] {
    return Array.from({ length: count }, () => this.temporary(shape));
  }

  /** Float32 views of `tensors` (see `heapViews`: take them after the last allocation). */
  views(tensors: tf.TensorInfo[]): Float32Array[] {
    return heapViews(this.heap, tensors);
  }

  /**
   * Runs the wasm backend's own kernel `name` directly (no tape, no engine
   * bookkeeping); its output is a temporary.
   */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
    const kernel = tf.getKernel(name, "wasm");
    if (kernel === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
    const result = kernel.kernelFunc({ inputs, attrs, backend: this.backend }) as tf.TensorInfo;
    this.temporaries.push(result);
    return result;
  }

  /** Makes `tensor`, made elsewhere, one of this workspace's temporaries. */
  adopt(tensor: tf.TensorInfo): void {
    this.temporaries.push(tensor);
  }

  /**
   * a [rows, inner] · b [inner, columns] as a temporary [rows, columns],
   * run by the wasm backend's 1×1 convolution (XNNPACK's fastest product
   * here: its matrix-product kernel slows down on long operands).
   */
  product(a: tf.TensorInfo, b: tf.TensorInfo, rows: number, columns: number): tf.TensorInfo {
    const inner = b.shape.reduce((x, y) => x * y, 1) / columns;
    return this.run(
      "Conv2D",
      {
        x: { ...a, shape: [1, rows, 1, inner] },
        filter: { ...b, shape: [1, 1, inner, columns] },
      },
      { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1 },
    );
  }

  /**
   * Frees every temporary but the memory of `kept` (the result, which the
   * caller now owns, possibly under another shape).
   */
  release(kept?: tf.TensorInfo): void {
    for (const t of this.temporaries.splice(0)) {
      if (t.dataId !== kept?.dataId) this.backend.disposeData(t.dataId);
    }
  }
}
