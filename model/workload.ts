import type { ConvolutionLayer, NetworkSize } from "./graph/network_graph.ts";
import { defineModel, type ModelName } from "./registry.ts";

export type { ConvolutionLayer, NetworkSize } from "./graph/network_graph.ts";

/** The size of network `name` at `resize`, from its layers' shapes alone. */
export function networkSize(name: ModelName, resize: number): NetworkSize {
  return defineModel(name, { resize, seed: null }).size();
}

/** The convolution layers of network `name` at `resize`, in order, from shapes alone. */
export function networkConvolutions(name: ModelName, resize: number): ConvolutionLayer[] {
  return defineModel(name, { resize, seed: null }).convolutions();
}
