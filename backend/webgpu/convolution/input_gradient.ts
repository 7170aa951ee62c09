/**
 * The WebGPU backend's convolution input gradient for stride 1 as its
 * forward convolution (see `inputGradientByConvolution`): tfjs's default
 * kernel is a direct loop without workgroup memory, while its forward
 * convolution is a tiled, vectorised matrix product. Strided convolutions
 * (ResNet's downsampling layers) as a product and a pass that adds the
 * patches back (`strided_input_gradient.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "../../conv_info.ts";
import {
  inputGradientByConvolution,
  inputGradientPads,
  turnFilterByKernels,
} from "../../conv_input_gradient.ts";
import { KernelWorkspace } from "../../kernel_workspace.ts";
import { once, overrideKernel } from "../../kernel_override.ts";
import { webgpuKernelOptions } from "../tuning/kernel_options.ts";
import { stridedInputGradient } from "./strided_input_gradient.ts";

/**
 * Replaces tfjs-backend-webgpu's `Conv2DBackpropInput` with the variant the
 * kernel options choose (once): the forward convolution, tfjs's direct
 * loop, or tfjs's tiled program (`WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE` off).
 */
export const registerWebGPUInputGradient: () => void = once(() => {
  overrideKernel("Conv2DBackpropInput", "webgpu", (original) => (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as tf.NamedAttrMap;
    const info = attrs.dataFormat === "NCHW"
      ? undefined
      : convGradientInfo(attrs.inputShape as number[], filter.shape, attrs);
    const pads = info && inputGradientPads(info);
    const variant = webgpuKernelOptions().inputGradient;
    if (variant === "convolution" && info && pads === undefined) {
      const gradient = stridedInputGradient(args.backend as tf.KernelBackend, { dy, filter, info });
      if (gradient) return gradient;
    }
    if (variant !== "convolution" || pads === undefined) {
      const flags = tf.env();
      const naive = flags.getBool("WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE");
      flags.set("WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE", variant !== "tfjs-tiled");
      try {
        return original(args);
      } finally {
        flags.set("WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE", naive);
      }
    }
    const work = new KernelWorkspace(args.backend as tf.KernelBackend, "webgpu");
    const turned = turnFilterByKernels(work, filter);
    const gradient = inputGradientByConvolution(work, { dy, turned, pads });
    work.release(gradient);
    return gradient;
  });
});
