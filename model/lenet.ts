import * as tf from "@tensorflow/tfjs";
import { torchDefaultInit } from "./init.ts";

/** Options of {@link buildLeNet}. */
export interface LeNetOptions {
  /** Seed of the initial weights; `null`: all zero (see `torchDefaultInit`). */
  seed: number | null;
  /** `true`: the modern variant with ReLU and max pooling; `false`: the book's sigmoid and average pooling. */
  relu: boolean;
}

/**
 * LeNet-5 as in the book, for 28×28 inputs: conv 6@5×5 p2, pool 2/2,
 * conv 16@5×5, pool 2/2, flatten, dense 120, dense 84, dense 10 (logits),
 * with PyTorch's default initialisation drawn from `seed`.
 */
export function buildLeNet(options: LeNetOptions): tf.Sequential {
  return tf.sequential({
    name: options.relu ? "lenet_relu" : "lenet",
    layers: leNetLayers(options),
  });
}

/** The layers of {@link buildLeNet}, not yet built (no weights allocated). */
export function leNetLayers(options: LeNetOptions): tf.layers.Layer[] {
  const { seed, relu } = options;
  const activation = relu ? "relu" : "sigmoid";
  const pool = (index: number) =>
    relu
      ? tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${index}` })
      : tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `pool${index}` });
  return [
    tf.layers.conv2d({
      inputShape: [28, 28, 1],
      filters: 6,
      kernelSize: 5,
      padding: "same",
      activation,
      name: "conv1",
      ...torchDefaultInit(1 * 25, seed, 1),
    }),
    pool(1),
    tf.layers.conv2d({
      filters: 16,
      kernelSize: 5,
      activation,
      name: "conv2",
      ...torchDefaultInit(6 * 25, seed, 2),
    }),
    pool(2),
    tf.layers.flatten({ name: "flatten" }),
    tf.layers.dense({
      units: 120,
      activation,
      name: "dense1",
      ...torchDefaultInit(400, seed, 11),
    }),
    tf.layers.dense({
      units: 84,
      activation,
      name: "dense2",
      ...torchDefaultInit(120, seed, 12),
    }),
    tf.layers.dense({ units: 10, name: "dense3", ...torchDefaultInit(84, seed, 13) }),
  ];
}
