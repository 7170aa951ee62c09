import type { GraphTensor, NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

/** Side of NiN's last feature map for an input of side `resize` (5 at 224). */
export function ninFeatureSide(resize: number): number {
  const pool = (side: number) => Math.floor((side - 3) / 2) + 1;
  return pool(pool(pool(Math.floor((resize - 11) / 4) + 1)));
}

/**
 * NiN's block: a convolution, then two 1×1 convolutions, each with a ReLU.
 * Layers `convNa`, `convNb`, `convNc`.
 */
function ninBlock(
  net: NetworkBuilder,
  x: GraphTensor,
  spec: { index: number; filters: number; kernel: number; stride?: number; padding?: number },
): GraphTensor {
  const { index, filters } = spec;
  let y = net.conv(x, { ...spec, name: `conv${index}a`, activation: "relu" });
  for (const part of ["b", "c"]) {
    y = net.conv(y, { name: `conv${index}${part}`, filters, kernel: 1, activation: "relu" });
  }
  return y;
}

/**
 * Network in Network as the book trains it: NiN blocks 1→96 (11×11,
 * stride 4), 96→256 (5×5, padding 2), 256→384 (3×3, padding 1), each
 * followed by a 3×3 max-pool of stride 2, dropout 0.5, a block 384→10
 * (3×3, padding 1) and a 5×5 average pool: the last feature map must be
 * 5 to 9 pixels wide, so that the pool leaves one value per class.
 */
export function defineNin(options: NetworkOptions): NetworkGraph {
  const { resize, seed, dropout = 0.5 } = options;
  const net = new NetworkBuilder("nin", [resize, resize, 1], seed);
  let x = ninBlock(net, net.input, { index: 1, filters: 96, kernel: 11, stride: 4 });
  x = net.maxPool(x, { name: "pool1", size: 3, stride: 2 });
  x = ninBlock(net, x, { index: 2, filters: 256, kernel: 5, padding: 2 });
  x = net.maxPool(x, { name: "pool2", size: 3, stride: 2 });
  x = ninBlock(net, x, { index: 3, filters: 384, kernel: 3, padding: 1 });
  x = net.maxPool(x, { name: "pool3", size: 3, stride: 2 });
  x = net.dropout(x, dropout, "dropout");
  x = ninBlock(net, x, { index: 4, filters: 10, kernel: 3, padding: 1 });
  x = net.avgPool(x, { name: "pool4", size: 5 });
  return net.finish(net.flatten(x));
}
