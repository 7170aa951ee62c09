import * as tf from "@tensorflow/tfjs";

/** The geometry of a 2-D pooling kernel's call (NHWC), from its input and attributes. */
export function poolInfo(input: tf.TensorInfo, attrs: tf.NamedAttrMap): tf.backend_util.Conv2DInfo {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: "valid" | "same" | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  return tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/** Whether the windows tile the input: no overlap, no gap between them, no padding. */
export function tiles(info: tf.backend_util.Conv2DInfo): boolean {
  const { padInfo } = info;
  return info.strideHeight === info.filterHeight && info.strideWidth === info.filterWidth &&
    padInfo.top === 0 && padInfo.left === 0 && padInfo.bottom === 0 && padInfo.right === 0 &&
    info.dilationHeight === 1 && info.dilationWidth === 1;
}
