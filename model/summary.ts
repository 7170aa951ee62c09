import type * as tf from "@tensorflow/tfjs";

/** One row of a model summary. */
export interface LayerRow {
  name: string;
  description: string;
  outputShape: number[];
  params: number;
}

function describe(layer: tf.layers.Layer): string {
  const config = layer.getConfig() as Record<string, unknown>;
  const activation = config.activation && config.activation !== "linear"
    ? ` + ${config.activation}`
    : "";
  switch (layer.getClassName()) {
    case "Conv2D": {
      const [k] = config.kernelSize as number[];
      const [s] = config.strides as number[];
      return `Conv2d(${config.filters}, ${k}×${k}, stride ${s}, ${config.padding})${activation}`;
    }
    case "MaxPooling2D":
    case "AveragePooling2D": {
      const [k] = config.poolSize as number[];
      const [s] = config.strides as number[];
      const kind = layer.getClassName() === "MaxPooling2D" ? "MaxPool2d" : "AvgPool2d";
      return `${kind}(${k}×${k}, stride ${s})`;
    }
    case "Dense":
      return `Linear(${config.units})${activation}`;
    case "Dropout":
      return `Dropout(p=${config.rate})`;
    default:
      return layer.getClassName();
  }
}

/** The layers of a sequential model with their output shapes (batch left out) and parameter counts. */
export function summarizeModel(model: tf.Sequential): LayerRow[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    description: describe(layer),
    outputShape: (layer.outputShape as number[]).slice(1),
    params: layer.countParams(),
  }));
}

/** A printable table in the spirit of PyTorch's `print(net)`, ending with the total parameter count. */
export function formatSummary(model: tf.Sequential): string {
  const rows = summarizeModel(model);
  const lines = rows.map((row) =>
    `${row.name.padEnd(9)} ${row.description.padEnd(40)} ${
      row.outputShape.join("×").padStart(12)
    } ${row.params.toLocaleString("en-US").padStart(12)}`
  );
  const total = model.countParams();
  const header = `${"layer".padEnd(9)} ${"".padEnd(40)} ${"output".padStart(12)} ${
    "parameters".padStart(12)
  }`;
  return [header, ...lines, `total ${total.toLocaleString("en-US")} parameters`].join("\n");
}
