/**
 * Benchmarks on the active adapter: the data pipeline (gather, upload and
 * bilinear resize of a batch) and training steps (forward, backward and
 * optimizer update), with the first step (shader compilation) apart from
 * the steady state. Ends with one JSON line.
 *
 *     deno task bench [flags]        (deno task bench --help)
 *
 * @module
 */
import { type BackendInfo, setupBackend } from "./backend/setup.ts";
import { gpuReport, reportMarkdown } from "./bench/gpu_report.ts";
import { benchDataPipeline, benchSteps } from "./bench/step_bench.ts";
import { applyWebGPUFlags, splitList, WEBGPU_FLAGS } from "./bench/webgpu_flags.ts";
import {
  runTorchReference,
  TORCH_BLAS,
  TORCH_TF32,
  torchSettings,
} from "./bench/torch_reference.ts";
import {
  choiceFlag,
  defineCommand,
  type FlagValues,
  HELP_FLAG,
  integerFlag,
  switchFlag,
  textFlag,
} from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { applyBlasFlag } from "./cli/blas_choice.ts";
import {
  BACKEND_FLAG,
  BATCH_FLAG,
  BLAS_FLAG,
  DATA_DIR_FLAG,
  MODEL_FLAG,
  RESIZE_FLAG,
  THREADS_FLAG,
} from "./cli/shared_flags.ts";
import { type Batch, gatherBatch, shuffledOrder } from "./data/batches.ts";
import type { Dataset } from "./data/load.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { buildModel, checkResize, type ModelName } from "./model/registry.ts";
import { withRecipe } from "./model/recipe.ts";
import { microBatchLimit } from "./training/step_plan.ts";
import { timestamp } from "./cli/run_dir.ts";
import { deviceLine } from "./cli/device_line.ts";
import { planThreads, thisMachine } from "./training/workers/thread_plan.ts";
import { networkSize } from "./model/workload.ts";

const FLAGS = {
  model: MODEL_FLAG,
  resize: RESIZE_FLAG,
  batch: BATCH_FLAG,
  steps: integerFlag({
    help: "timed steps after the first one (0: data pipeline only)",
    min: 0,
    default: 3,
  }),
  "data-batches": integerFlag({
    help: "batches timed in the data pipeline benchmark",
    default: 10,
  }),
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  blas: BLAS_FLAG,
  "data-dir": DATA_DIR_FLAG,
  "torch-script": textFlag({
    placeholder: "FILE",
    help: "also run the PyTorch reference FILE (../shared/reference/torch_chapter.py, any\n" +
      "network; torch_alexnet.py) with the same resize, batch and steps, and print the ratio",
  }),
  "torch-device": choiceFlag({
    placeholder: "DEVICE",
    help: "device for the reference: cpu or cuda",
    choices: ["cpu", "cuda"],
    default: "cpu",
  }),
  "torch-blas": choiceFlag({
    help: "the reference on the CPU: the system's BLAS, reference, openblas, or both in turn",
    choices: TORCH_BLAS,
    default: "system",
  }),
  "torch-tf32": choiceFlag({
    help: "the reference on CUDA: PyTorch's default TF32 use, on, off, or both in turn",
    choices: TORCH_TF32,
    default: "default",
  }),
  python: textFlag({
    placeholder: "FILE",
    help: "interpreter for the reference",
    default: "/usr/bin/python3",
  }),
  "gpu-report": switchFlag({
    help: "first time every WebGPU kernel of the model's step, variant by variant",
  }),
  repeats: integerFlag({ help: "with --gpu-report: timed runs per kernel", default: 5 }),
  "reference-side": integerFlag({
    help: "with --gpu-report: side of the square product timed as the adapter's reference rate",
    default: 4096,
  }),
  "report-dir": textFlag({
    placeholder: "DIR",
    help: "with --gpu-report: also write the report there as JSON and Markdown",
  }),
  ...WEBGPU_FLAGS,
  help: HELP_FLAG,
};

type BenchValues = FlagValues<typeof FLAGS>;

/** The GPU report of `--gpu-report`: each kernel of a step, with micro-batches as a step makes them. */
function gpuReportOf(
  values: BenchValues,
  backend: BackendInfo,
  run: { model: ModelName; resize: number; batchSize: number },
) {
  const { model, resize, batchSize } = run;
  return gpuReport({
    backend,
    model,
    resize,
    batchSize: Math.min(
      batchSize,
      microBatchLimit(buildModel(model, { resize, seed: null }), backend.maxBindingBytes),
    ),
    repeats: values.repeats,
    splits: splitList(values.splits),
    referenceSide: values["reference-side"],
    log: (line) => console.log(line),
  });
}

