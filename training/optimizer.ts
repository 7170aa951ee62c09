import * as tf from "@tensorflow/tfjs";
import type { OptimizerName } from "./state.ts";

/** The optimizer names accepted by `--optimizer`. */
export const OPTIMIZER_NAMES: OptimizerName[] = ["adam", "sgd"];

/** Adam with PyTorch's defaults (β 0.9/0.999, ε 1e-8), or plain SGD. */
export function createOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  return name === "adam"
    ? tf.train.adam(learningRate, 0.9, 0.999, 1e-8)
    : tf.train.sgd(learningRate);
}
