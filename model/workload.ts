import type * as tf from "@tensorflow/tfjs";
import { type ModelName, MODELS } from "./registry.ts";

/** What a network costs in memory, known from its layers' shapes without building it. */
export interface NetworkSize {
  /** Trainable parameters. */
  parameters: number;
  /** Bytes of the input and every layer's output for one example (what a backward pass keeps). */
  activationBytesPerExample: number;
}

/** The parameters a Conv2D or Dense layer holds, given its input's shape. */
function layerParameters(layer: tf.layers.Layer, input: (number | null)[]): number {
  const config = layer.getConfig() as {
    filters?: number;
    kernelSize?: number | number[];
    units?: number;
    useBias?: boolean;
  };
  const channels = input[input.length - 1] as number;
  const bias = config.useBias === false ? 0 : 1;
  if (layer.getClassName() === "Conv2D") {
    const kernel = [config.kernelSize!].flat();
    const area = kernel[0] * (kernel[1] ?? kernel[0]);
    return (area * channels + bias) * config.filters!;
  }
  if (layer.getClassName() === "Dense") return (channels + bias) * config.units!;
  return 0;
}

/** The size of network `name` at `resize`, walked layer by layer over shapes alone. */
export function networkSize(name: ModelName, resize: number): NetworkSize {
  let shape: (number | null)[] = [null, resize, resize, 1];
  let parameters = 0;
  let floats = resize * resize;
  for (const layer of MODELS[name].layers({ resize, seed: null })) {
    parameters += layerParameters(layer, shape);
    shape = layer.computeOutputShape(shape) as (number | null)[];
    floats += (shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  }
  return { parameters, activationBytesPerExample: 4 * floats };
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

/** The convolution layers of network `name` at `resize`, in order, from shapes alone. */
export function networkConvolutions(name: ModelName, resize: number): ConvolutionLayer[] {
  let shape: (number | null)[] = [null, resize, resize, 1];
  const found: ConvolutionLayer[] = [];
  for (const layer of MODELS[name].layers({ resize, seed: null })) {
    const output = layer.computeOutputShape(shape) as (number | null)[];
    if (layer.getClassName() === "Conv2D") {
      const config = layer.getConfig() as {
        kernelSize: number[];
        strides: number[];
        padding: "same" | "valid";
        filters: number;
      };
      const [height, width, channels] = shape.slice(1) as number[];
      const filter: [number, number, number, number] = [
        config.kernelSize[0],
        config.kernelSize[1],
        channels,
        config.filters,
      ];
      const outputs = (output.slice(1) as number[]).reduce((a, b) => a * b, 1);
      found.push({
        name: layer.name,
        input: [height, width, channels],
        filter,
        strides: [config.strides[0], config.strides[1]],
        padding: config.padding,
        multiplyAdds: outputs * filter[0] * filter[1] * filter[2],
      });
    }
    shape = output;
  }
  return found;
}
