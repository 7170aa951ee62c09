import * as tf from "@tensorflow/tfjs";
import type { BackendInfo, BackendName } from "./backend_info.ts";
import { registerDropoutMask } from "./dropout_mask.ts";
import { setupWasm } from "./wasm/setup.ts";
import { setupWebGPU } from "./webgpu/setup.ts";

export type { BackendInfo, BackendName } from "./backend_info.ts";

/** What `--backend` accepts: a backend, or `auto` to pick the fastest one this machine has. */
export type BackendChoice = BackendName | "auto";

/** The values accepted by `--backend`. */
export const BACKEND_CHOICES: BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

/**
 * The fastest backend this machine has: WebGPU on a hardware adapter,
 * otherwise wasm (on lavapipe, the software Vulkan driver, wasm trains
 * AlexNet over 10 times faster than WebGPU).
 */
export async function fastestBackend(): Promise<BackendName> {
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
  const info = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return adapter && !info?.isFallbackAdapter ? "webgpu" : "wasm";
}

/** Makes the chosen backend active (`auto`: the fastest this machine has) and describes it. */
export async function setupBackend(choice: BackendChoice): Promise<BackendInfo> {
  tf.enableProdMode();
  registerDropoutMask();
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
