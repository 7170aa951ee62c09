import type * as tf from "@tensorflow/tfjs";

/** The public members of tfjs's `BackendWasm` that kernels working on its heap need. */
export interface WasmHeap {
  wasm: { HEAPU8: Uint8Array };
  getMemoryOffset(dataId: object): number;
  refCount(dataId: object): number;
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

/**
 * A float32 view of a tensor's memory in the wasm heap. Take views only
 * after the last allocation: growing the heap detaches its buffer.
 */
export function heapFloats(heap: WasmHeap, tensor: tf.TensorInfo): Float32Array {
  return new Float32Array(
    heap.wasm.HEAPU8.buffer,
    heap.getMemoryOffset(tensor.dataId),
    tensor.shape.reduce((a, b) => a * b, 1),
  );
}
