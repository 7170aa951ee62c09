import * as tf from "@tensorflow/tfjs";
import { DROPOUT_MASK, type DropoutMaskAttrs } from "../backend/dropout_mask.ts";
import { mixSeed } from "../data/random.ts";
import { NUM_CLASSES } from "../data/load.ts";
import { type LayerMoments, recordMoments } from "./batch_statistics.ts";
import { activate, type Activation, activationLayer } from "./layers/activation.ts";
import { batchNormTraining } from "./layers/batch_norm.ts";
import { type ConvGeometry, convolution } from "./layers/convolution.ts";
import { denseLayer, type GradientSink } from "./layers/dense.ts";

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

/** What a forward pass in training needs besides the images. */
export interface TrainingPass {
  dropout: DropoutPlan;
  /** Receives each batch norm's moments of this pass (dropped when absent). */
  moments?: LayerMoments;
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Training: dropout masks and batch statistics. Absent: evaluation (running statistics, no dropout). */
  training?: TrainingPass;
  /** Free each tensor once the layers that read it have run (inference: no gradients recorded). */
  release?: boolean;
  /** Where the dense layers send their weight gradients (see `denseLayer`). */
  sink?: GradientSink;
}

/** One layer of a model's graph: the ids of the symbolic tensors it reads and writes. */
interface GraphStep {
  layer: tf.layers.Layer;
  inputs: number[];
  output: number;
}

/** A model's layers in an order that computes each input first, and who reads each tensor. */
interface ModelGraph {
  input: number;
  output: number;
  steps: GraphStep[];
  readers: Map<number, GraphStep[]>;
  /** The step that computes each tensor. */
  producers: Map<number, GraphStep>;
}

const ACTIVATIONS = ["relu", "sigmoid", "linear"];

function modelGraph(model: tf.LayersModel): ModelGraph {
  const steps = model.layers.filter((layer) => layer.getClassName() !== "InputLayer").map(
    (layer) => {
      const node = layer.inboundNodes[0];
      return {
        layer,
        inputs: node.inputTensors.map((tensor) => tensor.id),
        output: node.outputTensors[0].id,
      };
    },
  );
  const readers = new Map<number, GraphStep[]>();
  for (const step of steps) {
    for (const id of step.inputs) readers.set(id, [...(readers.get(id) ?? []), step]);
  }
  const producers = new Map(steps.map((step) => [step.output, step]));
  return { input: model.inputs[0].id, output: model.outputs[0].id, steps, readers, producers };
}

/** The activation of a Dense layer with a bias and one this project fuses, else undefined. */
function plainDenseActivation(layer: tf.layers.Layer): Activation | undefined {
  const { activation, useBias } = layer.getConfig() as { activation: string; useBias: boolean };
  return useBias && ACTIVATIONS.includes(activation) ? activation as Activation : undefined;
}

/** The configuration of a Conv2D layer the fused op runs (bias, NHWC, no dilation), else undefined. */
function plainConv(layer: tf.layers.Layer) {
  const config = layer.getConfig() as {
    strides: [number, number];
    padding: string;
    activation: string;
    useBias: boolean;
    dataFormat: string;
    dilationRate: number | number[];
  };
  const undilated = [config.dilationRate].flat().every((rate) => rate === 1);
  const plain = ACTIVATIONS.includes(config.activation) && config.useBias &&
    config.dataFormat === "channelsLast" && undilated &&
    (config.padding === "same" || config.padding === "valid");
  return plain
    ? {
      strides: config.strides,
      pad: config.padding as "same" | "valid",
      activation: config.activation as Activation,
    }
    : undefined;
}

/** Layers whose output is never negative when their inputs are not. */
const SIGN_KEEPING = ["Concatenate", "MaxPooling2D", "ZeroPadding2D", "Dropout"];

/**
 * Whether tensor `id` of `graph` can hold no negative value: a ReLU's
 * output, or a concatenation, pool or padding of such.
 */
function rectified(graph: ModelGraph, id: number): boolean {
  const step = graph.producers.get(id);
  if (!step) return false;
  const { activation } = step.layer.getConfig() as { activation?: string };
  if (activation === "relu") return true;
  return SIGN_KEEPING.includes(step.layer.getClassName()) &&
    step.inputs.every((input) => rectified(graph, input));
}

