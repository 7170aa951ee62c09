import type * as tf from "@tensorflow/tfjs";
import type { KernelWorkspace } from "./kernel_workspace.ts";

/**
 * The padding (top, bottom, left, right) under which the input gradient of
 * a stride-1 convolution is itself a convolution, or undefined for a
 * strided one (or one cropping more than the filter).
 */
export function inputGradientPads(
  info: tf.backend_util.Conv2DInfo,
): [number, number, number, number] | undefined {
  const { padInfo, filterHeight, filterWidth } = info;
  const pads: [number, number, number, number] = [
    filterHeight - 1 - padInfo.top,
    filterHeight - 1 - padInfo.bottom,
    filterWidth - 1 - padInfo.left,
    filterWidth - 1 - padInfo.right,
  ];
  const strided = info.strideHeight !== 1 || info.strideWidth !== 1;
  return strided || pads.some((p) => p < 0) ? undefined : pads;
}

/**
 * The filter [h, w, in, out] turned by 180° with its channels swapped
 * ([h, w, out, in]), by the backend's Reverse and Transpose kernels. The
 * result is `work`'s to release or keep.
 */
export function turnFilterByKernels(work: KernelWorkspace, filter: tf.TensorInfo): tf.TensorInfo {
  const turned = work.run("Reverse", { x: filter }, { dims: [0, 1] });
  return work.run("Transpose", { x: turned }, { perm: [0, 1, 3, 2] });
}

/**
 * The input gradient of a stride-1 2-D convolution (NHWC) as the backend's
 * forward convolution: dy convolved with the filter turned by 180° and with
 * its channels swapped (`turned`, see {@link turnFilterByKernels}), padded
 * by `pads` (see {@link inputGradientPads}). Backends' forward convolutions
 * are their fastest kernels; their input gradients are plain loops. The
 * result is `work`'s to release or keep.
 */
export function inputGradientByConvolution(
  work: KernelWorkspace,
  options: { dy: tf.TensorInfo; turned: tf.TensorInfo; pads: [number, number, number, number] },
): tf.TensorInfo {
  const { dy, turned, pads } = options;
  return work.run("Conv2D", { x: dy, filter: turned }, {
    strides: [1, 1],
    pad: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]],
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
}
