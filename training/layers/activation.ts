import * as tf from "@tensorflow/tfjs";
import { ACTIVATION_GRADIENT } from "../../backend/activation_gradient.ts";
import type { Activation } from "../../model/graph/network_builder.ts";

export type { Activation } from "../../model/graph/network_builder.ts";

/** `activation(x)`. */
export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  if (activation === "relu") return tf.relu(x);
  if (activation === "sigmoid") return tf.sigmoid(x);
  return x;
}

/**
 * The gradient before the activation, from dy and the activation's output
 * y (what the fused ops keep), in one kernel: dy where y > 0 for ReLU,
 * dy·y·(1 − y) for the sigmoid.
 */
export function activationGradient<T extends tf.Tensor>(dy: T, y: T, activation: Activation): T {
  if (activation === "linear") return dy;
  return tf.engine().runKernel(ACTIVATION_GRADIENT, { dy, y }, { activation }) as T;
}

/**
 * An activation layer of its own (after a sum or a batch norm that another
 * layer also reads) with a gradient that keeps only its output: tfjs's
 * ReLU keeps its input and computes a mask of it.
 */
export function activationLayer<T extends tf.Tensor>(x: T, activation: Activation): T {
  if (activation === "linear") return x;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const y = activate(args[0] as tf.Tensor, activation);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.tidy(() => activationGradient(dy, saved, activation)),
    };
  });
  return op(x) as T;
}
