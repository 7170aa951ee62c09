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
