import type * as tf from "@tensorflow/tfjs";
import { KernelWorkspace } from "../kernel_workspace.ts";
import { blas } from "./blas.ts";
import { heapViews, type WasmHeap } from "./heap.ts";
import { transposeInto } from "./layout/transpose.ts";

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

  /**
   * Adds aᵀ·b to `sum` [rows, columns], where `a` holds [inner, rows] from
   * `aOffset` (in floats) on and `b` [inner, columns]: the BLAS takes the
   * transpose as a flag and adds in place; without one, `a` is transposed
   * into a temporary, multiplied by `product` and added in JavaScript.
   */
  addTransposedProduct(options: {
    a: tf.TensorInfo;
    aOffset?: number;
    b: tf.TensorInfo;
    sum: tf.TensorInfo;
    inner: number;
    rows: number;
    columns: number;
  }): void {
    const { a, aOffset = 0, b, sum, inner, rows, columns } = options;
    const library = blas();
    if (library) {
      const [av, bv, sumValues] = this.views([a, b, sum]);
      library.gemm({
        rows,
        columns,
        inner,
        a: av.subarray(aOffset),
        b: bv,
        c: sumValues,
        transposeA: true,
        accumulate: true,
      });
      return;
    }
    const transposed = this.temporary([rows, inner]);
    const [av, transposedValues] = this.views([a, transposed]);
    transposeInto(av.subarray(aOffset), transposedValues, { rows: inner, columns: rows });
    const part = this.product(transposed, b, rows, columns);
    const [sumValues, partValues] = this.views([sum, part]);
    for (let i = 0; i < sumValues.length; i++) sumValues[i] += partValues[i];
  }
}
