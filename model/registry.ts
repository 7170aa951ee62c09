import type * as tf from "@tensorflow/tfjs";
import { InputError } from "../errors.ts";
import { ALEXNET_MIN_RESIZE, buildAlexNet } from "./alexnet.ts";
import { buildLeNet } from "./lenet.ts";

/** Names of the networks this toolkit builds. */
export type ModelName = "alexnet" | "lenet" | "lenet-relu";

/** How to build a network and which input sides it takes. */
export interface ModelSpec {
  /** Input side used when `--resize` is not given. */
  defaultResize: number;
  minResize: number;
  maxResize: number;
  /** Builds the network; a `null` seed gives all-zero weights (see `torchDefaultInit`). */
  build(options: { resize: number; seed: number | null }): tf.Sequential;
}

/** The networks by name. */
export const MODELS: Record<ModelName, ModelSpec> = {
  alexnet: {
    defaultResize: 224,
    minResize: ALEXNET_MIN_RESIZE,
    maxResize: 1024,
    build: buildAlexNet,
  },
  lenet: {
    defaultResize: 28,
    minResize: 28,
    maxResize: 28,
    build: ({ seed }) => buildLeNet({ seed, relu: false }),
  },
  "lenet-relu": {
    defaultResize: 28,
    minResize: 28,
    maxResize: 28,
    build: ({ seed }) => buildLeNet({ seed, relu: true }),
  },
};

/** The model names accepted by `--model`. */
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** Throws an `InputError` naming `--resize` when the network cannot take inputs of that side. */
export function checkResize(name: ModelName, resize: number): void {
  const { minResize, maxResize } = MODELS[name];
  if (minResize === maxResize && resize !== minResize) {
    throw new InputError(
      `--resize ${resize}: ${name} takes the ${minResize}×${minResize} images as they are (leave --resize out)`,
    );
  }
  if (resize < minResize) {
    throw new InputError(
      `--resize ${resize}: ${name} needs inputs of at least ${minResize}×${minResize} (its feature map vanishes below that)`,
    );
  }
  if (resize > maxResize) {
    throw new InputError(
      `--resize ${resize}: ${name} takes inputs of at most ${maxResize}×${maxResize}`,
    );
  }
}

/**
 * Builds the named network for inputs of side `resize`, weights drawn from
 * `seed` (`null`: all zero, for a copy whose weights are overwritten).
 */
export function buildModel(
  name: ModelName,
  options: { resize: number; seed: number | null },
): tf.Sequential {
  checkResize(name, options.resize);
  return MODELS[name].build(options);
}
