import * as tf from "@tensorflow/tfjs";

/** A tensor of a network being defined: which layer made it, and its shape (batch first). */
export interface GraphTensor {
  readonly id: number;
  readonly shape: readonly (number | null)[];
}

/** One layer applied to its inputs. */
export interface GraphNode {
  layer: tf.layers.Layer;
  inputs: GraphTensor[];
  output: GraphTensor;
}

/** What a network costs in memory, known from its layers' shapes without building it. */
export interface NetworkSize {
  /** Trainable parameters. */
  parameters: number;
  /** Bytes of the input and every layer's output for one example (what a backward pass keeps). */
  activationBytesPerExample: number;
}

/** One convolution layer of a network: what a kernel call for it needs, per example. */
export interface ConvolutionLayer {
  name: string;
  /** The layer's input per example, `[height, width, channels]`. */
  input: [number, number, number];
  /** `[filterHeight, filterWidth, inChannels, outChannels]`. */
  filter: [number, number, number, number];
  strides: [number, number];
  padding: "same" | "valid";
  /** Multiply-adds of its forward pass per example. */
  multiplyAdds: number;
}

const product = (dims: readonly (number | null)[]) =>
  dims.reduce((a: number, b) => a * (b ?? 1), 1);

/** The trainable parameters a layer holds, given its input's shape (no weights needed). */
function layerParameters(layer: tf.layers.Layer, input: readonly (number | null)[]): number {
  const config = layer.getConfig() as {
    filters?: number;
    kernelSize?: number | number[];
    units?: number;
    useBias?: boolean;
    center?: boolean;
    scale?: boolean;
  };
  const channels = input[input.length - 1] as number;
  const bias = config.useBias === false ? 0 : 1;
  switch (layer.getClassName()) {
    case "Conv2D": {
      const kernel = [config.kernelSize!].flat();
      return (kernel[0] * (kernel[1] ?? kernel[0]) * channels + bias) * config.filters!;
    }
    case "Dense":
      return (channels + bias) * config.units!;
    case "BatchNormalization":
      return channels * (Number(config.center !== false) + Number(config.scale !== false));
    default:
      return 0;
  }
}

/**
 * A network as its layers and how they connect, before any weight exists:
 * what each definition in `model/` makes. It builds the tfjs model (a
 * `Sequential` where the layers form a chain, as the checkpoints of the
 * chain networks have always held, else a functional model) and tells the
 * network's sizes from shapes alone, so that threads and memory can be
 * planned before a backend is chosen.
 */
export class NetworkGraph {
  /** The images, `[batch, side, side, 1]`. */
  readonly input: GraphTensor;
  private readonly nodes: GraphNode[] = [];
  private output?: GraphTensor;

  constructor(readonly name: string, inputShape: number[]) {
    this.input = { id: 0, shape: [null, ...inputShape] };
  }

  /** A graph of `layers` applied one after the other to the images. */
  static chain(name: string, inputShape: number[], layers: tf.layers.Layer[]): NetworkGraph {
    const graph = new NetworkGraph(name, inputShape);
    graph.finish(layers.reduce((x, layer) => graph.apply(layer, x), graph.input));
    return graph;
  }

  /** Applies `layer` to `inputs` (several for a concatenation or a sum). */
  apply(layer: tf.layers.Layer, inputs: GraphTensor | GraphTensor[]): GraphTensor {
    const list = [inputs].flat();
    const shapes = list.map((tensor) => [...tensor.shape]);
    const shape = layer.computeOutputShape(list.length === 1 ? shapes[0] : shapes) as (
      | number
      | null
    )[];
    const output = { id: this.nodes.length + 1, shape };
    this.nodes.push({ layer, inputs: list, output });
    return output;
  }

  /** Marks the network's output (the logits). */
  finish(output: GraphTensor): this {
    this.output = output;
    return this;
  }

  /** True when each layer takes the previous layer's output alone, and nothing else does. */
  isChain(): boolean {
    return this.nodes.every((node, i) => node.inputs.length === 1 && node.inputs[0].id === i) &&
      this.output?.id === this.nodes.length;
  }

  /** The layers applied, in order, with the tensors they read and write. */
  get steps(): readonly GraphNode[] {
    return this.nodes;
  }

  /** The layers, in the order they were applied. */
  get layers(): tf.layers.Layer[] {
    return this.nodes.map((node) => node.layer);
  }

  /** Builds the tfjs model; its weights are drawn by the layers' initialisers. */
  build(): tf.LayersModel {
    if (this.output === undefined) throw new Error(`${this.name}: the graph has no output`);
    if (this.isChain()) return tf.sequential({ name: this.name, layers: this.layers });
    const input = tf.input({ shape: this.input.shape.slice(1) as number[], name: "images" });
    const symbols = new Map<number, tf.SymbolicTensor>([[0, input]]);
    for (const { layer, inputs, output } of this.nodes) {
      const given = inputs.map((tensor) => symbols.get(tensor.id)!);
      symbols.set(
        output.id,
        layer.apply(given.length === 1 ? given[0] : given) as tf.SymbolicTensor,
      );
    }
    return tf.model({ name: this.name, inputs: input, outputs: symbols.get(this.output.id)! });
  }

  /** Trainable parameters and the activations one example keeps, from shapes alone. */
  size(): NetworkSize {
    let parameters = 0;
    let floats = product(this.input.shape);
    for (const { layer, inputs, output } of this.nodes) {
      parameters += layerParameters(layer, inputs[0].shape);
      floats += product(output.shape);
    }
    return { parameters, activationBytesPerExample: 4 * floats };
  }

  /** The convolution layers, in the order they were applied, from shapes alone. */
  convolutions(): ConvolutionLayer[] {
    return this.nodes.filter(({ layer }) => layer.getClassName() === "Conv2D").map(
      ({ layer, inputs, output }) => {
        const config = layer.getConfig() as {
          kernelSize: number[];
          strides: number[];
          padding: "same" | "valid";
          filters: number;
        };
        const [height, width, channels] = inputs[0].shape.slice(1) as number[];
        const filter: [number, number, number, number] = [
          config.kernelSize[0],
          config.kernelSize[1],
          channels,
          config.filters,
        ];
        return {
          name: layer.name,
          input: [height, width, channels],
          filter,
          strides: [config.strides[0], config.strides[1]],
          padding: config.padding,
          multiplyAdds: product(output.shape) * filter[0] * filter[1] * filter[2],
        };
      },
    );
  }
}
