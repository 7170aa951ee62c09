import * as tf from "@tensorflow/tfjs";
import { torchDefaultInit } from "../graph/init.ts";
import { type GraphTensor, NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

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
export function defineLeNet(options: LeNetOptions): NetworkGraph {
  return NetworkGraph.chain(
    options.relu ? "lenet_relu" : "lenet",
    [28, 28, 1],
    leNetLayers(options),
  );
}

/** The layers of {@link defineLeNet}, not yet built (no weights allocated). */
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

/**
 * LeNet with batch normalisation as the book's PyTorch port trains it: the
 * port's LeNet (unpadded 5×5 convolutions, 2×2 max-pools, dense 256 → 120
 * → 84 → 10) with a batch norm after each convolution and hidden dense
 * layer, before its sigmoid.
 */
export function defineLeNetBn(options: NetworkOptions): NetworkGraph {
  const net = new NetworkBuilder("lenet_bn", [28, 28, 1], options.seed);
  const normalised = (x: GraphTensor, index: number) =>
    net.activation(net.batchNorm(x, `bn${index}`), "sigmoid", `sigmoid${index}`);
  let x = normalised(net.conv(net.input, { name: "conv1", filters: 6, kernel: 5 }), 1);
  x = net.maxPool(x, { name: "pool1", size: 2 });
  x = normalised(net.conv(x, { name: "conv2", filters: 16, kernel: 5 }), 2);
  x = net.flatten(net.maxPool(x, { name: "pool2", size: 2 }));
  x = normalised(net.dense(x, { name: "dense1", units: 120 }), 3);
  x = normalised(net.dense(x, { name: "dense2", units: 84 }), 4);
  return net.finish(net.dense(x, { name: "dense3", units: 10 }));
}
