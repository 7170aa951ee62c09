/**
 * The kernel calls the GPU report measures, for any network of the
 * registry, read from its graph's shapes (no weights are made): per kind
 * of layer, the calls its training step makes (a convolution's forward
 * pass, input gradient and filter gradient; a dense layer's three
 * products; a max-pool's gradient), each with the variants to time; then
 * Adam's update of all the weights, and a square product as the adapter's
 * reference rate. Other layers run tfjs's kernels only and are not timed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUKernelOptions } from "../backend/webgpu/tuning/kernel_options.ts";
import type { GraphNode, GraphTensor } from "../model/graph/network_graph.ts";
import { buildModel, defineModel, type ModelName } from "../model/registry.ts";
import { evenPadding } from "../training/forward.ts";
import { createOptimizer } from "../training/optimizer.ts";

/** A named variant: the kernel options it runs under. */
export type Variant = [string, Partial<WebGPUKernelOptions>];

/** One kernel call of the step, and the variants to measure it with. */
export interface KernelCase {
  layer: string;
  kernel: string;
  gflop: number;
  variants: Variant[];
  /** Runs the kernel once under the current options; returns its outputs. */
  run: () => tf.Tensor[];
}

/** Kernel calls, and the tensors they read (for the caller to dispose of once measured). */
export interface CaseSet {
  cases: KernelCase[];
  inputs: tf.Tensor[];
}

function uniform(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", 7);
}

