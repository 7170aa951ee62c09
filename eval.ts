/**
 * Evaluates a trained run on the test set: accuracy, per-class accuracy
 * and the confusion matrix.
 *
 *     deno task eval RUN_DIR [flags]     (deno task eval --help)
 *
 * @module
 */
import { choiceFlag, integerFlag, parseFlags } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { downloadProgressPrinter } from "./cli/download_progress.ts";
import { takeFirst } from "./data/load.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { BACKEND_CHOICES, setupBackend } from "./backend/setup.ts";
import { findCheckpoint, loadCheckpointModel, readTrainingState } from "./run_folder/checkpoint.ts";
import { evaluate } from "./training/evaluate.ts";
import { evaluationBatchSize } from "./training/step_plan.ts";
import { formatEvaluation } from "./cli/report.ts";

const HELP = `Evaluate a trained run on the test set.

Usage: deno task eval RUN_DIR [flags]

  --limit N          evaluate on the first N test images only
  --batch N          images per forward pass (default: as large as the device allows, at most 256)
  --data-dir DIR     folder holding the dataset's four .gz files
  --backend NAME     auto (default: webgpu on a hardware GPU, else wasm), webgpu, wasm, cpu
  --json             print one JSON object instead of the report
  --help             this text`;

const FLAGS = {
  limit: { type: "string" },
  batch: { type: "string" },
  "data-dir": { type: "string" },
  backend: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean" },
} as const;

/** Runs the `eval` command with its command-line arguments; returns the exit code. */
export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS, true);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InputError("give exactly one run folder: deno task eval RUN_DIR (see --help)");
  }
  const backendName = choiceFlag("backend", values.backend ?? "auto", BACKEND_CHOICES);
  const limit = values.limit === undefined ? undefined : integerFlag("limit", values.limit);
  const batch = values.batch === undefined ? undefined : integerFlag("batch", values.batch);
  const dir = await findCheckpoint(positionals[0]);
  const { config } = await readTrainingState(dir);
  const backend = await setupBackend(backendName);
  const model = await loadCheckpointModel(dir);
  const dataset = await openDataset({
    dataset: config.dataset,
    dataDir: values["data-dir"],
    download: { onProgress: downloadProgressPrinter() },
    log: (line) => console.error(line),
  });
  const test = takeFirst(dataset.test, limit);
  const batchSize = batch ?? evaluationBatchSize(model, backend.maxBindingBytes);
  const started = performance.now();
  const evaluation = await evaluate(model, test, { resize: config.resize, batchSize });
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    console.log(JSON.stringify({
      run: positionals[0],
      checkpoint: dir,
      model: config.model,
      resize: config.resize,
      dataset: config.dataset,
      device: backend.description,
      classes: dataset.info.classes,
      seconds,
      ...evaluation,
    }));
  } else {
    console.log(`${config.model} from ${dir} on ${backend.description}, ${seconds.toFixed(1)} s`);
    console.log(formatEvaluation(evaluation, dataset.info.classes));
  }
  return 0;
}

if (import.meta.main) await runMain(() => evalCommand(Deno.args));
