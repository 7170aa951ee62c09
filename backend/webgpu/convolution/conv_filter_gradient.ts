/**
 * The WebGPU backend's convolution filter gradient, replacing tfjs's (one
 * thread per filter element looping over the whole batch, which leaves a
 * GPU mostly idle) with a generated tiled product:
 * dW[(kh, kw, ci), co] = Σ over (b, oh, ow) of im2col(x) · dy.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "../../conv_info.ts";
import { once, overrideKernel } from "../../kernel_override.ts";
import { webgpuKernelOptions } from "../tuning/kernel_options.ts";
import {
  type ConvGeometry,
  convGeometry,
  denseOperand,
  im2colByFilterElement,
} from "../products/operands.ts";
import { reductionSplit } from "../products/generator.ts";
import { runProduct, SumSplitsProgram } from "../products/run.ts";
import {
  groupInput,
  ungroupFilterGradient,
  type WidthGrouping,
  widthGrouping,
} from "../products/width_groups.ts";
import { KernelWorkspace } from "../../kernel_workspace.ts";
import { FilterGradientTiledProgram, TILED_DEPTH, tiledUniforms } from "./filter_gradient_tiled.ts";
import { storedAsFloat32, type WebGPURunner } from "../program.ts";

/** The filter gradient as a product: rows (kh, kw, ci), columns co, reduction (b, oh, ow). */
function filterGradientSpec(g: ConvGeometry) {
  const rows = g.filterHeight * g.filterWidth * g.inChannels;
  const terms = g.batch * g.outHeight * g.outWidth;
  return {
    rows,
    columns: g.outChannels,
    terms,
    a: im2colByFilterElement("x", g),
    b: denseOperand({ variable: "dy", terms, outer: g.outChannels, contiguous: "outer" }),
    key: `filterGradient_${JSON.stringify(g)}`,
  };
}

/**
 * The product a filter gradient of `g` runs: over groups of columns where
 * that applies (see `widthGrouping`), else `g`'s own.
 */
export function filterGradientProduct(g: ConvGeometry): {
  spec: ReturnType<typeof filterGradientSpec>;
  grouping?: WidthGrouping;
} {
  const grouping = widthGrouping(g);
  return { spec: filterGradientSpec(grouping?.grouped ?? g), grouping };
}

/** The filter gradient as this project's product, over groups of columns where that applies. */
function productFilterGradient(
  backend: WebGPURunner,
  g: ConvGeometry,
  [x, dy]: tf.TensorInfo[],
  filterShape: number[],
): tf.TensorInfo {
  const { spec, grouping } = filterGradientProduct(g);
  if (!grouping) return runProduct(backend, spec, [x, dy], filterShape);
  const work = new KernelWorkspace(backend as unknown as tf.KernelBackend, "webgpu");
  const [height, , , out] = filterShape;
  const grouped = runProduct(backend, spec, [groupInput(work, x, grouping), dy], [
    height,
    grouping.filterWidth,
    1,
    out,
  ]);
  const gradient = ungroupFilterGradient(work, grouped, filterShape);
  work.release(gradient);
  return gradient;
}

/** The previous tiled kernel (for measurements against it). */
function tiledFilterGradient(
  backend: WebGPURunner,
  g: ConvGeometry,
  inputs: tf.TensorInfo[],
  filterShape: number[],
): tf.TensorInfo {
  const { rows, columns, terms } = filterGradientSpec(g);
  const { splits, depth } = reductionSplit(
    { rows, columns, terms },
    { threadsI: 16, threadsJ: 16, perThreadI: 4, perThreadJ: 4, depth: TILED_DEPTH },
    {
      workgroups: webgpuKernelOptions().targetWorkgroups,
      splits: webgpuKernelOptions().splits,
      minDepth: 1024,
    },
  );
  const program = new FilterGradientTiledProgram(filterShape, rows, columns, splits);
  const partial = backend.runWebGPUProgram(
    program,
    inputs,
    "float32",
    tiledUniforms(g, { rows, columns, terms }, depth),
  );
  if (splits === 1) return partial;
  const total = backend.runWebGPUProgram(new SumSplitsProgram(filterShape), [partial], "float32", [
    { type: "int32", data: [splits] },
  ]);
  backend.disposeData(partial.dataId);
  return total;
}

/**
 * Replaces tfjs-backend-webgpu's `Conv2DBackpropFilter` for NHWC without
 * dilation with the variant the kernel options choose (once); other cases
 * keep tfjs's kernel.
 */
export const registerConvFilterGradient: () => void = once(() => {
  overrideKernel("Conv2DBackpropFilter", "webgpu", (original) => (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as tf.NamedAttrMap;
    const filterShape = attrs.filterShape as number[];
    const variant = webgpuKernelOptions().filterGradient;
    const backend = args.backend as unknown as WebGPURunner;
    if (variant === "tfjs" || attrs.dataFormat === "NCHW" || !storedAsFloat32(backend, [x, dy])) {
      return original(args);
    }
    const g = convGeometry(convGradientInfo(x.shape, filterShape, attrs));
    return variant === "tiled"
      ? tiledFilterGradient(backend, g, [x, dy], filterShape)
      : productFilterGradient(backend, g, [x, dy], filterShape);
  });
});
