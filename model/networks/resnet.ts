import { batchNormStem, residual } from "../graph/blocks.ts";
import type { NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

/** Channels of the four stages. */
const STAGES = [64, 128, 256, 512];

/**
 * ResNet-18 as the book builds it: the batch-norm stem (7×7 convolution of
 * stride 2, pool), four stages of two residual blocks (64, 128, 256, 512
 * channels; each stage after the first halves the side in its first block,
 * with a 1×1 convolution on the shortcut), global average pooling, dense
 * 512 → 10. Blocks are `resSB` (stage S, block B).
 */
export function defineResNet18(options: NetworkOptions): NetworkGraph {
  const { resize, seed } = options;
  const net = new NetworkBuilder("resnet18", [resize, resize, 1], seed);
  let x = batchNormStem(net, net.input);
  STAGES.forEach((filters, stage) => {
    for (const block of [1, 2]) {
      const downsample = stage > 0 && block === 1;
      x = residual(net, x, {
        name: `res${stage + 1}${block}`,
        filters,
        stride: downsample ? 2 : 1,
        shortcut: downsample,
      });
    }
  });
  x = net.globalAvgPool(x, "avgpool");
  return net.finish(net.dense(x, { name: "dense", units: 10 }));
}