/** Runs the PyTorch reference once per setting asked for, printing each ratio to `imagesPerSecond`. */
async function compareWithTorch(
  values: BenchValues,
  run: { model: ModelName; resize: number; batchSize: number; steps: number; dataDir: string },
  imagesPerSecond: number,
) {
  const settings = torchSettings(
    values["torch-device"],
    values["torch-blas"],
    values["torch-tf32"],
  );
  const runs = [];
  for (const setting of settings) {
    const torch = await runTorchReference({
      script: values["torch-script"]!,
      model: run.model === "alexnet" ? undefined : run.model,
      python: values.python,
      device: values["torch-device"],
      dataDir: run.dataDir,
      resize: run.resize,
      batchSize: run.batchSize,
      steps: run.steps,
      env: setting.env,
    });
    const ratio = imagesPerSecond / torch.images_per_s;
    console.log(
      `PyTorch (${setting.label}), same machine, same run: ${
        torch.images_per_s.toFixed(2)
      } images/s; ours / PyTorch = ${ratio.toFixed(3)}`,
    );
    runs.push({ setting: setting.label, imagesPerSecond: torch.images_per_s, ratio, torch });
  }
  return runs;
}

/** Writes the bench's result with its GPU report into `dir`, as JSON and as Markdown. */
async function writeGpuReport(
  dir: string,
  result: Record<string, unknown>,
  report: Awaited<ReturnType<typeof gpuReport>>,
): Promise<void> {
  const base = `${dir}/gpu-report-${timestamp(new Date())}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(result, null, 2));
  const { gpuReport: _, ...step } = result;
  await Deno.writeTextFile(`${base}.md`, reportMarkdown(report, step));
  console.log(`report written to ${base}.md and ${base}.json`);
}

/** The `bench` command. */
/**
 * The backend the bench runs on, with the threads planned for the model:
 * WebGPU's kernel flags applied, and `--gpu-report` refused on any other.
 */
async function benchBackend(
  values: BenchValues,
  { model, resize, batchSize }: { model: ModelName; resize: number; batchSize: number },
) {
  const size = { ...networkSize(model, resize), batchSize };
  const threads = planThreads(thisMachine(), size, values.threads);
  const backend = await setupBackend(values.backend, { model, resize, threads: threads.threads });
  if (backend.name === "webgpu") applyWebGPUFlags(values);
  if (values["gpu-report"] && backend.name !== "webgpu") {
    throw new InputError(
      `--gpu-report: needs the WebGPU backend (here ${backend.description}; try --backend webgpu)`,
    );
  }
  return { backend, threads };
}

/** Batch `i` of a fixed shuffle of the training set, the same in every run. */
function fixedBatches(dataset: Dataset, batchSize: number): (i: number) => Batch {
  const order = shuffledOrder(dataset.train.count, 0, 0);
  return (i) =>
    gatherBatch(
      dataset.train,
      order.subarray((i * batchSize) % (dataset.train.count - batchSize)).subarray(0, batchSize),
    );
}

export const benchCommand = defineCommand({
  summary: `Benchmark the data pipeline and training steps on this machine's adapter.

Usage: deno task bench [flags]`,
  flags: FLAGS,
  run: async ({ values, args }) => {
    applyBlasFlag(values.blas, { task: "bench", args });
    const { model, steps } = values;
    const { resize, batchSize } = withRecipe(model, {
      resize: values.resize,
      batchSize: values.batch,
    });
    checkResize(model, resize);
    const started = performance.now();
    const { backend, threads } = await benchBackend(values, { model, resize, batchSize });
    const report = values["gpu-report"]
      ? await gpuReportOf(values, backend, { model, resize, batchSize })
      : undefined;
    const dataset = await openDataset({ dataDir: values["data-dir"] });
    console.log(deviceLine(backend));
    if (backend.name === "wasm") {
      console.log(
        `threads: ${threads.threads} (${threads.reason}), planned peak memory ${
          (threads.peakBytes / 1e9).toFixed(1)
        } GB`,
      );
    }
    const batchAt = fixedBatches(dataset, batchSize);
    const dataSeconds = await benchDataPipeline(batchAt, values["data-batches"], resize);
    console.log(
      `data pipeline: ${(1 / dataSeconds).toFixed(1)} batches/s (median ${
        (dataSeconds * 1000).toFixed(1)
      } ms per batch of ${batchSize} at ${resize}×${resize}, read back included)`,
    );
    const result: Record<string, unknown> = {
      device: backend.description,
      software: backend.software,
      model,
      resize,
      batch: batchSize,
      dataSecondsPerBatch: dataSeconds,
      dataBatchesPerSecond: 1 / dataSeconds,
    };
    if (steps > 0) {
      const figures = await benchSteps({
        model,
        resize,
        batchSize,
        steps,
        backend,
        batchAt,
        started,
        threads: threads.threads,
      });
      const stepSeconds = figures.medianSecondsPerStep as number;
      console.log(
        `median ${stepSeconds.toFixed(3)} s/step, ${
          (batchSize / stepSeconds).toFixed(2)
        } images/s; data pipeline ${(100 * dataSeconds / stepSeconds).toFixed(1)}% of a step`,
      );
      Object.assign(result, figures);
    }
    if (values["torch-script"] !== undefined && steps > 0) {
      const run = { model, resize, batchSize, steps, dataDir: dataset.dir };
      result.torch = await compareWithTorch(values, run, result.imagesPerSecond as number);
    }
    if (report) Object.assign(result, { gpuReport: report });
    console.log(JSON.stringify(result));
    if (report && values["report-dir"] !== undefined) {
      await writeGpuReport(values["report-dir"], result, report);
    }
    return 0;
  },
});

if (import.meta.main) await runMain(() => benchCommand.run(Deno.args));
