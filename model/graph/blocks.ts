/**
 * The building blocks of the book's larger networks, as its PyTorch code
 * defines them, on a {@link NetworkBuilder}. Every layer is named
 * `PREFIX_PART` after the block's name.
 *
 * @module
 */
import type { GraphTensor } from "./network_graph.ts";
import type { NetworkBuilder } from "./network_builder.ts";

/** Conv2d, BatchNorm2d, ReLU. */
export function convBnRelu(
  net: NetworkBuilder,
  x: GraphTensor,
  spec: { name: string; filters: number; kernel: number; stride?: number; padding?: number },
): GraphTensor {
  const { name } = spec;
  const y = net.batchNorm(net.conv(x, { ...spec, name: `${name}_conv` }), `${name}_bn`);
  return net.activation(y, "relu", `${name}_relu`);
}

/** BatchNorm2d, ReLU, Conv2d: DenseNet's order. */
export function bnReluConv(
  net: NetworkBuilder,
  x: GraphTensor,
  spec: { name: string; filters: number; kernel: number; padding?: number },
): GraphTensor {
  const { name } = spec;
  const y = net.activation(net.batchNorm(x, `${name}_bn`), "relu", `${name}_relu`);
  return net.conv(y, { ...spec, name: `${name}_conv` });
}

/**
 * The stem of ResNet and DenseNet: a 7×7 convolution of stride 2 to 64
 * channels, batch norm, ReLU, and a 3×3 max-pool of stride 2, all padded.
 */
export function batchNormStem(net: NetworkBuilder, x: GraphTensor): GraphTensor {
  const y = convBnRelu(net, x, { name: "stem", filters: 64, kernel: 7, stride: 2, padding: 3 });
  return net.maxPool(y, { name: "stem_pool", size: 3, stride: 2, padding: 1 });
}

/** The channels of an Inception block's four paths: 1×1; 1×1 then 3×3; 1×1 then 5×5; pool then 1×1. */
export type InceptionChannels = [number, [number, number], [number, number], number];

/** GoogLeNet's Inception block: four paths side by side, each ending in a ReLU, concatenated. */
export function inception(
  net: NetworkBuilder,
  x: GraphTensor,
  name: string,
  [c1, c2, c3, c4]: InceptionChannels,
): GraphTensor {
  const conv = (input: GraphTensor, part: string, filters: number, kernel: number) =>
    net.conv(input, {
      name: `${name}_${part}`,
      filters,
      kernel,
      padding: (kernel - 1) / 2,
      activation: "relu",
    });
  const p1 = conv(x, "p1", c1, 1);
  const p2 = conv(conv(x, "p2_1", c2[0], 1), "p2_2", c2[1], 3);
  const p3 = conv(conv(x, "p3_1", c3[0], 1), "p3_2", c3[1], 5);
  const pooled = net.maxPool(x, { name: `${name}_p4_1`, size: 3, stride: 1, padding: 1 });
  const p4 = conv(pooled, "p4_2", c4, 1);
  return net.concat([p1, p2, p3, p4], name);
}

/**
 * ResNet's residual block: 3×3 convolution (of `stride`), batch norm,
 * ReLU, 3×3 convolution, batch norm, added to the input (through a 1×1
 * convolution of `stride` where the shape changes), then ReLU.
 */
export function residual(
  net: NetworkBuilder,
  x: GraphTensor,
  spec: { name: string; filters: number; stride: number; shortcut: boolean },
): GraphTensor {
  const { name, filters, stride } = spec;
  const first = convBnRelu(net, x, { name: `${name}_1`, filters, kernel: 3, stride, padding: 1 });
  const second = net.batchNorm(
    net.conv(first, { name: `${name}_2_conv`, filters, kernel: 3, padding: 1 }),
    `${name}_2_bn`,
  );
  const shortcut = spec.shortcut
    ? net.conv(x, { name: `${name}_shortcut`, filters, kernel: 1, stride })
    : x;
  return net.activation(net.sum([second, shortcut], `${name}_add`), "relu", `${name}_relu`);
}

/** DenseNet's dense block: `convs` times, BN, ReLU and a 3×3 convolution of `growth` channels, its output concatenated to its input. */
export function denseBlock(
  net: NetworkBuilder,
  x: GraphTensor,
  spec: { name: string; convs: number; growth: number },
): GraphTensor {
  let y = x;
  for (let k = 1; k <= spec.convs; k++) {
    const name = `${spec.name}_${k}`;
    const grown = bnReluConv(net, y, { name, filters: spec.growth, kernel: 3, padding: 1 });
    y = net.concat([y, grown], `${name}_concat`);
  }
  return y;
}

/** DenseNet's transition: BN, ReLU, a 1×1 convolution to half the channels, 2×2 average pool. */
export function transition(net: NetworkBuilder, x: GraphTensor, name: string): GraphTensor {
  const channels = x.shape[x.shape.length - 1] as number;
  const y = bnReluConv(net, x, { name, filters: Math.floor(channels / 2), kernel: 1 });
  return net.avgPool(y, { name: `${name}_pool`, size: 2 });
}
