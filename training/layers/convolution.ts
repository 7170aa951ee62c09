import * as tf from "@tensorflow/tfjs";
import { type Activation, activationGradient } from "./activation.ts";

/** Stride and padding of a 2-D convolution (NHWC, no dilation); a number pads every side alike. */
export interface ConvGeometry {
  strides: [number, number];
  pad: "same" | "valid" | number;
}

/**
 * activation(conv2d(x, filter) + bias) as one FusedConv2D kernel, with its
 * own gradient that keeps only x, the filter and the output. While
 * recording gradients, tfjs's layers run Conv2D, Add and the activation
 * apart and keep all three outputs for the backward pass: 2 × 68 MB more
 * at AlexNet's first layer (64 examples), about 300 MB over its five.
 * Without `inputGradient` (a network's first layer, whose input is the
 * images) no gradient flows to x: tfjs skips gradients nobody asked for,
 * but an op's own gradient computes all it returns (for AlexNet's first
 * layer, about as long as the rest of the backward pass).
 */
export function convolution(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  options: ConvGeometry & { activation: Activation; inputGradient: boolean },
): tf.Tensor4D {
  const { inputGradient, activation, ...geometry } = options;
  const attrs = { ...geometry, dataFormat: "NHWC", dilations: [1, 1] };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [weights, offsets, input = x] = args as tf.Tensor[];
    const output = tf.engine().runKernel(
      "FusedConv2D",
      { x: input, filter: weights, bias: offsets },
      { ...attrs, activation },
    ) as tf.Tensor4D;
    save([input, weights, output]);
    return {
      value: output,
      // In a tidy: tfjs runs an op's own gradient outside any, so its
      // temporaries (the ReLU mask, the masked gradient) would live until the
      // whole backward pass ends (they raised AlexNet's peak of live tensors
      // by a fifth).
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [savedInput, savedWeights, savedOutput] = saved;
          const dyLinear = activationGradient(dy as tf.Tensor4D, savedOutput, activation);
          const gradients = [
            tf.engine().runKernel(
              "Conv2DBackpropFilter",
              { x: savedInput, dy: dyLinear },
              { ...attrs, filterShape: savedWeights.shape },
            ) as tf.Tensor,
            tf.sum(dyLinear, [0, 1, 2]),
          ];
          if (!inputGradient) return gradients;
          const inputGradientValue = tf.engine().runKernel(
            "Conv2DBackpropInput",
            { dy: dyLinear, filter: savedWeights },
            { ...attrs, inputShape: savedInput.shape },
          ) as tf.Tensor;
          return [...gradients, inputGradientValue];
        }),
    };
  });
  return (inputGradient ? op(filter, bias, x) : op(filter, bias)) as tf.Tensor4D;
}
