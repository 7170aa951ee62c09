import { inception, type InceptionChannels } from "../graph/blocks.ts";
import type { GraphTensor, NetworkGraph } from "../graph/network_graph.ts";
import { NetworkBuilder } from "../graph/network_builder.ts";
import type { NetworkOptions } from "../network_options.ts";

/** The Inception blocks of stages 3, 4 and 5, with the book's channels. */
const STAGES: [string, InceptionChannels][][] = [
  [
    ["inception3a", [64, [96, 128], [16, 32], 32]],
    ["inception3b", [128, [128, 192], [32, 96], 64]],
  ],
  [
    ["inception4a", [192, [96, 208], [16, 48], 64]],
    ["inception4b", [160, [112, 224], [24, 64], 64]],
    ["inception4c", [128, [128, 256], [24, 64], 64]],
    ["inception4d", [112, [144, 288], [32, 64], 64]],
    ["inception4e", [256, [160, 320], [32, 128], 128]],
  ],
  [
    ["inception5a", [256, [160, 320], [32, 128], 128]],
    ["inception5b", [384, [192, 384], [48, 128], 128]],
  ],
];

const pool = (net: NetworkBuilder, x: GraphTensor, name: string) =>
  net.maxPool(x, { name, size: 3, stride: 2, padding: 1 });

/**
 * GoogLeNet as the book's PyTorch code builds it: a 7×7 convolution of
 * stride 2 (ReLU), a pool, a 1×1 and a 3×3 convolution without ReLU, a
 * pool, then 2, 5 and 2 Inception blocks with pools between the stages,
 * global average pooling and dense 1024 → 10. Every pool is 3×3 of stride
 * 2 padded by 1 (with −∞: the one after the ReLU-less convolutions sees
 * negative values).
 */
export function defineGoogLeNet(options: NetworkOptions): NetworkGraph {
  const { resize, seed } = options;
  const net = new NetworkBuilder("googlenet", [resize, resize, 1], seed);
  let x = net.conv(net.input, {
    name: "conv1",
    filters: 64,
    kernel: 7,
    stride: 2,
    padding: 3,
    activation: "relu",
  });
  x = pool(net, x, "pool1");
  x = net.conv(x, { name: "conv2", filters: 64, kernel: 1 });
  x = net.conv(x, { name: "conv3", filters: 192, kernel: 3, padding: 1 });
  x = pool(net, x, "pool2");
  STAGES.forEach((blocks, stage) => {
    for (const [name, channels] of blocks) x = inception(net, x, name, channels);
    if (stage < STAGES.length - 1) x = pool(net, x, `pool${stage + 3}`);
  });
  x = net.globalAvgPool(x, "avgpool");
  return net.finish(net.dense(x, { name: "dense", units: 10 }));
}
