import type { NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

/** VGG-11's blocks: convolutions per block and their channels, the book's divided by 8. */
const BLOCKS: [number, number][] = [[1, 8], [1, 16], [2, 32], [2, 64], [2, 64]];

/** Units of the two hidden dense layers (4096 / 8). */
const HIDDEN = 512;

/** Smallest input side that survives the five 2×2 poolings. */
export const VGG_MIN_RESIZE = 32;

/**
 * The VGG-11 the book trains: five blocks of 3×3 convolutions (padding 1,
 * ReLU), each block ending in a 2×2 max-pool, with the channels divided by
 * 8 (8, 16, 32-32, 64-64, 64-64); then dense 512, dropout, dense 512,
 * dropout, dense 10 (3136 → 512 at 224).
 */
export function defineVgg11(options: NetworkOptions): NetworkGraph {
  const { resize, seed, dropout = 0.5 } = options;
  const net = new NetworkBuilder("vgg11", [resize, resize, 1], seed);
  let x = net.input;
  let index = 0;
  BLOCKS.forEach(([convs, filters], block) => {
    for (let k = 0; k < convs; k++) {
      x = net.conv(x, {
        name: `conv${++index}`,
        filters,
        kernel: 3,
        padding: 1,
        activation: "relu",
      });
    }
    x = net.maxPool(x, { name: `pool${block + 1}`, size: 2 });
  });
  x = net.flatten(x);
  x = net.dense(x, { name: "dense1", units: HIDDEN, activation: "relu" });
  x = net.dropout(x, dropout, "dropout1");
  x = net.dense(x, { name: "dense2", units: HIDDEN, activation: "relu" });
  x = net.dropout(x, dropout, "dropout2");
  return net.finish(net.dense(x, { name: "dense3", units: 10 }));
}
