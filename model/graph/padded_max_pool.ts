import * as tf from "@tensorflow/tfjs";
import { definePaddedMaxPooling2D } from "./padded_max_pool.js";

/** The layer class, registered with this process's tfjs so that checkpoints holding it load. */
const PaddedMaxPooling2D = definePaddedMaxPooling2D(tf);

/** The configuration of {@link paddedMaxPooling2d}. */
export interface PaddedMaxPoolingConfig {
  poolSize: number;
  strides: number;
  /** Rows and columns of −∞ on every side. */
  padding: number;
  name: string;
}

/** A max-pool padded with −∞ on every side, as PyTorch's `MaxPool2d(size, stride, padding)`. */
export function paddedMaxPooling2d(config: PaddedMaxPoolingConfig): tf.layers.Layer {
  return new PaddedMaxPooling2D(config);
}
