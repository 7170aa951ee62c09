import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import wasmSimdBinary from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm" with {
  type: "bytes",
};
import { InputError } from "../errors.ts";
import { avoidBrokenSplitK } from "./webgpu/matmul_split_k_fix.ts";
import { registerConvFilterGradient } from "./webgpu/conv_filter_gradient.ts";
import { adviseHugePages } from "./huge_pages.ts";
import { registerWasmConvGradients } from "./wasm/conv_gradients.ts";
import type { WasmHeap } from "./wasm/heap.ts";
import { registerWasmIdentity } from "./wasm/identity.ts";
import { registerWasmMatMul } from "./wasm/matmul.ts";
import { registerWasmMaxPoolGrad } from "./wasm/max_pool_gradient.ts";
import { registerWasmSpaceToDepth } from "./wasm/space_to_depth.ts";
import { registerWasmSum } from "./wasm/sum.ts";
import { registerWasmWinograd } from "./wasm/winograd/convolution.ts";

/** Which tfjs backend to compute on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What `--backend` accepts: a backend, or `auto` to pick the fastest one this machine has. */
export type BackendChoice = BackendName | "auto";

/** The values accepted by `--backend`. */
export const BACKEND_CHOICES: BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

/** What the active backend runs on, for headers and memory planning. */
export interface BackendInfo {
  name: BackendName;
  /** One line describing the adapter or the CPU backend. */
  description: string;
  /** True for a software adapter (lavapipe, llvmpipe) or the CPU backend. */
  software: boolean;
  /** Largest storage buffer one kernel may bind, in bytes (Infinity on the CPU). */
  maxBindingBytes: number;
  /** The GPU device, when the backend is WebGPU. */
  device?: GPUDevice;
}

function numericLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number" || typeof value === "bigint") {
      out[key] = Number(value);
    }
  }
  return out;
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info.description, info.architecture].filter((part) => part);
  return parts.length > 0 ? parts.join(", ") : "unnamed adapter";
}

/** The WebGPU backend once set up: later calls switch back to it instead of creating another device. */
let webgpu: BackendInfo | undefined;

const NO_ADAPTER =
  "no WebGPU adapter found: install your GPU's driver (on Debian/Ubuntu without a GPU: apt-get install mesa-vulkan-drivers), or run with --backend cpu";

/**
 * Creates the `GPUDevice` from the high-performance adapter with that
 * adapter's own limits and registers tfjs's `WebGPUBackend` on it (this
 * sidesteps the backend's own initialisation, which fails on Deno).
 * Throws an `InputError` when there is no adapter. Later calls reuse the
 * same device.
 */
export async function setupWebGPU(): Promise<BackendInfo> {
  if (webgpu !== undefined) {
    await tf.setBackend("webgpu");
    return webgpu;
  }
  const adapter = await navigator.gpu?.requestAdapter({
    powerPreference: "high-performance",
  });
  if (!adapter) throw new InputError(NO_ADAPTER);
  const requiredFeatures: GPUFeatureName[] = adapter.features.has(
      "timestamp-query",
    )
    ? ["timestamp-query"]
    : [];
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: numericLimits(adapter.limits),
  });
  device.lost.then((info) => {
    if (info.reason !== "destroyed") {
      console.error(`GPU device lost: ${info.message}`);
    }
  });
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device, adapter.info));
  avoidBrokenSplitK();
  registerConvFilterGradient();
  await tf.setBackend("webgpu");
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  webgpu = {
    name: "webgpu",
    description: describeAdapter(adapter),
    software: Boolean(info.isFallbackAdapter),
    maxBindingBytes: Number(device.limits.maxStorageBufferBindingSize),
    device,
  };
  return webgpu;
}

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
  registerWasmConvGradients();
  registerWasmIdentity();
  registerWasmMatMul();
  registerWasmMaxPoolGrad();
  registerWasmSum();
  registerWasmWinograd();
  registerWasmSpaceToDepth();

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
    description: "tfjs wasm backend (XNNPACK, SIMD)",
    software: true,
    maxBindingBytes: WASM_TENSOR_BYTES,
  };
}

/**
 * The fastest backend this machine has: WebGPU on a hardware adapter,
 * otherwise wasm (on lavapipe, the software Vulkan driver, wasm trains
 * AlexNet over 10 times faster than WebGPU; see README).
 */
export async function fastestBackend(): Promise<BackendName> {
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
  const info = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return adapter && !info?.isFallbackAdapter ? "webgpu" : "wasm";
}

/** Makes the chosen backend active (`auto`: the fastest this machine has) and describes it. */
export async function setupBackend(choice: BackendChoice): Promise<BackendInfo> {
  tf.enableProdMode();
  const name = choice === "auto" ? await fastestBackend() : choice;
  if (name === "webgpu") return await setupWebGPU();
  if (name === "wasm") return await setupWasm();
  await tf.setBackend("cpu");
  return {
    name: "cpu",
    description: "tfjs CPU backend (plain JavaScript)",
    software: true,
    maxBindingBytes: Infinity,
  };
}

/** True when a WebGPU adapter exists on this machine (for tests that need one). */
export async function hasWebGPUAdapter(): Promise<boolean> {
  return (await navigator.gpu?.requestAdapter()) != null;
}
