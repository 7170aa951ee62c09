import * as tf from "@tensorflow/tfjs";
import { transposedProductInto } from "../../backend/wasm/blas.ts";
import { activate, type Activation, activationGradient } from "./activation.ts";

/**
 * Where some weights' gradients go instead of the backward pass's result:
 * a gradient worker adds its dense layers' weight gradients straight into
 * the sum it shares with the main thread, so that its heap never holds
 * them (for AlexNet 172 MB a worker).
 */
export interface GradientSink {
  /** Whether the gradient of `weight` goes to the sink. */
  takes(weight: tf.Variable): boolean;
  /**
   * Adds the gradient of `weight`: `write(target, accumulate)` writes it
   * into the float32 memory `target` (adding to what is there when
   * `accumulate`), under whatever lock the sink holds meanwhile.
   */
  add(weight: tf.Variable, write: (target: Float32Array, accumulate: boolean) => void): void;
}

/**
 * activation(x·W + b) as one op with its own gradient, which keeps only
 * x, W and the output: dy·Wᵀ for x, xᵀ·dy for W (or into the
 * `sink` when it takes W, by the BLAS, leaving a placeholder that shares
 * W's memory),
 * the column sums of dy for b, dy first taken through the activation's
 * gradient.
 */
export function denseLayer(
  x: tf.Tensor2D,
  weights: tf.Variable,
  bias: tf.Tensor1D,
  options: { activation: Activation; sink?: GradientSink },
): tf.Tensor2D {
  const { activation, sink } = options;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input, kernel, offsets] = args as tf.Tensor[];
    // The backends' own matrix products (a BLAS on wasm); the bias and activation are small passes.
    const output = tf.tidy(() =>
      activate(tf.add(tf.matMul(input, kernel), offsets), activation)
    ) as tf.Tensor2D;
    save([input, kernel, output]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [savedInput, savedKernel, savedOutput] = saved;
          const dyLinear = activationGradient(dy as tf.Tensor2D, savedOutput, activation);
          const dx = tf.matMul(dyLinear, savedKernel, false, true);
          let dw: tf.Tensor;
          if (sink?.takes(weights)) {
            sink.add(weights, (target, accumulate) => {
              if (!transposedProductInto(savedInput, dyLinear, target, accumulate)) {
                throw new Error("a gradient sink needs the BLAS on the wasm backend");
              }
            });
            // The gradient is in the sink: tfjs gets a placeholder of W's shape sharing W's memory.
            dw = savedKernel.clone();
          } else {
            dw = tf.matMul(savedInput, dyLinear, true, false);
          }
          return [dx, dw, tf.sum(dyLinear, 0)];
        }),
    };
  });
  return op(x, weights, bias) as tf.Tensor2D;
}
