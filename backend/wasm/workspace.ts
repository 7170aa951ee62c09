import type * as tf from "@tensorflow/tfjs";
import { KernelWorkspace } from "../kernel_workspace.ts";
import { blas } from "./blas.ts";
import { heapViews, type WasmHeap } from "./heap.ts";

/**
 * Scratch tensors on the wasm heap for one kernel call, and XNNPACK's matrix
 * product on them. Every temporary is freed by `release`.
 */
export class WasmWorkspace extends KernelWorkspace {
  readonly heap: WasmHeap;

  constructor(backend: tf.KernelBackend) {
    super(backend, "wasm");
    this.heap = backend as unknown as WasmHeap;
  }

  /** A temporary float32 tensor of `shape` (its memory is not cleared). */
  temporary(shape: number[]): tf.TensorInfo {
    const tensor = this.heap.makeOutput(shape, "float32");
    this.adopt(tensor);
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
   * a [rows, inner] · b [inner, columns] as a temporary [rows, columns]: by
   * the machine's BLAS where one is open (see `blas.ts`), else by the wasm
   * backend's 1×1 convolution (XNNPACK's fastest product here: its
   * matrix-product kernel slows down on long operands).
   */
  product(a: tf.TensorInfo, b: tf.TensorInfo, rows: number, columns: number): tf.TensorInfo {
    const inner = b.shape.reduce((x, y) => x * y, 1) / columns;
    const library = blas();
    if (library) {
      const c = this.temporary([rows, columns]);
      const [av, bv, cv] = this.views([a, b, c]);
      library.gemm({ rows, columns, inner, a: av, b: bv, c: cv });
      return c;
    }
    return this.run(
      "Conv2D",
      {
        x: { ...a, shape: [1, rows, 1, inner] },
        filter: { ...b, shape: [1, 1, inner, columns] },
      },
      { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1 },
    );
  }
}