/** A tensor's shape for `batch` examples. */
function batched(tensor: GraphTensor, batch: number): number[] {
  return [batch, ...(tensor.shape.slice(1) as number[])];
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The kernel calls of network `model`'s layers at `resize` for `batch`
 * examples, layer by layer in the order the forward pass runs them, with
 * their inputs; `splits` are the split counts swept for the filter gradient.
 */
export function networkCases(
  model: ModelName,
  resize: number,
  batch: number,
  splits: number[],
): CaseSet {
  const graph = defineModel(model, { resize, seed: null });
  const producers = new Map<number, GraphNode>();
  const sets: CaseSet[] = [];
  for (const node of graph.steps) {
    producers.set(node.output.id, node);
    switch (node.layer.getClassName()) {
      case "Conv2D": {
        const source = producers.get(node.inputs[0].id);
        sets.push(convolutionCases(convolutionCall(node, source, graph.input, batch), splits));
        break;
      }
      case "MaxPooling2D":
      case "PaddedMaxPooling2D":
        sets.push(maxPoolCases(node, batch));
        break;
      case "Dense":
        sets.push(denseCases(node, batch));
        break;
    }
  }
  return { cases: sets.flatMap((set) => set.cases), inputs: sets.flatMap((set) => set.inputs) };
}

/** A convolution layer as the training step calls its kernels (see `training/forward.ts`). */
interface ConvolutionCall {
  name: string;
  /** Its input `[batch, height, width, channels]`, before the padding it applies itself. */
  input: number[];
  output: number[];
  /** `[filterHeight, filterWidth, inChannels, outChannels]`. */
  filter: number[];
  strides: number[];
  pad: "same" | "valid" | number;
  activation: string;
  /** False for a convolution of the images: nothing before it learns. */
  inputGradient: boolean;
}

/**
 * The call of convolution `node`: a zero padding of even sides made for it
 * alone (`source`, as the network builder makes them) becomes its own
 * padding, as in training.
 */
function convolutionCall(
  node: GraphNode,
  source: GraphNode | undefined,
  images: GraphTensor,
  batch: number,
): ConvolutionCall {
  const config = node.layer.getConfig() as {
    filters: number;
    kernelSize: number[];
    strides: number[];
    padding: "same" | "valid";
    activation: string;
  };
  const folded = source?.layer.getClassName() === "ZeroPadding2D" && config.padding === "valid"
    ? evenPadding(source.layer)
    : undefined;
  const input = folded === undefined ? node.inputs[0] : source!.inputs[0];
  const shape = batched(input, batch);
  return {
    name: node.layer.name,
    input: shape,
    output: batched(node.output, batch),
    filter: [config.kernelSize[0], config.kernelSize[1], shape[3], config.filters],
    strides: config.strides,
    pad: folded ?? config.padding,
    activation: config.activation,
    inputGradient: input.id !== images.id,
  };
}

/** A convolution's tensors and attributes, shared by its three kernel calls. */
interface ConvolutionTensors {
  x: tf.Tensor;
  filter: tf.Tensor;
  bias: tf.Tensor;
  dy: tf.Tensor;
  attrs: tf.NamedAttrMap;
  gflop: number;
  /** Over one channel the products read groups of four columns; the variant without is measured too. */
  oneChannel: (variant: Variant) => Variant[];
}

/** The forward pass, the input gradient (but of the images) and the filter gradient. */
function convolutionCases(conv: ConvolutionCall, splits: number[]): CaseSet {
  const { filter: filterShape } = conv;
  const tensors: ConvolutionTensors = {
    x: uniform(conv.input),
    filter: uniform(filterShape),
    bias: uniform([filterShape[3]]),
    dy: uniform(conv.output),
    attrs: {
      strides: conv.strides,
      pad: conv.pad,
      dataFormat: "NHWC",
      dilations: 1,
    } as unknown as tf.NamedAttrMap,
    gflop: (2 * product(conv.output) * filterShape[0] * filterShape[1] * filterShape[2]) / 1e9,
    oneChannel: (variant) => conv.input[3] === 1 ? [variant] : [],
  };
  return {
    cases: [
      forwardCase(conv, tensors),
      ...(conv.inputGradient ? [inputGradientCase(conv, tensors)] : []),
      filterGradientCase(conv, tensors, splits),
    ],
    inputs: [tensors.x, tensors.filter, tensors.bias, tensors.dy],
  };
}

/** How the forward kernel's name shows its activation. */
const ACTIVATION_NAMES: Record<string, string> = { relu: ", ReLU", sigmoid: ", sigmoid" };

function forwardCase(conv: ConvolutionCall, tensors: ConvolutionTensors): KernelCase {
  const { x, filter, bias, attrs, gflop, oneChannel } = tensors;
  return {
    layer: conv.name,
    kernel: `forward (bias${ACTIVATION_NAMES[conv.activation] ?? ""})`,
    gflop,
    variants: [
      ["tfjs", { convolution: "tfjs" }],
      ["product", { convolution: "product" }],
      ...oneChannel(["product, one float per load", {
        convolution: "product",
        widthGroups: false,
      }]),
    ],
    run: () => [
      tf.engine().runKernel("FusedConv2D", { x, filter, bias }, {
        ...attrs,
        activation: conv.activation,
      }) as tf.Tensor,
    ],
  };
}

function inputGradientCase(conv: ConvolutionCall, tensors: ConvolutionTensors): KernelCase {
  const { filter, dy, attrs, gflop } = tensors;
  return {
    layer: conv.name,
    kernel: "input gradient",
    gflop,
    variants: [
      ["tfjs", { inputGradient: "tfjs" }],
      ["tfjs-tiled", { inputGradient: "tfjs-tiled" }],
      ["convolution", { inputGradient: "convolution", convolution: "product" }],
    ],
    run: () => [
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
        ...attrs,
        inputShape: conv.input,
      }) as tf.Tensor,
    ],
  };
}

function filterGradientCase(
  conv: ConvolutionCall,
  tensors: ConvolutionTensors,
  splits: number[],
): KernelCase {
  const { x, dy, attrs, gflop, oneChannel } = tensors;
  return {
    layer: conv.name,
    kernel: "filter gradient",
    gflop,
    variants: [
      ["tfjs", { filterGradient: "tfjs" }],
      ["tiled (previous)", { filterGradient: "tiled" }],
      ["product", { filterGradient: "product" }],
      ...oneChannel(["product, one float per load", {
        filterGradient: "product",
        widthGroups: false,
      }]),
      ...splits.map((count): Variant => [
        `product, ${count} splits`,
        { filterGradient: "product", splits: count },
      ]),
    ],
    run: () => [
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        ...attrs,
        filterShape: conv.filter,
      }) as tf.Tensor,
    ],
  };
}

