/**
 * A report of what a WebGPU adapter does with AlexNet's training step: the
 * adapter, its limits and features; per layer, each variant of each kernel
 * (tfjs's own and this project's) in milliseconds and GFLOP/s, checked
 * against tfjs's own on the same device; a large matrix product as the
 * adapter's reference rate; then the whole step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendInfo } from "../backend/backend_info.ts";
import {
  setWebGPUKernelOptions,
  TFJS_KERNELS,
  type WebGPUKernelOptions,
  webgpuKernelOptions,
} from "../backend/webgpu/tuning/kernel_options.ts";
import { buildModel } from "../model/registry.ts";
import { createOptimizer } from "../training/optimizer.ts";
import {
  finishGpuWork,
  type KernelTiming,
  timeKernel,
} from "../backend/webgpu/tuning/gpu_timing.ts";
import { maxRelativeError } from "./statistics.ts";

/** One measured variant of one kernel. */
export interface KernelRow {
  layer: string;
  kernel: string;
  variant: string;
  gflop: number;
  wallMs: number;
  gpuMs: number | null;
  gflopPerSecond: number;
  /** Largest relative difference from tfjs's own kernel on this device (0 for tfjs's own). */
  error: number;
  /** Why the variant could not run, when it could not. */
  failure?: string;
}

/** The adapter as WebGPU describes it. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** What {@link gpuReport} measures on. */
export interface GpuReportOptions {
  backend: BackendInfo;
  resize: number;
  batchSize: number;
  /** Runs timed per kernel variant (after one untimed run). */
  repeats: number;
  /** Split counts to sweep for the filter gradient (besides the automatic one). */
  splits: number[];
  /** Side of the square matrix product that gives the adapter's reference rate. */
  referenceSide: number;
  /** Receives each row as it is measured. */
  log?: (line: string) => void;
}

/** The per-kernel part of the report. */
export interface GpuReport {
  adapter: AdapterReport;
  resize: number;
  /** Examples per kernel call (the batch, or the largest micro-batch the device binds). */
  kernelBatch: number;
  rows: KernelRow[];
}

/** The adapter's description, limits and features. */
export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number") limits[key] = value;
  }
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits,
  };
}

/** A named variant: the kernel options it runs under. */
type Variant = [string, Partial<WebGPUKernelOptions>];

/** One kernel call of the step, and the variants to measure it with. */
interface KernelCase {
  layer: string;
  kernel: string;
  gflop: number;
  variants: Variant[];
  /** Runs the kernel once under the current options; returns its outputs. */
  run: () => tf.Tensor[];
}

function uniform(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", 7);
}

