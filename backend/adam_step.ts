import type * as tf from "@tensorflow/tfjs";

/** One parameter's tensors in an Adam step. */
export interface AdamParameter {
  value: tf.Variable;
  gradient: tf.Tensor;
  firstMoment: tf.Variable;
  secondMoment: tf.Variable;
}

/** Adam's settings, and the optimizer's scalars β₁ᵗ and β₂ᵗ of this step. */
export interface AdamStep {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  beta1Power: tf.Tensor;
  beta2Power: tf.Tensor;
}
