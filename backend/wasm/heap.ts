import * as tf from "@tensorflow/tfjs";

/** The public members of tfjs's `BackendWasm` that kernels working on its heap need. */
export interface WasmHeap {
  wasm: { HEAPU8: Uint8Array };
  getMemoryOffset(dataId: object): number;
  refCount(dataId: object): number;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

/**
 * A float32 view of a tensor's memory in the wasm heap. Take views only
 * after the last allocation: growing the heap detaches its buffer. Asking
 * for a tensor's offset can itself allocate (tfjs moves a tensor created on
 * another backend into the heap on first access), so the buffer is read
 * after it.
 */
export function heapFloats(heap: WasmHeap, tensor: tf.TensorInfo): Float32Array {
  const offset = heap.getMemoryOffset(tensor.dataId);
  const length = tensor.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(heap.wasm.HEAPU8.buffer, offset, length);
}

/**
 * Float32 views of `tensors`' memory (take them after the last allocation).
 * Every tensor is located before any view is taken, since locating one can
 * allocate (see `heapFloats`).
 */
export function heapViews(heap: WasmHeap, tensors: tf.TensorInfo[]): Float32Array[] {
  for (const t of tensors) heap.getMemoryOffset(t.dataId);
  return tensors.map((t) => heapFloats(heap, t));
}

/**
 * A float32 tensor of `shape` whose values `fill` writes. On the wasm
 * backend it writes straight into the tensor's memory in the heap: no
 * intermediate array, whose fresh pages cost as much again (AlexNet's 187 MB
 * of initial weights). Elsewhere it fills an array
 * that becomes the tensor.
 */
export function filledTensor(shape: number[], fill: (values: Float32Array) => void): tf.Tensor {
  if (tf.getBackend() !== "wasm") {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    fill(values);
    return tf.tensor(values, shape);
  }
  const heap = tf.backend() as unknown as WasmHeap;
  const output = heap.makeOutput(shape, "float32");
  fill(heapFloats(heap, output));
  return tf.engine().makeTensorFromTensorInfo(output);
}

/**
 * `tensor + values` (`values` in the tensor's shape), disposing `tensor`.
 * On the wasm backend, when no other tensor shares its memory, the values
 * are added in place: no fresh tensor for `values` nor for the sum (for
 * AlexNet's gradients, 374 MB of fresh pages on a first step). The sum is
 * float32's either way (a float64 sum of two float32 values rounds to the
 * float32 sum).
 */
export function addFloats(tensor: tf.Tensor, values: Float32Array): tf.Tensor {
  const heap = tf.backend() as unknown as WasmHeap;
  if (
    tf.getBackend() === "wasm" && tensor.dtype === "float32" && heap.refCount(tensor.dataId) === 1
  ) {
    const target = heapFloats(heap, tensor);
    for (let i = 0; i < target.length; i++) target[i] += values[i];
    return tensor;
  }
  const sum = tf.tidy(() => tf.add(tensor, tf.tensor(values, tensor.shape)));
  tensor.dispose();
  return sum;
}

/**
 * Copies the values of the float32 tensor `tensor` into `target`: straight
 * from the heap on the wasm backend, without the fresh array `data()` allocates.
 */
export async function copyFloats(tensor: tf.Tensor, target: Float32Array): Promise<void> {
  if (tf.getBackend() === "wasm") {
    target.set(heapFloats(tf.backend() as unknown as WasmHeap, tensor));
  } else {
    target.set(await tensor.data() as Float32Array);
  }
}
