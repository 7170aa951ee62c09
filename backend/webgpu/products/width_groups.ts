/**
 * A convolution over one input channel (AlexNet's conv1) gives the im2col
 * loaders nothing to read four at a time: every load is one float, at an
 * address that needs a range check for the padding. When its horizontal
 * stride is a multiple of 4, it is the same convolution over its input
 * padded and cut into groups of four columns, which become the channels:
 * the filter's width padded with zero columns to a multiple of 4 and cut
 * the same way, stride 1 across groups, no padding left. Then every load
 * is an aligned `vec4` and no load checks a range. It costs a padded copy
 * of the input where it needs padding (one pass; none for AlexNet at 224)
 * and up to 3 zero columns of filter taps (conv1: 12 instead of 11, 9%
 * more multiply-adds).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { KernelWorkspace } from "../../kernel_workspace.ts";
import { webgpuKernelOptions } from "../tuning/kernel_options.ts";
import type { ConvGeometry } from "./operands.ts";

/** Columns per group: one `vec4`. */
const GROUP = 4;

/** How a convolution is run over groups of columns. */
export interface WidthGrouping {
  /** The convolution over the groups. */
  grouped: ConvGeometry;
  /** Zeros added to the input: `[[top, bottom], [left, right]]`. */
  inputPads: [[number, number], [number, number]];
  /** The filter's width padded to a multiple of 4. */
  filterWidth: number;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * The grouping of convolution `g`, or undefined where it does not apply or
 * the kernel options turn it off.
 */
export function widthGrouping(g: ConvGeometry): WidthGrouping | undefined {
  if (!webgpuKernelOptions().widthGroups) return undefined;
  if (g.inChannels !== 1 || g.strideWidth % GROUP !== 0) return undefined;
  const filterWidth = roundUp(g.filterWidth, GROUP);
  // Every window lies inside the padded input, which holds whole groups.
  const height = Math.max(
    g.padTop + g.inHeight,
    (g.outHeight - 1) * g.strideHeight + g.filterHeight,
  );
  const width = roundUp(
    Math.max(g.padLeft + g.inWidth, (g.outWidth - 1) * g.strideWidth + filterWidth),
    GROUP,
  );
  return {
    grouped: {
      ...g,
      inHeight: height,
      inWidth: width / GROUP,
      inChannels: GROUP,
      filterWidth: filterWidth / GROUP,
      strideWidth: g.strideWidth / GROUP,
      padTop: 0,
      padLeft: 0,
    },
    inputPads: [
      [g.padTop, height - g.padTop - g.inHeight],
      [g.padLeft, width - g.padLeft - g.inWidth],
    ],
    filterWidth,
  };
}

/** The input `[b, h, w, 1]` padded and seen as `[b, height, width / 4, 4]`. */
export function groupInput(
  work: KernelWorkspace,
  x: tf.TensorInfo,
  grouping: WidthGrouping,
): tf.TensorInfo {
  const [[top, bottom], [left, right]] = grouping.inputPads;
  // AlexNet's conv1 at 224 needs no padding: its input is read as it is.
  const padded = top + bottom + left + right === 0 ? x : work.run("PadV2", { x }, {
    paddings: [[0, 0], [top, bottom], [left, right], [0, 0]],
    constantValue: 0,
  } as unknown as tf.NamedAttrMap);
  const { batch, inHeight, inWidth } = grouping.grouped;
  return { ...padded, shape: [batch, inHeight, inWidth, GROUP] };
}

/** The filter `[fh, fw, 1, co]` with zero columns, seen as `[fh, fw / 4, 4, co]`. */
export function groupFilter(
  work: KernelWorkspace,
  filter: tf.TensorInfo,
  grouping: WidthGrouping,
): tf.TensorInfo {
  const [height, width, , out] = filter.shape;
  const padded = width === grouping.filterWidth ? filter : work.run("PadV2", { x: filter }, {
    paddings: [[0, 0], [0, grouping.filterWidth - width], [0, 0], [0, 0]],
    constantValue: 0,
  } as unknown as tf.NamedAttrMap);
  return { ...padded, shape: [height, grouping.filterWidth / GROUP, GROUP, out] };
}

/**
 * The grouped convolution's filter gradient, `[fh, fw padded, 1, co]`, in
 * the filter's shape: its zero columns' gradient dropped.
 */
export function ungroupFilterGradient(
  work: KernelWorkspace,
  gradient: tf.TensorInfo,
  filterShape: number[],
): tf.TensorInfo {
  work.adopt(gradient);
  return work.run("Slice", { x: gradient }, {
    begin: [0, 0, 0, 0],
    size: filterShape,
  } as unknown as tf.NamedAttrMap);
}
