/**
 * `bench`'s flags that choose the WebGPU kernels, so that one prepared
 * bundle can measure every variant on a GPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  setWebGPUKernelOptions,
  type WebGPUKernelOptions,
} from "../backend/webgpu/tuning/kernel_options.ts";
import { DEFAULT_TILING, type Tiling } from "../backend/webgpu/products/generator.ts";
import { choiceFlag, integerFlag, textFlag } from "../cli/flags.ts";
import { InputError } from "../errors.ts";

/** The products' tilings by name: rows × columns of a workgroup's tile, and threads. */
export const TILINGS: Record<string, Tiling> = {
  "64x64": DEFAULT_TILING,
  "128x128": { threadsI: 16, threadsJ: 16, perThreadI: 8, perThreadJ: 8, depth: 8 },
  "64x64-256": { threadsI: 16, threadsJ: 16, perThreadI: 4, perThreadJ: 4, depth: 16 },
};

/** The flags (added to `bench`'s table). */
export const WEBGPU_FLAGS = {
  convolution: choiceFlag({
    help: "WebGPU forward convolution: product (generated) or tfjs",
    choices: ["product", "tfjs"],
    default: "product",
  }),
  "filter-gradient": choiceFlag({
    help: "WebGPU filter gradient: product, tiled (the previous kernel) or tfjs",
    choices: ["product", "tiled", "tfjs"],
    default: "product",
  }),
  "input-gradient": choiceFlag({
    help: "WebGPU input gradient: convolution, tfjs or tfjs-tiled",
    choices: ["convolution", "tfjs", "tfjs-tiled"],
    default: "convolution",
  }),
  matmul: choiceFlag({
    help: "WebGPU dense products: product or tfjs",
    choices: ["product", "tfjs"],
    default: "product",
  }),
  adam: choiceFlag({
    help: "WebGPU Adam update: fused or tfjs",
    choices: ["fused", "tfjs"],
    default: "fused",
  }),
  "width-groups": choiceFlag({
    help: "WebGPU convolutions over one channel read as groups of four columns: on or off",
    choices: ["on", "off"],
    default: "on",
  }),
  tiling: choiceFlag({
    help: `tiles of the generated products: ${Object.keys(TILINGS).join(", ")}`,
    choices: Object.keys(TILINGS),
    default: "64x64",
  }),
  "target-workgroups": integerFlag({
    help: "workgroups a product's reduction is split to reach (where no split was measured)",
    default: 2048,
  }),
  "submit-batch": integerFlag({
    help: "dispatches tfjs records before it submits them",
    default: 15,
  }),
  splits: textFlag({
    placeholder: "LIST",
    help: "with --gpu-report: filter gradient split counts to sweep, e.g. 4,16,64",
  }),
};

/** Applies the kernel flags' values. */
export function applyWebGPUFlags(values: {
  convolution: string;
  "filter-gradient": string;
  "input-gradient": string;
  matmul: string;
  adam: string;
  "width-groups": string;
  tiling: string;
  "target-workgroups": number;
  "submit-batch": number;
}): void {
  setWebGPUKernelOptions({
    convolution: values.convolution as WebGPUKernelOptions["convolution"],
    filterGradient: values["filter-gradient"] as WebGPUKernelOptions["filterGradient"],
    inputGradient: values["input-gradient"] as WebGPUKernelOptions["inputGradient"],
    matmul: values.matmul as WebGPUKernelOptions["matmul"],
    adam: values.adam as WebGPUKernelOptions["adam"],
    widthGroups: values["width-groups"] === "on",
    tiling: TILINGS[values.tiling],
    targetWorkgroups: values["target-workgroups"],
  });
  tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", values["submit-batch"]);
}

/** The split counts of `--splits`. */
export function splitList(text: string | undefined): number[] {
  if (text === undefined) return [];
  return text.split(",").map((part) => {
    const count = Number(part);
    if (!Number.isInteger(count) || count < 1) {
      throw new InputError(`--splits ${text}: must be integers ≥ 1, separated by commas`);
    }
    return count;
  });
}
