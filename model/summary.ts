import type * as tf from "@tensorflow/tfjs";

/** One row of a model summary. */
export interface LayerRow {
  name: string;
  description: string;
  outputShape: number[];
  /** Learnable parameters (a batch norm's running statistics are not). */
  params: number;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The learnable parameters of a model (PyTorch's count: running statistics excluded). */
export function learnableParameters(model: tf.LayersModel | tf.layers.Layer): number {
  return model.trainableWeights.reduce((sum, weight) => sum + size(weight.shape as number[]), 0);
}

/** `k×k, stride s` of a window, and its padding in PyTorch's terms where tfjs's differ. */
function windowText(config: Record<string, unknown>, size: number[], padding: unknown): string {
  const [k] = size;
  const [s] = [config.strides].flat() as number[];
  const pad = typeof padding === "number" ? `padding ${padding}` : padding;
  return `${k}×${k}, stride ${s}, ${pad}`;
}

function describe(layer: tf.layers.Layer): string {
  const config = layer.getConfig() as Record<string, unknown>;
  const activation = config.activation && config.activation !== "linear"
    ? ` + ${config.activation}`
    : "";
  switch (layer.getClassName()) {
    case "Conv2D":
      return `Conv2d(${config.filters}, ${
        windowText(config, config.kernelSize as number[], config.padding)
      })${activation}`;
    case "MaxPooling2D":
    case "PaddedMaxPooling2D":
      return `MaxPool2d(${
        windowText(config, [config.poolSize].flat() as number[], config.padding)
      })`;
    case "AveragePooling2D":
      return `AvgPool2d(${windowText(config, config.poolSize as number[], config.padding)})`;
    case "ZeroPadding2D":
      return `ZeroPad2d(${(config.padding as number[][])[0][0]})`;
    case "GlobalAveragePooling2D":
      return "AdaptiveAvgPool2d(1) + Flatten";
    case "BatchNormalization":
      return `BatchNorm(momentum ${(1 - (config.momentum as number)).toFixed(1)}, ε ${
        (config.epsilon as number).toExponential()
      })`;
    case "Activation":
      return `${config.activation}`;
    case "Concatenate":
      return "cat(channels)";
    case "Add":
      return "sum";
    case "Dense":
      return `Linear(${config.units})${activation}`;
    case "Dropout":
      return `Dropout(p=${config.rate})`;
    default:
      return layer.getClassName();
  }
}

/** The layers of a model (in an order that computes each input first) with output shapes (batch left out) and learnable parameters. */
export function summarizeModel(model: tf.LayersModel): LayerRow[] {
  return model.layers.filter((layer) => layer.getClassName() !== "InputLayer").map((layer) => ({
    name: layer.name,
    description: describe(layer),
    outputShape: (layer.outputShape as number[]).slice(1),
    params: learnableParameters(layer),
  }));
}

/** A printable table in the spirit of PyTorch's `print(net)`, ending with the total parameter count. */
export function formatSummary(model: tf.LayersModel): string {
  const rows = summarizeModel(model);
  const nameWidth = Math.max(9, ...rows.map((row) => row.name.length));
  const descriptionWidth = Math.max(40, ...rows.map((row) => row.description.length));
  const line = (name: string, description: string, output: string, params: string) =>
    `${name.padEnd(nameWidth)} ${description.padEnd(descriptionWidth)} ${output.padStart(12)} ${
      params.padStart(12)
    }`;
  const lines = rows.map((row) =>
    line(
      row.name,
      row.description,
      row.outputShape.join("×"),
      row.params.toLocaleString("en-US"),
    )
  );
  const total = learnableParameters(model).toLocaleString("en-US");
  return [line("layer", "", "output", "parameters"), ...lines, `total ${total} parameters`].join(
    "\n",
  );
}
