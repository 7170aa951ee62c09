import * as tf from "@tensorflow/tfjs";
import { reluGradient } from "../runtime/wasm_relu_grad.ts";

/** Stride and padding of a 2-D convolution (NHWC, no dilation). */
export interface ConvGeometry {
  strides: [number, number];
  pad: "same" | "valid";
}

/**
 * relu(conv2d(x, filter) + bias) as one FusedConv2D kernel, with its own
 * gradient that keeps only x, the filter and the output. While recording
 * gradients, tfjs's layers run Conv2D, Add and Relu apart and keep all
 * three outputs for the backward pass: 2 × 68 MB more at AlexNet's first
 * layer (64 examples), about 300 MB over its five.
 */
export function convBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  geometry: ConvGeometry,
): tf.Tensor4D {
  const attrs = { ...geometry, dataFormat: "NHWC", dilations: [1, 1] };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, weights, offsets] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const output = tf.engine().runKernel(
      "FusedConv2D",
      { x: input, filter: weights, bias: offsets },
      { ...attrs, activation: "relu" },
    ) as tf.Tensor4D;
    save([input, weights, output]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, savedWeights, savedOutput] = saved;
        const dyLinear = reluGradient(dy, savedOutput) as tf.Tensor4D;
        return [
          tf.engine().runKernel(
            "Conv2DBackpropInput",
            { dy: dyLinear, filter: savedWeights },
            { ...attrs, inputShape: savedInput.shape },
          ) as tf.Tensor,
          tf.engine().runKernel(
            "Conv2DBackpropFilter",
            { x: savedInput, dy: dyLinear },
            { ...attrs, filterShape: savedWeights.shape },
          ) as tf.Tensor,
          tf.sum(dyLinear, [0, 1, 2]),
        ];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}
