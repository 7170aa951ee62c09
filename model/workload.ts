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
