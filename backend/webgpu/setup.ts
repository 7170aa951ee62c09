import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { InputError } from "../../errors.ts";
import type { BackendInfo } from "../backend_info.ts";
import { registerConvFilterGradient } from "./convolution/conv_filter_gradient.ts";
import { registerWebGPUConvolution } from "./convolution/convolution.ts";
import { registerWebGPUInputGradient } from "./convolution/input_gradient.ts";
import { registerWebGPUMatMul } from "./matmul.ts";
import { avoidBrokenSplitK } from "./matmul_split_k_fix.ts";

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
  "no WebGPU adapter found: install your GPU's driver (on Debian/Ubuntu without a GPU: apt-get install mesa-vulkan-drivers), or run with --backend wasm";

/**
 * Creates the `GPUDevice` from the high-performance adapter with that
 * adapter's own limits and registers tfjs's `WebGPUBackend` on it (this
 * sidesteps the backend's own initialisation, which fails on Deno), with
 * this project's kernels. Throws an `InputError` when there is no adapter.
 * Later calls reuse the same device.
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
  registerWebGPUMatMul();
  registerWebGPUConvolution();
  registerConvFilterGradient();
  registerWebGPUInputGradient();
  await tf.setBackend("webgpu");
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  webgpu = {
    name: "webgpu",
    description: describeAdapter(adapter),
    software: Boolean(info.isFallbackAdapter),
    maxBindingBytes: Number(device.limits.maxStorageBufferBindingSize),
    adapter,
    device,
  };
  return webgpu;
}

/** True when a WebGPU adapter exists on this machine (for tests that need one). */
export async function hasWebGPUAdapter(): Promise<boolean> {
  return (await navigator.gpu?.requestAdapter()) != null;
}
