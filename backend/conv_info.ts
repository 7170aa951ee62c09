import * as tf from "@tensorflow/tfjs";

/** The attributes tfjs passes to its convolution gradient kernels, besides the shapes. */
export interface ConvGradientAttrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * The geometry (padding, strides, output size…) of the 2-D convolution of an
 * input of `xShape` with a filter of `filterShape` (no dilation), read from
 * the attributes of one of its gradient kernels.
 */
export function convGradientInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode } = attrs as unknown as ConvGradientAttrs;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}
