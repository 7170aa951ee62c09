import * as tf from "@tensorflow/tfjs";
import { type AutoChoice, type AutoChoiceOptions, chooseBackend } from "./auto_choice.ts";
import type { BackendInfo, BackendName } from "./backend_info.ts";
import { registerBatchNormKernels } from "./batch_norm/kernels.ts";
import { registerDropoutMask } from "./dropout_mask.ts";
import { registerActivationGradient } from "./activation_gradient.ts";
import { setupWasm } from "./wasm/setup.ts";
import { setupWebGPU } from "./webgpu/setup.ts";

export type { BackendInfo, BackendName } from "./backend_info.ts";

/** What `--backend` accepts: a backend, or `auto` to pick the fastest one this machine has. */
export type BackendChoice = BackendName | "auto";

/** The values accepted by `--backend`. */
export const BACKEND_CHOICES: BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

/** What `auto` measures on when the caller does not say: the book's AlexNet at 224, all cores. */
const AUTO_DEFAULTS: AutoChoiceOptions = {
  model: "alexnet",
  resize: 224,
  threads: Math.min(8, navigator.hardwareConcurrency ?? 1),
};

/**
 * Makes the chosen backend active and describes it. `auto` picks WebGPU
 * or wasm for the network and input size of `auto` (see `chooseBackend`),
 * and the result says why in `auto`.
 */
export async function setupBackend(
  choice: BackendChoice,
  auto: Partial<AutoChoiceOptions> = {},
): Promise<BackendInfo & { auto?: AutoChoice }> {
  tf.enableProdMode();
  registerDropoutMask();
  registerActivationGradient();
  registerBatchNormKernels();
  const chosen = choice === "auto" ? await chooseBackend({ ...AUTO_DEFAULTS, ...auto }) : undefined;
  const name = chosen?.backend ?? choice as BackendName;
  const info = name === "webgpu"
    ? await setupWebGPU()
    : name === "wasm"
    ? await setupWasm()
    : await setupCpu();
  return chosen ? { ...info, auto: chosen } : info;
}

async function setupCpu(): Promise<BackendInfo> {
  await tf.setBackend("cpu");
  return {
    name: "cpu",
    description: "tfjs CPU backend (plain JavaScript)",
    software: true,
    maxBindingBytes: Infinity,
  };
}
