import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import wasmSimdBinary from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm" with {
  type: "bytes",
};
import type { BackendInfo } from "../backend_info.ts";
import { registerBatchNormKernels } from "../batch_norm/kernels.ts";
import { registerDropoutMask } from "../dropout_mask.ts";
import { registerActivationGradient } from "../activation_gradient.ts";
import { adviseHugePages } from "../huge_pages.ts";
import { describeBlas } from "./blas.ts";
import { registerWasmConvGradients } from "./convolution/gradients.ts";
import type { WasmHeap } from "./heap.ts";
import { registerWasmIdentity } from "./identity.ts";
import { registerWasmMatMul } from "./matmul.ts";
import { registerWasmAvgPoolGrad } from "./pooling/avg_pool_gradient.ts";
import { registerWasmMaxPoolGrad } from "./pooling/max_pool_gradient.ts";
import { registerWasmSpaceToDepth } from "./layout/space_to_depth.ts";
import { registerWasmPointwise } from "./convolution/pointwise.ts";
import { registerWasmSplit } from "./split.ts";
import { registerWasmSum } from "./sum.ts";
import { registerWasmWinograd } from "./winograd/convolution.ts";

/**
 * Largest tensor planned on the wasm backend: its memory is one 4 GiB heap
 * holding every activation kept for the backward pass, so micro-batches are
 * sized to keep the largest activation at 256 MiB.
 */
const WASM_TENSOR_BYTES = 256 * 2 ** 20;

/** Most bytes a wasm heap can grow to (32-bit addresses). */
const WASM_HEAP_LIMIT = 2 ** 32;

/**
 * The wasm binary, imported as bytes so that bundles and compiled binaries
 * carry it, handed to tfjs as a blob URL (once). tfjs asks for a map of all
 * three builds; only the SIMD one can load here (Deno's V8 has SIMD, and
 * tfjs turns threads off under Node compatibility), so all three names
 * point at it.
 */
let wasmBinaryUrl: string | undefined;

/**
 * Makes tfjs's wasm backend (XNNPACK kernels, one thread) active, completed
 * with the convolution gradients it lacks and a matrix product that stays
 * on XNNPACK's fast path.
 */
export async function setupWasm(): Promise<BackendInfo> {
  if (wasmBinaryUrl === undefined) {
    wasmBinaryUrl = URL.createObjectURL(new Blob([wasmSimdBinary], { type: "application/wasm" }));
    setWasmPaths(
      {
        "tfjs-backend-wasm-simd.wasm": wasmBinaryUrl,
        "tfjs-backend-wasm.wasm": wasmBinaryUrl,
        "tfjs-backend-wasm-threaded-simd.wasm": wasmBinaryUrl,
      },
      true,
    );
  }
  registerDropoutMask();
  registerActivationGradient();
  registerBatchNormKernels();
  registerWasmConvGradients();
  registerWasmIdentity();
  registerWasmMatMul();
  registerWasmMaxPoolGrad();
  registerWasmAvgPoolGrad();
  registerWasmSum();
  registerWasmWinograd();
  registerWasmSpaceToDepth();
  registerWasmPointwise();
  registerWasmSplit();

  const global = globalThis as { __dirname?: string };
  // Emscripten's loader, once inlined by `deno bundle` or `deno compile --bundle`, reads a
  // global `__dirname` to find the binary; it gets a blob URL instead, so any value will do.
  const lent = global.__dirname === undefined;
  if (lent) global.__dirname = ".";
  const started = await tf.setBackend("wasm");
  if (lent) delete global.__dirname;
  if (!started) {
    throw new Error("the wasm backend failed to start: use --backend webgpu or --backend cpu");
  }
  adviseHugePages((tf.backend() as unknown as WasmHeap).wasm.HEAPU8.buffer, WASM_HEAP_LIMIT);
  return {
    name: "wasm",
    description: `tfjs wasm backend (XNNPACK, SIMD; ${describeBlas()})`,
    software: true,
    maxBindingBytes: WASM_TENSOR_BYTES,
  };
}
