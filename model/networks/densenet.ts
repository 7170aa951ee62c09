import { batchNormStem, denseBlock, transition } from "../graph/blocks.ts";
import type { NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

/** Dense blocks, convolutions per block and channels each adds. */
const BLOCKS = 4;
const CONVS = 4;
const GROWTH = 32;

/**
 * The book's DenseNet: the batch-norm stem, four dense blocks of four
 * convolutions growing the channels by 32 each, a transition halving
 * channels and side between blocks (`denseN`, `transitionN`), then batch
 * norm, ReLU, global average pooling and dense 248 → 10.
 */
export function defineDenseNet(options: NetworkOptions): NetworkGraph {
  const { resize, seed } = options;
  const net = new NetworkBuilder("densenet", [resize, resize, 1], seed);
  let x = batchNormStem(net, net.input);
  for (let block = 1; block <= BLOCKS; block++) {
    x = denseBlock(net, x, { name: `dense${block}`, convs: CONVS, growth: GROWTH });
    if (block < BLOCKS) x = transition(net, x, `transition${block}`);
  }
  x = net.activation(net.batchNorm(x, "final_bn"), "relu", "final_relu");
  x = net.globalAvgPool(x, "avgpool");
  return net.finish(net.dense(x, { name: "dense", units: 10 }));
}