/** Whether a max-pool layer pads nothing (the zero padding before it does). */
function unpaddedMaxPool(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== "MaxPooling2D") return false;
  const { padding, dataFormat } = layer.getConfig() as { padding: string; dataFormat: string };
  return padding === "valid" && dataFormat === "channelsLast";
}

/** The padding of every side of a ZeroPadding2D layer when all four are equal, else undefined. */
export function evenPadding(layer: tf.layers.Layer): number | undefined {
  const { padding } = layer.getConfig() as { padding: [[number, number], [number, number]] };
  const sides = padding.flat();
  return sides.every((side) => side === sides[0]) ? sides[0] : undefined;
}

/** A batch norm layer's ε, which the training op needs. */
function batchNormConfig(layer: tf.layers.Layer): { epsilon: number } {
  return { epsilon: (layer.getConfig() as { epsilon: number }).epsilon };
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

/**
 * Runs a model's layers over its graph (a chain or a branching one). In
 * training, Dropout layers apply seeded inverted-dropout masks and batch
 * norms normalise by the batch's statistics, recording its moments; in
 * evaluation, Dropout passes its input through and batch norms use their
 * running statistics. Convolutions and dense layers with a bias run as one
 * fused op with their activation (see `convolution`, `denseLayer`), a zero
 * padding read only by a convolution becomes that convolution's own
 * padding, and in training a batch norm read only by an activation layer
 * applies it itself. Returns the logits.
 */
export function forward(
  model: tf.LayersModel,
  images: tf.Tensor4D,
  options: ForwardOptions = {},
): tf.Tensor2D {
  return new GraphPass(modelGraph(model), images, options).run() as tf.Tensor2D;
}

/** One forward pass over a model's graph: the tensors computed so far, by symbolic id. */
class GraphPass {
  private readonly values = new Map<number, tf.Tensor>();
  /** Tensor ids that stand for a zero padding their reader applies itself. */
  private readonly padding = new Map<number, number>();
  /** Readers still to run, per tensor (to free it after its last one when releasing). */
  private readonly pending = new Map<tf.Tensor, number>();
  private readonly done = new Set<GraphStep>();

  constructor(
    private readonly graph: ModelGraph,
    private readonly images: tf.Tensor4D,
    private readonly options: ForwardOptions,
  ) {}

  run(): tf.Tensor {
    this.store(this.graph.input, this.images);
    this.graph.steps.forEach((step, index) => {
      if (this.done.has(step)) return;
      const inputs = step.inputs.map((id) => this.values.get(id)!);
      this.store(step.output, this.apply(step, inputs, index));
      for (const input of inputs) this.read(input);
    });
    return this.values.get(this.graph.output)!;
  }

  private store(id: number, tensor: tf.Tensor): void {
    this.values.set(id, tensor);
    const readers = this.graph.readers.get(id)?.length ?? 0;
    this.pending.set(tensor, (this.pending.get(tensor) ?? 0) + readers);
  }

  /** Inference keeps nothing for a backward pass: a tensor can go once its readers have run. */
  private read(tensor: tf.Tensor): void {
    const left = this.pending.get(tensor)! - 1;
    this.pending.set(tensor, left);
    const kept = tensor === this.images || tensor === this.values.get(this.graph.output);
    if (this.options.release && left === 0 && !kept) tensor.dispose();
  }

  private soleReader(step: GraphStep): GraphStep | undefined {
    const readers = this.graph.readers.get(step.output) ?? [];
    return readers.length === 1 && readers[0].inputs.length === 1 ? readers[0] : undefined;
  }

  private apply(step: GraphStep, inputs: tf.Tensor[], index: number): tf.Tensor {
    const { layer } = step;
    const [x] = inputs;
    switch (layer.getClassName()) {
      case "Dropout":
        return this.dropout(layer, x, index);
      case "Dense":
        return this.dense(layer, x);
      case "Conv2D":
        return this.conv(step, x);
      case "ZeroPadding2D":
        return this.zeroPadding(step, x);
      case "BatchNormalization":
        return this.batchNorm(step, x);
      case "Activation":
        return this.activation(layer, x);
      case "MaxPooling2D":
        return this.maxPool(step, x);
      default:
        return layer.apply(inputs.length === 1 ? x : inputs) as tf.Tensor;
    }
  }

  private dropout(layer: tf.layers.Layer, x: tf.Tensor, index: number): tf.Tensor {
    const { rate } = layer.getConfig() as { rate: number };
    const plan = this.options.training?.dropout;
    if (plan === undefined || rate === 0) return x;
    return x.mul(dropoutMask(x.shape, rate, plan, index));
  }

  private dense(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
    const activation = plainDenseActivation(layer);
    if (!activation) return layer.apply(x) as tf.Tensor;
    const [weights, bias] = layer.weights.map((weight) => weight.read());
    return denseLayer(x as tf.Tensor2D, weights as tf.Variable, bias as tf.Tensor1D, {
      activation,
      sink: this.options.sink,
    });
  }

  private conv(step: GraphStep, x: tf.Tensor): tf.Tensor {
    const { layer } = step;
    const config = plainConv(layer);
    const ownPadding = this.padding.get(step.inputs[0]);
    if (!config) return layer.apply(x) as tf.Tensor;
    const geometry: ConvGeometry = { strides: config.strides, pad: ownPadding ?? config.pad };
    const [filter, bias] = layer.weights.map((weight) => weight.read());
    return convolution(x as tf.Tensor4D, filter as tf.Tensor4D, bias as tf.Tensor1D, {
      ...geometry,
      activation: config.activation,
      inputGradient: x !== this.images,
    });
  }

  /**
   * A zero padding that only an unpadded convolution reads is left to it, as
   * is one of a ReLU's output that only an unpadded max-pool reads: where
   * nothing is negative, padding with zeros and padding that never wins
   * (the pool's own) give the same maxima and send gradients to the same
   * places (a window of zeros sends its gradient to a zero the ReLU stops).
   */
  private zeroPadding(step: GraphStep, x: tf.Tensor): tf.Tensor {
    const reader = this.soleReader(step);
    const sides = evenPadding(step.layer);
    const convolves = reader && plainConv(reader.layer)?.pad === "valid";
    const pools = reader && unpaddedMaxPool(reader.layer) &&
      rectified(this.graph, step.inputs[0]);
    if (!(convolves || pools) || sides === undefined) return step.layer.apply(x) as tf.Tensor;
    this.padding.set(step.output, sides);
    return x;
  }

  private maxPool(step: GraphStep, x: tf.Tensor): tf.Tensor {
    const ownPadding = this.padding.get(step.inputs[0]);
    if (ownPadding === undefined) return step.layer.apply(x) as tf.Tensor;
    const { poolSize, strides } = step.layer.getConfig() as {
      poolSize: [number, number];
      strides: [number, number];
    };
    return tf.maxPool(x as tf.Tensor4D, poolSize, strides, ownPadding);
  }

  private batchNorm(step: GraphStep, x: tf.Tensor): tf.Tensor {
    const { layer } = step;
    const training = this.options.training;
    if (!training) return layer.apply(x) as tf.Tensor;
    const [gamma, beta] = layer.weights.map((weight) => weight.read()) as tf.Tensor1D[];
    const reader = this.soleReader(step);
    const fused = reader?.layer.getClassName() === "Activation"
      ? (reader.layer.getConfig() as { activation: string }).activation
      : undefined;
    const activation = fused && ACTIVATIONS.includes(fused) ? fused as Activation : "linear";
    const y = batchNormTraining(x, gamma, beta, {
      ...batchNormConfig(layer),
      activation,
      record: (moments) => {
        if (training.moments) recordMoments(training.moments, layer.name, moments);
        else tf.dispose([moments.mean, moments.variance]);
      },
    });
    if (activation === "linear") return y;
    // The activation layer is done: its output is this one's.
    this.done.add(reader!);
    this.store(reader!.output, y);
    this.read(y);
    return y;
  }

  private activation(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
    const { activation } = layer.getConfig() as { activation: string };
    if (!ACTIVATIONS.includes(activation)) return layer.apply(x) as tf.Tensor;
    return this.options.training
      ? activationLayer(x, activation as Activation)
      : activate(x, activation as Activation);
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
