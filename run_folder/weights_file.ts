import * as tf from "@tensorflow/tfjs";
import { heapFloats, type WasmHeap } from "../backend/wasm/heap.ts";

/** Bytes copied out of the tensors and written at a time. */
const CHUNK_BYTES = 16 * 2 ** 20;

/**
 * Writes the values of `tensors` (float32 or int32, 4 bytes each), one
 * after the other, to a new file at `path`, through one reused buffer:
 * tfjs's `encodeWeights` would first copy them all into one more buffer
 * (for AlexNet's weights and Adam's moments, 560 MB more at every save).
 */
export async function writeTensors(path: string, tensors: tf.Tensor[]): Promise<void> {
  const chunk = new Uint8Array(CHUNK_BYTES);
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    for (const tensor of tensors) {
      const values = await valuesOf(tensor);
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
        // Copied out before each write: nothing allocates on the wasm heap while a save runs,
        // but a view must not be handed to an asynchronous write that outlives it.
        const length = Math.min(CHUNK_BYTES, bytes.length - at);
        chunk.set(bytes.subarray(at, at + length));
        for (let written = 0; written < length;) {
          written += await file.write(chunk.subarray(written, length));
        }
      }
    }
    await file.sync();
  } finally {
    file.close();
  }
}

/** A tensor's values: a view of the wasm heap (no copy), or a fresh array elsewhere. */
async function valuesOf(tensor: tf.Tensor): Promise<Float32Array | Int32Array> {
  if (tf.getBackend() === "wasm" && tensor.dtype === "float32") {
    return heapFloats(tf.backend() as unknown as WasmHeap, tensor);
  }
  return (await tensor.data()) as Float32Array | Int32Array;
}
