/**
 * Evaluates a trained run on the test set: accuracy, per-class accuracy
 * and the confusion matrix.
 *
 *     deno task eval RUN_DIR [flags]     (deno task eval --help)
 *
 * @module
 */
import { setupBackend } from "./backend/setup.ts";
import { downloadProgressPrinter } from "./cli/download_progress.ts";
import { defineCommand, HELP_FLAG, integerFlag, switchFlag } from "./cli/flags.ts";
import { formatEvaluation } from "./cli/report.ts";
import { runMain } from "./cli/run_main.ts";
import { applyBlasFlag } from "./cli/blas_choice.ts";
import { BACKEND_FLAG, BLAS_FLAG, DATA_DIR_FLAG, THREADS_FLAG } from "./cli/shared_flags.ts";
import { takeFirst } from "./data/load.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { findCheckpoint, loadCheckpointModel, readTrainingState } from "./run_folder/checkpoint.ts";
import { evaluate } from "./training/evaluate.ts";
import { EVAL_BATCH_LIMIT, evaluationBatchSize } from "./training/step_plan.ts";
import { workersFor } from "./training/workers/gradient_workers.ts";
import { planThreads, thisMachine } from "./training/workers/thread_plan.ts";
import { networkSize } from "./model/workload.ts";
import { Progress } from "./cli/progress.ts";

const FLAGS = {
  limit: integerFlag({ help: "evaluate on the first N test images only" }),
  batch: integerFlag({
    help: "images per forward pass",
    defaultText: "as many as the device allows, at most 256",
  }),
  "data-dir": DATA_DIR_FLAG,
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  blas: BLAS_FLAG,
  json: switchFlag({ help: "print one JSON object instead of the report" }),
  help: HELP_FLAG,
};

/** The `eval` command. */
export const evalCommand = defineCommand({
  summary: `Evaluate a trained run on the test set.

Usage: deno task eval RUN_DIR [flags]`,
  flags: FLAGS,
  positionals: true,
  run: async ({ values, positionals, args }) => {
    applyBlasFlag(values.blas, { task: "eval", args });
    if (positionals.length !== 1) {
      throw new InputError("give exactly one run folder: deno task eval RUN_DIR (see --help)");
    }
    const dir = await findCheckpoint(positionals[0]);
    const { config } = await readTrainingState(dir);
    const threads = planThreads(
      thisMachine(),
      { ...networkSize(config.model, config.resize), batchSize: EVAL_BATCH_LIMIT },
      values.threads,
    );
    const backend = await setupBackend(values.backend, {
      model: config.model,
      resize: config.resize,
      threads: threads.threads,
    });
    const workers = await workersFor(backend, {
      model: config.model,
      resize: config.resize,
      threads: threads.threads,
    });
    const model = await loadCheckpointModel(dir);
    const dataset = await openDataset({
      dataset: config.dataset,
      dataDir: values["data-dir"],
      download: { onProgress: downloadProgressPrinter() },
      log: (line) => console.error(line),
    });
    const test = takeFirst(dataset.test, values.limit);
    const batchSize = values.batch ?? evaluationBatchSize(model, backend);
    const started = performance.now();
    const progress = new Progress({
      total: test.count,
      label: "test",
      unit: "img",
      interactive: Deno.stderr.isTerminal(),
      write: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    });
    const evaluation = await evaluate(model, test, {
      resize: config.resize,
      batchSize,
      workers,
      onProgress: (done, _, accuracy) => progress.update(done, `acc ${accuracy.toFixed(3)}`),
    });
    progress.finish();
    workers?.close();
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
  },
});

if (import.meta.main) await runMain(() => evalCommand.run(Deno.args));