/** A max-pool's gradient (padded with −∞ or not), tfjs's kernel alone. */
function maxPoolCases(node: GraphNode, batch: number): CaseSet {
  const config = node.layer.getConfig() as {
    poolSize: number | number[];
    strides: number | number[];
    padding: "same" | "valid" | number;
  };
  const x = uniform(batched(node.inputs[0], batch));
  const dy = uniform(batched(node.output, batch));
  const attrs = {
    filterSize: config.poolSize,
    strides: config.strides,
    pad: config.padding,
  } as unknown as tf.NamedAttrMap;
  const y = tf.engine().runKernel("MaxPool", { x }, attrs) as tf.Tensor;
  const kase: KernelCase = {
    layer: node.layer.name,
    kernel: "max-pool gradient",
    gflop: x.size / 1e9,
    variants: [["tfjs", {}]],
    run: () => [
      tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, attrs) as tf.Tensor,
    ],
  };
  return { cases: [kase], inputs: [x, dy, y] };
}

/** A dense layer's three products: forward, weight gradient, input gradient. */
function denseCases(node: GraphNode, batch: number): CaseSet {
  const inUnits = product(node.inputs[0].shape.slice(1) as number[]);
  const { units } = node.layer.getConfig() as { units: number };
  const x = uniform([batch, inUnits]);
  const w = uniform([inUnits, units]);
  const dy = uniform([batch, units]);
  const gflop = (2 * batch * inUnits * units) / 1e9;
  const variants: Variant[] = [["tfjs", { matmul: "tfjs" }], ["product", { matmul: "product" }]];
  const multiply = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) =>
    tf.engine().runKernel("BatchMatMul", { a, b }, { transposeA, transposeB }) as tf.Tensor;
  const layer = node.layer.name;
  return {
    cases: [
      { layer, kernel: "x·W", gflop, variants, run: () => [multiply(x, w, false, false)] },
      { layer, kernel: "xᵀ·dy", gflop, variants, run: () => [multiply(x, dy, true, false)] },
      { layer, kernel: "dy·Wᵀ", gflop, variants, run: () => [multiply(dy, w, false, true)] },
    ],
    inputs: [x, w, dy],
  };
}

/** A `side`³ matrix product: the adapter's reference rate. */
export function referenceCase(side: number): CaseSet {
  const a = uniform([side, side]);
  const b = uniform([side, side]);
  const kase: KernelCase = {
    layer: "reference",
    kernel: `${side}×${side}×${side} product`,
    gflop: (2 * side ** 3) / 1e9,
    variants: [["tfjs", { matmul: "tfjs" }], ["product", { matmul: "product" }]],
    run: () => [tf.engine().runKernel("BatchMatMul", { a, b }, {}) as tf.Tensor],
  };
  return { cases: [kase], inputs: [a, b] };
}

/** Adam's update of all the network's parameters, tfjs's kernels against the fused passes. */
export function adamCase(model: ModelName, resize: number): CaseSet {
  const built = buildModel(model, { resize, seed: 0 });
  const shapes = built.trainableWeights.map((weight) => weight.shape as number[]);
  built.dispose();
  const gradients = shapes.map((shape) => uniform(shape));
  const size = shapes.reduce((sum, shape) => sum + product(shape), 0);
  const kase: KernelCase = {
    layer: "all",
    kernel: "Adam update",
    gflop: (18 * size) / 1e9,
    variants: [["tfjs", { adam: "tfjs" }], ["fused", { adam: "fused" }]],
    run: () => {
      // The same start for every run: fresh weights (zeros), fresh optimizer.
      const variables = shapes.map((shape, i) => tf.variable(tf.zeros(shape), true, `adam${i}`));
      const optimizer = createOptimizer("adam", 0.001);
      const named: tf.NamedTensorMap = {};
      variables.forEach((variable, i) => named[variable.name] = gradients[i]);
      optimizer.applyGradients(named);
      const values = variables.map((variable) => variable.clone());
      tf.dispose([...variables]);
      optimizer.dispose();
      return values;
    },
  };
  return { cases: [kase], inputs: gradients };
}