/** AlexNet's layers' kernel calls at `resize` for `batch` examples, with their inputs. */
function alexnetCases(resize: number, batch: number, splits: number[]): {
  cases: KernelCase[];
  inputs: tf.Tensor[];
} {
  const model = buildModel("alexnet", { resize, seed: 0 });
  const cases: KernelCase[] = [];
  const inputs: tf.Tensor[] = [];
  let input = [batch, resize, resize, 1];
  for (const layer of model.layers) {
    const shape = input;
    const config = layer.getConfig() as {
      filters?: number;
      kernelSize?: number[];
      strides?: number[];
      padding?: "same" | "valid";
      units?: number;
      poolSize?: number[];
    };
    const name = layer.name;
    const out = [batch, ...(layer.outputShape as number[]).slice(1)];
    if (layer.getClassName() === "Conv2D") {
      const filterShape = [config.kernelSize![0], config.kernelSize![1], shape[3], config.filters!];
      const x = uniform(shape);
      const filter = uniform(filterShape);
      const bias = uniform([config.filters!]);
      const dy = uniform(out);
      inputs.push(x, filter, bias, dy);
      const attrs = {
        strides: config.strides!,
        pad: config.padding!,
        dataFormat: "NHWC",
        dilations: 1,
      } as unknown as tf.NamedAttrMap;
      const gflop = (2 * out.reduce((a, b) => a * b, 1) * filterShape[0] * filterShape[1] *
        filterShape[2]) / 1e9;
      // Over one channel the products read groups of four columns; the variant without is measured too.
      const oneChannel = (variant: Variant): Variant[] => shape[3] === 1 ? [variant] : [];
      cases.push({
        layer: name,
        kernel: "forward (bias, ReLU)",
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
            activation: "relu",
          }) as tf.Tensor,
        ],
      });
      if (name !== "conv1") {
        cases.push({
          layer: name,
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
              inputShape: shape,
            }) as tf.Tensor,
          ],
        });
      }
      cases.push({
        layer: name,
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
            filterShape,
          }) as tf.Tensor,
        ],
      });
    } else if (layer.getClassName() === "MaxPooling2D") {
      const x = uniform(shape);
      const dy = uniform(out);
      inputs.push(x, dy);
      const attrs = {
        filterSize: config.poolSize!,
        strides: config.strides!,
        pad: "valid",
      } as unknown as tf.NamedAttrMap;
      const y = tf.engine().runKernel("MaxPool", { x }, attrs) as tf.Tensor;
      inputs.push(y);
      cases.push({
        layer: name,
        kernel: "max-pool gradient",
        gflop: x.size / 1e9,
        variants: [["tfjs", {}]],
        run: () => [
          tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, attrs) as tf.Tensor,
        ],
      });
    } else if (layer.getClassName() === "Dense") {
      const inUnits = shape.slice(1).reduce((a, b) => a * b, 1);
      const units = config.units!;
      const x = uniform([batch, inUnits]);
      const w = uniform([inUnits, units]);
      const dy = uniform([batch, units]);
      inputs.push(x, w, dy);
      const gflop = (2 * batch * inUnits * units) / 1e9;
      const variants: Variant[] = [["tfjs", { matmul: "tfjs" }], ["product", {
        matmul: "product",
      }]];
      const product = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) =>
        tf.engine().runKernel("BatchMatMul", { a, b }, { transposeA, transposeB }) as tf.Tensor;
      cases.push(
        { layer: name, kernel: "x·W", gflop, variants, run: () => [product(x, w, false, false)] },
        { layer: name, kernel: "xᵀ·dy", gflop, variants, run: () => [product(x, dy, true, false)] },
        { layer: name, kernel: "dy·Wᵀ", gflop, variants, run: () => [product(dy, w, false, true)] },
      );
    }
    input = out;
  }
  model.dispose();
  return { cases, inputs };
}

/** A `side`³ matrix product: the adapter's reference rate. */
function referenceCase(side: number): { kase: KernelCase; inputs: tf.Tensor[] } {
  const a = uniform([side, side]);
  const b = uniform([side, side]);
  return {
    kase: {
      layer: "reference",
      kernel: `${side}×${side}×${side} product`,
      gflop: (2 * side ** 3) / 1e9,
      variants: [["tfjs", { matmul: "tfjs" }], ["product", { matmul: "product" }]],
      run: () => [tf.engine().runKernel("BatchMatMul", { a, b }, {}) as tf.Tensor],
    },
    inputs: [a, b],
  };
}

/** Adam's update of all AlexNet's parameters, tfjs's kernels against the fused passes. */
function adamCase(resize: number): { kase: KernelCase; inputs: tf.Tensor[] } {
  const model = buildModel("alexnet", { resize, seed: 0 });
  const shapes = model.trainableWeights.map((weight) => weight.shape as number[]);
  model.dispose();
  const gradients = shapes.map((shape) => uniform(shape));
  const size = shapes.reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
  return {
    kase: {
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
    },
    inputs: gradients,
  };
}

