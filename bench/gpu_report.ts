/**
 * A report of what a WebGPU adapter does with a network's training step:
 * the adapter, its limits and features; per layer, each variant of each
 * kernel (tfjs's own and this project's) in milliseconds and GFLOP/s,
 * checked against tfjs's own on the same device (the calls are listed in
 * `gpu_report_cases.ts`); a large matrix product as the adapter's
 * reference rate; then the whole step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendInfo } from "../backend/backend_info.ts";
import {
  setWebGPUKernelOptions,
  TFJS_KERNELS,
  webgpuKernelOptions,
} from "../backend/webgpu/tuning/kernel_options.ts";
import { type ModelName, MODELS } from "../model/registry.ts";
import {
  finishGpuWork,
  type KernelTiming,
  timeKernel,
} from "../backend/webgpu/tuning/gpu_timing.ts";
import { maxRelativeError } from "./statistics.ts";
import { adamCase, type KernelCase, networkCases, referenceCase } from "./gpu_report_cases.ts";

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
  /** The network whose step is measured. */
  model: ModelName;
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
  model: ModelName;
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

/** Widths of the first two columns of {@link formatRow}: the layer's name and the kernel's. */
export interface RowWidths {
  layer: number;
  kernel: number;
}

/** The narrowest columns (AlexNet's names fit them). */
const NARROWEST: RowWidths = { layer: 9, kernel: 22 };

/** One row as a line of text. */
export function formatRow(row: KernelRow, widths: RowWidths = NARROWEST): string {
  const names = `${row.layer.padEnd(widths.layer)} ${row.kernel.padEnd(widths.kernel)} ${
    row.variant.padEnd(22)
  }`;
  if (row.failure) return `${names} failed: ${row.failure}`;
  const ms = row.gpuMs ?? row.wallMs;
  return `${names} ${ms.toFixed(2).padStart(9)} ms ${
    row.gflopPerSecond.toFixed(0).padStart(7)
  } GFLOP/s  error ${row.error.toExponential(1)}`;
}

/** Measures the adapter kernel by kernel (see the module's documentation). */
export async function gpuReport(options: GpuReportOptions): Promise<GpuReport> {
  const { backend, model, resize, repeats, log = () => {} } = options;
  if (backend.name !== "webgpu" || !backend.adapter) {
    throw new Error("the GPU report needs the WebGPU backend");
  }
  const adapter = describeAdapter(backend.adapter);
  // The network's calls are made first: their names set the columns' widths.
  const { cases, inputs } = networkCases(model, resize, options.batchSize, options.splits);
  const widths = {
    layer: Math.max(NARROWEST.layer, ...cases.map((kase) => kase.layer.length)),
    kernel: Math.max(NARROWEST.kernel, ...cases.map((kase) => kase.kernel.length)),
  };
  const rows: KernelRow[] = [];
  const record = (measured: KernelRow[]) => {
    for (const row of measured) log(formatRow(row, widths));
    rows.push(...measured);
  };
  const reference = referenceCase(options.referenceSide);
  for (const kase of reference.cases) record(await measure(kase, repeats));
  tf.dispose(reference.inputs);
  for (const kase of cases) record(await measure(kase, repeats));
  tf.dispose(inputs);
  const adam = adamCase(model, resize);
  for (const kase of adam.cases) record(await measure(kase, 1));
  tf.dispose(adam.inputs);
  return { adapter, model, resize, kernelBatch: options.batchSize, rows };
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
    `- ${
      MODELS[report.model].title
    } at ${report.resize}, ${report.kernelBatch} examples per kernel call`,
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
