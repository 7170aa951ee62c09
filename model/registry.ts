import type * as tf from "@tensorflow/tfjs";
import { SettingError } from "../errors.ts";
import { ALEXNET_MIN_RESIZE, alexNetLayers, buildAlexNet } from "./alexnet.ts";
import { buildLeNet, leNetLayers } from "./lenet.ts";
import type { NetworkOptions } from "./network_options.ts";

/** Names of the networks this toolkit builds. */
export type ModelName = "alexnet" | "lenet" | "lenet-relu";

/** How to build a network and which input sides it takes. */
export interface ModelSpec {
  /** Input side used when no other is asked for. */
  defaultResize: number;
  minResize: number;
  maxResize: number;
  /** Builds the network; a `null` seed gives all-zero weights (see `torchDefaultInit`). */
  build(options: NetworkOptions): tf.Sequential;
  /** The network's layers, not yet built (no weights allocated). */
  layers(options: NetworkOptions): tf.layers.Layer[];
}

/** The networks by name. */
export const MODELS: Record<ModelName, ModelSpec> = {
  alexnet: {
    defaultResize: 224,
    minResize: ALEXNET_MIN_RESIZE,
    maxResize: 1024,
    build: buildAlexNet,
    layers: alexNetLayers,
  },
  lenet: {
    defaultResize: 28,
    minResize: 28,
    maxResize: 28,
    build: ({ seed }) => buildLeNet({ seed, relu: false }),
    layers: ({ seed }) => leNetLayers({ seed, relu: false }),
  },
  "lenet-relu": {
    defaultResize: 28,
    minResize: 28,
    maxResize: 28,
    build: ({ seed }) => buildLeNet({ seed, relu: true }),
    layers: ({ seed }) => leNetLayers({ seed, relu: true }),
  },
};

/** The names of the networks, as `buildModel` takes them. */
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** Throws a `SettingError` on `resize` when the network cannot take inputs of that side. */
export function checkResize(name: ModelName, resize: number): void {
  const { minResize, maxResize } = MODELS[name];
  const reason = minResize === maxResize && resize !== minResize
    ? `${name} takes the ${minResize}×${minResize} images as they are`
    : resize < minResize
    ? `${name} needs inputs of at least ${minResize}×${minResize} (its feature map vanishes below that)`
    : resize > maxResize
    ? `${name} takes inputs of at most ${maxResize}×${maxResize}`
    : !Number.isInteger(resize)
    ? "must be an integer"
    : undefined;
  if (reason) throw new SettingError("resize", resize, reason);
}

/**
 * Builds the named network for inputs of side `resize`, weights drawn from
 * `seed` (`null`: all zero, for a copy whose weights are overwritten).
 */
export function buildModel(name: ModelName, options: NetworkOptions): tf.Sequential {
  checkResize(name, options.resize);
  return MODELS[name].build(options);
}