/** Measures every variant of `kase`, checking each against tfjs's own kernel. */
async function measure(kase: KernelCase, repeats: number): Promise<KernelRow[]> {
  const chosen = { ...webgpuKernelOptions() };
  setWebGPUKernelOptions(TFJS_KERNELS);
  const reference = kase.run();
  const expected = await Promise.all(reference.map((t) => t.data()));
  tf.dispose(reference);
  const rows: KernelRow[] = [];
  for (const [variant, options] of kase.variants) {
    setWebGPUKernelOptions({ ...TFJS_KERNELS, ...options });
    const row = { layer: kase.layer, kernel: kase.kernel, variant, gflop: kase.gflop };
    try {
      const outputs = kase.run();
      const actual = await Promise.all(outputs.map((t) => t.data()));
      tf.dispose(outputs);
      const error = Math.max(...actual.map((values, i) => maxRelativeError(values, expected[i])));
      const timing: KernelTiming = await timeKernel(kase.run, repeats);
      const ms = timing.gpuMs ?? timing.wallMs;
      rows.push({ ...row, ...timing, gflopPerSecond: kase.gflop / (ms / 1000), error });
    } catch (error) {
      // tfjs's own programs fail for some shapes (a dispatch over the device's limits).
      const failure = error instanceof Error ? error.message : String(error);
      rows.push({ ...row, wallMs: NaN, gpuMs: null, gflopPerSecond: NaN, error: NaN, failure });
    }
  }
  setWebGPUKernelOptions(chosen);
  await finishGpuWork();
  return rows;
}

/** One row as a line of text. */
export function formatRow(row: KernelRow): string {
  if (row.failure) {
    return `${row.layer.padEnd(9)} ${row.kernel.padEnd(22)} ${
      row.variant.padEnd(22)
    } failed: ${row.failure}`;
  }
  const ms = row.gpuMs ?? row.wallMs;
  return `${row.layer.padEnd(9)} ${row.kernel.padEnd(22)} ${row.variant.padEnd(22)} ${
    ms.toFixed(2).padStart(9)
  } ms ${row.gflopPerSecond.toFixed(0).padStart(7)} GFLOP/s  error ${row.error.toExponential(1)}`;
}

/** Measures the adapter kernel by kernel (see the module's documentation). */
export async function gpuReport(options: GpuReportOptions): Promise<GpuReport> {
  const { backend, resize, repeats, log = () => {} } = options;
  if (backend.name !== "webgpu" || !backend.adapter) {
    throw new Error("the GPU report needs the WebGPU backend");
  }
  const adapter = describeAdapter(backend.adapter);
  const rows: KernelRow[] = [];
  const record = (measured: KernelRow[]) => {
    for (const row of measured) log(formatRow(row));
    rows.push(...measured);
  };
  const reference = referenceCase(options.referenceSide);
  record(await measure(reference.kase, repeats));
  tf.dispose(reference.inputs);
  const { cases, inputs } = alexnetCases(resize, options.batchSize, options.splits);
  for (const kase of cases) record(await measure(kase, repeats));
  tf.dispose(inputs);
  const adam = adamCase(resize);
  record(await measure(adam.kase, 1));
  tf.dispose(adam.inputs);
  return { adapter, resize, kernelBatch: options.batchSize, rows };
}

/** The report as Markdown: the adapter, then one table row per kernel variant. */
export function reportMarkdown(report: GpuReport, step?: Record<string, unknown>): string {
  const { adapter } = report;
  const lines = [
    `# WebGPU report: ${adapter.description || adapter.device || "unnamed adapter"}`,
    "",
    `- vendor ${adapter.vendor || "?"}, architecture ${
      adapter.architecture || "?"
    }, fallback (software) adapter: ${adapter.isFallbackAdapter}`,
    `- largest storage binding ${adapter.limits.maxStorageBufferBindingSize} bytes, workgroup memory ${adapter.limits.maxComputeWorkgroupStorageSize} bytes, ${adapter.limits.maxComputeInvocationsPerWorkgroup} invocations per workgroup`,
    `- features: ${adapter.features.join(", ")}`,
    `- AlexNet at ${report.resize}, ${report.kernelBatch} examples per kernel call`,
    "",
    "| layer | kernel | variant | ms | GFLOP/s | max rel. error vs tfjs |",
    "| ----- | ------ | ------- | -- | ------- | ---------------------- |",
    ...report.rows.map((row) =>
      `| ${row.layer} | ${row.kernel} | ${row.variant} | ${
        (row.gpuMs ?? row.wallMs).toFixed(2)
      } | ${row.gflopPerSecond.toFixed(0)} | ${row.error.toExponential(1)} |`
    ),
  ];
  if (step) {
    lines.push("", "Whole step:", "", "```json", JSON.stringify(step, null, 2), "```");
  }
  return lines.join("\n") + "\n";
}
