import type * as tf from "@tensorflow/tfjs";
import { SettingError } from "../errors.ts";
import { ALEXNET_MIN_RESIZE, defineAlexNet } from "./networks/alexnet.ts";
import { defineDenseNet } from "./networks/densenet.ts";
import { defineGoogLeNet } from "./networks/googlenet.ts";
import { defineLeNet, defineLeNetBn } from "./networks/lenet.ts";
import type { NetworkGraph } from "./graph/network_graph.ts";
import type { NetworkOptions } from "./network_options.ts";
import { defineNin, ninFeatureSide } from "./networks/nin.ts";
import { defineResNet18 } from "./networks/resnet.ts";
import { defineVgg11, VGG_MIN_RESIZE } from "./networks/vgg.ts";

/** Names of the networks this toolkit builds. */
export type ModelName =
  | "alexnet"
  | "vgg11"
  | "nin"
  | "googlenet"
  | "resnet18"
  | "densenet"
  | "lenet"
  | "lenet-bn"
  | "lenet-relu";

/** How the book trains a network (with Adam): the defaults of `train` and `bench` for it. */
export interface Recipe {
  resize: number;
  batchSize: number;
  learningRate: number;
}

/** How to define a network, which input sides it takes, and how the book trains it. */
export interface ModelSpec {
  /** The network's name as the book writes it (in reports). */
  title: string;
  recipe: Recipe;
  minResize: number;
  maxResize: number;
  /** Why the sides stop where they do, for messages (default: the feature map vanishes). */
  limits?: string;
  /** The network's graph, its layers not yet built (no weights allocated). */
  define(options: NetworkOptions): NetworkGraph;
}

/** The sides from `min` to `max` for which `fits` holds: NiN's pool must leave one value. */
function sidesWhere(fits: (side: number) => boolean, min: number, max: number) {
  const sides = Array.from({ length: max - min + 1 }, (_, i) => min + i).filter(fits);
  return { minResize: sides[0], maxResize: sides[sides.length - 1] };
}

/** The book's 28×28 images as they are. */
const NATIVE = { minResize: 28, maxResize: 28 };
/** Networks whose every layer pads or shrinks gently: any side from the images' own. */
const ANY_SIDE = {
  minResize: 28,
  maxResize: 512,
  limits: "from the images' own 28×28 to 512×512",
};

/** The networks by name, in the order of the book's chapter. */
export const MODELS: Record<ModelName, ModelSpec> = {
  lenet: {
    title: "LeNet",
    recipe: { resize: 28, batchSize: 256, learningRate: 0.001 },
    ...NATIVE,
    define: ({ seed }) => defineLeNet({ seed, relu: false }),
  },
  "lenet-relu": {
    title: "LeNet-ReLU",
    recipe: { resize: 28, batchSize: 128, learningRate: 0.001 },
    ...NATIVE,
    define: ({ seed }) => defineLeNet({ seed, relu: true }),
  },
  alexnet: {
    title: "AlexNet",
    recipe: { resize: 224, batchSize: 128, learningRate: 0.001 },
    minResize: ALEXNET_MIN_RESIZE,
    maxResize: 1024,
    define: defineAlexNet,
  },
  vgg11: {
    title: "VGG-11",
    recipe: { resize: 224, batchSize: 64, learningRate: 0.001 },
    minResize: VGG_MIN_RESIZE,
    maxResize: 1024,
    define: defineVgg11,
  },
  nin: {
    title: "NiN",
    recipe: { resize: 224, batchSize: 128, learningRate: 0.002 },
    ...sidesWhere((side) => ninFeatureSide(side) >= 5 && ninFeatureSide(side) <= 9, 28, 1024),
    limits: "its last 5×5 average pool must leave one value per class",
    define: defineNin,
  },
  googlenet: {
    title: "GoogLeNet",
    recipe: { resize: 96, batchSize: 128, learningRate: 0.001 },
    ...ANY_SIDE,
    define: defineGoogLeNet,
  },
  "lenet-bn": {
    title: "LeNet with batch norm",
    recipe: { resize: 28, batchSize: 256, learningRate: 0.001 },
    ...NATIVE,
    define: defineLeNetBn,
  },
  resnet18: {
    title: "ResNet-18",
    recipe: { resize: 96, batchSize: 256, learningRate: 0.001 },
    ...ANY_SIDE,
    define: defineResNet18,
  },
  densenet: {
    title: "DenseNet",
    recipe: { resize: 96, batchSize: 256, learningRate: 0.001 },
    ...ANY_SIDE,
    define: defineDenseNet,
  },
};

/** The names of the networks, as `buildModel` takes them. */
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** Throws a `SettingError` on `resize` when the network cannot take inputs of that side. */
export function checkResize(name: ModelName, resize: number): void {
  const { minResize, maxResize, limits = "its feature map vanishes below that" } = MODELS[name];
  const reason = minResize === maxResize && resize !== minResize
    ? `${name} takes the ${minResize}×${minResize} images as they are`
    : resize < minResize
    ? `${name} needs inputs of at least ${minResize}×${minResize} (${limits})`
    : resize > maxResize
    ? `${name} takes inputs of at most ${maxResize}×${maxResize} (${limits})`
    : !Number.isInteger(resize)
    ? "must be an integer"
    : undefined;
  if (reason) throw new SettingError("resize", resize, reason);
}

/** The graph of the named network for inputs of side `resize` (no weights allocated). */
export function defineModel(name: ModelName, options: NetworkOptions): NetworkGraph {
  checkResize(name, options.resize);
  return MODELS[name].define(options);
}

/**
 * Builds the named network for inputs of side `resize`, weights drawn from
 * `seed` (`null`: all zero, for a copy whose weights are overwritten).
 */
export function buildModel(name: ModelName, options: NetworkOptions): tf.LayersModel {
  return defineModel(name, options).build();
}
