import * as tf from "@tensorflow/tfjs";
import { torchDefaultInit } from "./init.ts";
import { type GraphTensor, NetworkGraph } from "./network_graph.ts";
import { paddedMaxPooling2d } from "./padded_max_pool.ts";

/** An activation the book's networks use after a layer. */
export type Activation = "relu" | "sigmoid" | "linear";

/** A convolution as PyTorch's `Conv2d` takes it (square kernels, symmetric zero padding). */
export interface ConvSpec {
  name: string;
  filters: number;
  kernel: number;
  stride?: number;
  padding?: number;
  /** Applied by the layer itself (default none: a batch norm follows). */
  activation?: Activation;
}

/** A pooling window as PyTorch's `MaxPool2d` and `AvgPool2d` take it. */
export interface PoolSpec {
  name: string;
  size: number;
  stride?: number;
  padding?: number;
}

/**
 * Makes the layers of the book's networks with PyTorch's semantics on a
 * {@link NetworkGraph}, each initialised as PyTorch initialises it from its
 * own stream of the run's seed (numbered in the order layers are made).
 *
 * PyTorch pads symmetrically; tfjs's "same" does so only at stride 1 with
 * an odd window, and pads the end alone at stride 2. Other paddings become
 * a `ZeroPadding2D` before an unpadded layer. For a max-pool that pads with
 * −∞, zeros are the same where the input cannot be negative (this builder
 * knows which tensors come out of a ReLU, a sigmoid or a pool of those);
 * elsewhere it is a `PaddedMaxPooling2D`, which pads with −∞ itself.
 */
export class NetworkBuilder {
  readonly graph: NetworkGraph;
  /** Tensors that hold no negative value. */
  private readonly nonNegative = new Set<number>();
  private layerCount = 0;

  constructor(name: string, readonly inputShape: number[], readonly seed: number | null) {
    this.graph = new NetworkGraph(name, inputShape);
  }

  /** The images. */
  get input(): GraphTensor {
    return this.graph.input;
  }

  /** The network whose logits are `output`. */
  finish(output: GraphTensor): NetworkGraph {
    return this.graph.finish(output);
  }

  /** The first layer is told its input's shape: a `Sequential` needs it. */
  private inputShapeOf(x: GraphTensor): { inputShape?: number[] } {
    return x.id === this.graph.input.id ? { inputShape: this.inputShape } : {};
  }

  private channels(x: GraphTensor): number {
    return x.shape[x.shape.length - 1] as number;
  }

  private add(layer: tf.layers.Layer, x: GraphTensor | GraphTensor[], nonNegative: boolean) {
    const output = this.graph.apply(layer, x);
    if (nonNegative) this.nonNegative.add(output.id);
    return output;
  }

  private isNonNegative(x: GraphTensor): boolean {
    return this.nonNegative.has(x.id);
  }

  /** Zero padding of `padding` on every side, unless tfjs's "same" is already that. */
  private padded(
    x: GraphTensor,
    spec: { name: string; size: number; stride: number; padding: number },
  ) {
    const { name, size, stride, padding } = spec;
    if (padding === 0) return { x, padding: "valid" as const };
    if (stride === 1 && 2 * padding === size - 1) return { x, padding: "same" as const };
    const layer = tf.layers.zeroPadding2d({
      padding,
      name: `${name}_pad`,
      ...this.inputShapeOf(x),
    });
    return { x: this.add(layer, x, this.isNonNegative(x)), padding: "valid" as const };
  }

  /** `Conv2d(in, filters, kernel, stride, padding)`, with its activation if given. */
  conv(x: GraphTensor, spec: ConvSpec): GraphTensor {
    const { name, filters, kernel, stride = 1, padding = 0, activation = "linear" } = spec;
    const fanIn = this.channels(x) * kernel * kernel;
    const input = this.padded(x, { name, size: kernel, stride, padding });
    const layer = tf.layers.conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: input.padding,
      activation,
      name,
      ...this.inputShapeOf(input.x),
      ...torchDefaultInit(fanIn, this.seed, ++this.layerCount),
    });
    return this.add(layer, input.x, activation !== "linear");
  }

  /** `BatchNorm2d` or `BatchNorm1d` with PyTorch's defaults (momentum 0.1, ε 1e-5). */
  batchNorm(x: GraphTensor, name: string): GraphTensor {
    // tfjs keeps `momentum` of the running statistics where PyTorch keeps 1 − momentum.
    return this.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }), x, false);
  }

  /** An activation layer of its own. */
  activation(x: GraphTensor, activation: Activation, name: string): GraphTensor {
    return this.add(tf.layers.activation({ activation, name }), x, activation !== "linear");
  }

  /** `MaxPool2d(size, stride, padding)`, padding as −∞. */
  maxPool(x: GraphTensor, spec: PoolSpec): GraphTensor {
    const { name, size, stride = size, padding = 0 } = spec;
    const exact = padding === 0 || (stride === 1 && 2 * padding === size - 1) ||
      this.isNonNegative(x);
    if (!exact) {
      return this.add(
        paddedMaxPooling2d({ poolSize: size, strides: stride, padding, name }),
        x,
        false,
      );
    }
    const input = this.padded(x, { name, size, stride, padding });
    const layer = tf.layers.maxPooling2d({
      poolSize: size,
      strides: stride,
      padding: input.padding,
      name,
    });
    return this.add(layer, input.x, this.isNonNegative(x));
  }

  /** `AvgPool2d(size, stride)`: the mean of each window, unpadded. */
  avgPool(x: GraphTensor, spec: PoolSpec): GraphTensor {
    const { name, size, stride = size } = spec;
    if (spec.padding) throw new Error(`${name}: padded average pooling is not supported`);
    const layer = tf.layers.averagePooling2d({ poolSize: size, strides: stride, name });
    return this.add(layer, x, this.isNonNegative(x));
  }

  /** The mean over the whole feature map, per channel (`AdaptiveAvgPool2d(1)` then `Flatten`). */
  globalAvgPool(x: GraphTensor, name: string): GraphTensor {
    return this.add(tf.layers.globalAveragePooling2d({ name }), x, this.isNonNegative(x));
  }

  flatten(x: GraphTensor, name = "flatten"): GraphTensor {
    return this.add(tf.layers.flatten({ name }), x, this.isNonNegative(x));
  }

  /** `Linear(in, units)`, with its activation if given. */
  dense(x: GraphTensor, spec: { name: string; units: number; activation?: Activation }) {
    const { name, units, activation = "linear" } = spec;
    const layer = tf.layers.dense({
      units,
      activation,
      name,
      ...torchDefaultInit(this.channels(x), this.seed, ++this.layerCount),
    });
    return this.add(layer, x, activation !== "linear");
  }

  dropout(x: GraphTensor, rate: number, name: string): GraphTensor {
    return this.add(tf.layers.dropout({ rate, name }), x, this.isNonNegative(x));
  }

  /** `torch.cat(xs, dim=1)`: the channels of `xs` side by side. */
  concat(xs: GraphTensor[], name: string): GraphTensor {
    return this.add(tf.layers.concatenate({ name }), xs, xs.every((x) => this.isNonNegative(x)));
  }

  /** `a + b`, element-wise. */
  sum(xs: GraphTensor[], name: string): GraphTensor {
    return this.add(tf.layers.add({ name }), xs, xs.every((x) => this.isNonNegative(x)));
  }
}
