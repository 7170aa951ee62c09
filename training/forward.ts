import * as tf from "@tensorflow/tfjs";
import { DROPOUT_MASK, type DropoutMaskAttrs } from "../backend/dropout_mask.ts";
import { mixSeed } from "../data/random.ts";
import { NUM_CLASSES } from "../data/load.ts";
import { convBiasRelu, type ConvGeometry } from "./layers/conv_bias_relu.ts";
import { type DenseActivation, denseLayer, type GradientSink } from "./layers/dense.ts";

/**
 * Where a micro-batch sits in its full batch, and the seed of that batch's
 * dropout masks: a mask's elements are drawn by their place in the whole
 * batch, so splitting a batch never changes which units are dropped.
 */
export interface DropoutPlan {
  seed: number;
  batchSize: number;
  offset: number;
}

/** The inverted-dropout mask of one layer's activations (see `dropout_mask.ts`). */
function dropoutMask(
  shape: number[],
  rate: number,
  plan: DropoutPlan,
  layerIndex: number,
): tf.Tensor {
  const attrs: DropoutMaskAttrs = {
    shape,
    seed: mixSeed(plan.seed, layerIndex),
    offset: plan.offset,
    rate,
  };
  return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** The activation of a Dense layer with a bias and a ReLU or none, else undefined. */
function plainDenseActivation(layer: tf.layers.Layer): DenseActivation | undefined {
  if (layer.getClassName() !== "Dense") return undefined;
  const { activation, useBias } = layer.getConfig() as { activation: string; useBias: boolean };
  return useBias && (activation === "relu" || activation === "linear") ? activation : undefined;
}

/** The geometry of a Conv2D layer that adds a bias and applies ReLU (NHWC, no dilation), else undefined. */
function convReluGeometry(layer: tf.layers.Layer): ConvGeometry | undefined {
  if (layer.getClassName() !== "Conv2D") return undefined;
  const config = layer.getConfig() as {
    strides: [number, number];
    padding: string;
    activation: string;
    useBias: boolean;
    dataFormat: string;
    dilationRate: number | number[];
  };
  const undilated = [config.dilationRate].flat().every((rate) => rate === 1);
  const plain = config.activation === "relu" && config.useBias &&
    config.dataFormat === "channelsLast" && undilated;
  const pad = config.padding;
  return plain && (pad === "same" || pad === "valid")
    ? { strides: config.strides, pad }
    : undefined;
}

/**
 * Runs a sequential model layer by layer. With a `dropout` plan (training)
 * each Dropout layer applies a seeded inverted-dropout mask; without one
 * (evaluation) Dropout layers pass their input through. Convolutions with
 * a bias and ReLU run as one fused op (see `convBiasRelu`). With
 * `release` (inference, no gradients recorded), each layer's input is
 * freed as soon as the layer has run. Returns the logits.
 */
export function forward(
  model: tf.Sequential,
  images: tf.Tensor4D,
  dropout?: DropoutPlan,
  options: { release?: boolean; sink?: GradientSink } = {},
): tf.Tensor2D {
  let activations: tf.Tensor = images;
  model.layers.forEach((layer, index) => {
    const input = activations;
    apply(layer, index);
    // Inference keeps nothing for a backward pass: each layer's input can go at once.
    if (options.release && input !== images && input !== activations) input.dispose();
  });
  return activations as tf.Tensor2D;

  function apply(layer: tf.layers.Layer, index: number): void {
    if (layer.getClassName() === "Dropout") {
      const { rate } = layer.getConfig() as { rate: number };
      if (dropout === undefined || rate === 0) return;
      activations = activations.mul(
        dropoutMask(activations.shape, rate, dropout, index),
      );
      return;
    }
    const activation = plainDenseActivation(layer);
    if (activation) {
      const [weights, bias] = layer.weights.map((weight) => weight.read());
      activations = denseLayer(
        activations as tf.Tensor2D,
        weights as tf.Variable,
        bias as tf.Tensor1D,
        {
          activation,
          sink: options.sink,
        },
      );
      return;
    }
    const geometry = convReluGeometry(layer);
    if (geometry) {
      const [filter, bias] = layer.weights.map((weight) => weight.read());
      activations = convBiasRelu(
        activations as tf.Tensor4D,
        filter as tf.Tensor4D,
        bias as tf.Tensor1D,
        { ...geometry, inputGradient: index > 0 },
      );
    } else {
      activations = layer.apply(activations) as tf.Tensor;
    }
  }
}

/** Sum over the batch of the softmax cross-entropy between logits and integer labels. */
export function crossEntropySum(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
): tf.Scalar {
  const oneHot = tf.oneHot(labels, NUM_CLASSES);
  return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits))));
}

/** How many rows of `logits` have their largest value at the label. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.equal(tf.argMax(logits, 1), labels).toInt());
}
