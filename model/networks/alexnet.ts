import * as tf from "@tensorflow/tfjs";
import { SettingError } from "../../errors.ts";
import { torchDefaultInit } from "../graph/init.ts";
import { NetworkGraph } from "../graph/network_graph.ts";
import type { NetworkOptions } from "../network_options.ts";

/** Smallest input side that survives AlexNet's three poolings. */
export const ALEXNET_MIN_RESIZE = 67;

/** Side of AlexNet's last feature map for an input of side `resize` (5 at 224, 1 from 67 to 98). */
export function alexnetFeatureSide(resize: number): number {
  let side = Math.floor((resize - 11) / 4) + 1;
  for (let pool = 0; pool < 3; pool++) side = Math.floor((side - 3) / 2) + 1;
  return side;
}

/**
 * The book's "simplified AlexNet" for 1-channel `resize × resize` inputs,
 * layer for layer as its PyTorch code, with PyTorch's default
 * initialisation drawn from `seed` (`null`: all zero):
 * conv 96@11×11/4, pool 3/2, conv 256@5×5 p2, pool 3/2, conv 384, 384,
 * 256 @3×3 p1, pool 3/2, flatten, dense 4096, dropout 0.5, dense 4096,
 * dropout 0.5, dense 10 (logits).
 */
export function defineAlexNet(options: NetworkOptions): NetworkGraph {
  const { resize } = options;
  return NetworkGraph.chain("alexnet", [resize, resize, 1], alexNetLayers(options));
}

/** The layers of {@link defineAlexNet}, not yet built (no weights allocated). */
function alexNetLayers(options: NetworkOptions): tf.layers.Layer[] {
  const { resize, seed, dropout = 0.5 } = options;
  if (!Number.isInteger(resize) || resize < ALEXNET_MIN_RESIZE) {
    throw new SettingError(
      "resize",
      resize,
      `alexnet needs inputs of at least ${ALEXNET_MIN_RESIZE}×${ALEXNET_MIN_RESIZE} (its feature map vanishes below that)`,
    );
  }
  const side = alexnetFeatureSide(resize);
  const conv = (
    index: number,
    inChannels: number,
    filters: number,
    kernelSize: number,
    strides: number,
    inputShape?: number[],
  ) =>
    tf.layers.conv2d({
      inputShape,
      filters,
      kernelSize,
      strides,
      padding: strides === 1 ? "same" : "valid",
      activation: "relu",
      name: `conv${index}`,
      ...torchDefaultInit(inChannels * kernelSize * kernelSize, seed, index),
    });
  const dense = (index: number, inUnits: number, units: number, relu: boolean) =>
    tf.layers.dense({
      units,
      activation: relu ? "relu" : "linear",
      name: `dense${index}`,
      ...torchDefaultInit(inUnits, seed, 10 + index),
    });
  const pool = (index: number) =>
    tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: `pool${index}` });
  return [
    conv(1, 1, 96, 11, 4, [resize, resize, 1]),
    pool(1),
    conv(2, 96, 256, 5, 1),
    pool(2),
    conv(3, 256, 384, 3, 1),
    conv(4, 384, 384, 3, 1),
    conv(5, 384, 256, 3, 1),
    pool(3),
    tf.layers.flatten({ name: "flatten" }),
    dense(1, 256 * side * side, 4096, true),
    tf.layers.dropout({ rate: dropout, name: "dropout1" }),
    dense(2, 4096, 4096, true),
    tf.layers.dropout({ rate: dropout, name: "dropout2" }),
    dense(3, 4096, 10, false),
  ];
}
