import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";
import type { WasmHeap } from "./heap.ts";

interface IdentityArgs {
  inputs: { x: tf.TensorInfo };
  backend: tf.KernelBackend;
}

/**
 * A clone that shares its input's memory, as the CPU and WebGL backends'
 * clones do: tfjs's wasm kernel copies. Recording a backward pass clones
 * every tensor it keeps, so with the copying kernel each kept activation
 * was held twice (about 250 MB more heap for AlexNet at 64 examples).
 * Sharing is safe because no kernel here writes into an input's memory; the
 * Adam update, which writes its moments in place, first checks that no
 * other tensor shares them. Strings keep tfjs's kernel, `copying`.
 */
function identityWasm(args: IdentityArgs, copying: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { x }, backend } = args;
  if (x.dtype === "string") {
    return copying(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  (backend as unknown as WasmHeap).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Replaces the wasm backend's copying clone with the sharing one above (once). */
export const registerWasmIdentity: () => void = once(() =>
  overrideKernel(
    "Identity",
    "wasm",
    (original) => (args) => identityWasm(args as unknown as IdentityArgs, original),
  )
);
