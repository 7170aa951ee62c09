/**
 * The WebGPU backend's forward convolution (`Conv2D`, and `FusedConv2D`
 * with a bias and a ReLU or none) as a generated tiled product:
 * y[(b, oh, ow), co] = Σ over (kh, kw, ci) of im2col(x) · W. The input
 * gradient of a stride-1 convolution runs through it too (see
 * `input_gradient.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { webgpuKernelOptions } from "../tuning/kernel_options.ts";
import {
  type ConvGeometry,
  convGeometry,
  denseOperand,
  im2colByOutputPixel,
} from "../products/operands.ts";
import { runProduct } from "../products/run.ts";
import {
  groupFilter,
  groupInput,
  type WidthGrouping,
  widthGrouping,
} from "../products/width_groups.ts";
import { KernelWorkspace } from "../../kernel_workspace.ts";
import { storedAsFloat32, type WebGPURunner } from "../program.ts";
import type { ProductSpec } from "../products/generator.ts";

/** The convolution as a product: rows (b, oh, ow), columns co, reduction (kh, kw, ci). */
function convolutionSpec(
  g: ConvGeometry,
  epilogue: { bias: boolean; activation?: "relu" },
): ProductSpec {
  const terms = g.filterHeight * g.filterWidth * g.inChannels;
  return {
    rows: g.batch * g.outHeight * g.outWidth,
    columns: g.outChannels,
    terms,
    a: im2colByOutputPixel("x", g),
    b: denseOperand({ variable: "W", terms, outer: g.outChannels, contiguous: "outer" }),
    ...epilogue,
    key: `convolution_${JSON.stringify(g)}`,
  };
}

/**
 * The product convolution `g` runs: over groups of columns where that
 * applies (see `widthGrouping`), else `g`'s own.
 */
export function convolutionProduct(
  g: ConvGeometry,
  epilogue: { bias: boolean; activation?: "relu" },
): { spec: ProductSpec; grouping?: WidthGrouping } {
  const grouping = widthGrouping(g);
  return { spec: convolutionSpec(grouping?.grouped ?? g, epilogue), grouping };
}

/** Runs convolution `g` of `x` by `filter` (and the bias, if any) as a product. */
function runConvolution(
  backend: WebGPURunner,
  g: ConvGeometry,
  [x, filter, ...bias]: tf.TensorInfo[],
  epilogue: { bias: boolean; activation?: "relu" },
): tf.TensorInfo {
  const outShape = [g.batch, g.outHeight, g.outWidth, g.outChannels];
  const { spec, grouping } = convolutionProduct(g, epilogue);
  if (!grouping) return runProduct(backend, spec, [x, filter, ...bias], outShape);
  const work = new KernelWorkspace(backend as unknown as tf.KernelBackend, "webgpu");
  const inputs = [groupInput(work, x, grouping), groupFilter(work, filter, grouping), ...bias];
  const y = runProduct(backend, spec, inputs, outShape);
  work.release();
  return y;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
}

/** The geometry of a convolution this module runs, or undefined for one it leaves to tfjs. */
function supported(
  backend: WebGPURunner,
  inputs: tf.TensorInfo[],
  attrs: ConvAttrs,
): ConvGeometry | undefined {
  const [x, filter] = inputs;
  const dilated = [attrs.dilations ?? 1].flat().some((rate) => rate !== 1);
  const usable = webgpuKernelOptions().convolution === "product" && attrs.dataFormat !== "NCHW" &&
    !dilated && storedAsFloat32(backend, inputs);
  if (!usable) return undefined;
  return convGeometry(tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  ));
}

/** Replaces tfjs-backend-webgpu's `Conv2D` and `FusedConv2D` where the kernel options say so (once). */
export const registerWebGPUConvolution: () => void = once(() => {
  overrideKernel("Conv2D", "webgpu", (original) => (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const backend = args.backend as unknown as WebGPURunner;
    const g = supported(backend, [x, filter], args.attrs as unknown as ConvAttrs);
    if (!g) return original(args);
    return runConvolution(backend, g, [x, filter], { bias: false });
  });
  overrideKernel("FusedConv2D", "webgpu", (original) => (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const attrs = args.attrs as unknown as ConvAttrs;
    const activation = attrs.activation ?? "linear";
    const plain = preluActivationWeights === undefined &&
      (activation === "linear" || activation === "relu") &&
      (bias === undefined || bias.shape.length === 1);
    const backend = args.backend as unknown as WebGPURunner;
    const inputs = bias ? [x!, filter!, bias] : [x!, filter!];
    const g = plain ? supported(backend, inputs, attrs) : undefined;
    if (!g) return original(args);
    return runConvolution(backend, g, inputs, {
      bias: bias !== undefined,
      activation: activation === "relu" ? "relu" : undefined,
    });
  });
});
