import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";
import { epochChart } from "./chart.ts";
import { finiteJson } from "./finite_json.ts";
import type { TrainingState } from "../training/state.ts";
import type { Evaluation } from "../training/evaluate.ts";

/** File names inside a run folder. */
export const RUN_FILES = {
  metrics: "metrics.jsonl",
  chart: "curves.svg",
  evaluation: "evaluation.json",
};

/** The contents of `metrics.jsonl` and `curves.svg` for a state. */
function runFiles(state: TrainingState): { metrics: string; chart: string } {
  const { model, resize, batchSize, epochs } = state.config;
  return {
    metrics: state.history.map((record) => finiteJson(record) + "\n").join(""),
    chart: epochChart(state.history, epochs, `${model} at ${resize}×${resize}, batch ${batchSize}`),
  };
}

/** Rewrites `metrics.jsonl` (one record per finished epoch) and `curves.svg` from the state, atomically. */
export async function writeRunFiles(runDir: string, state: TrainingState): Promise<void> {
  const { metrics, chart } = runFiles(state);
  await writeFileAtomic(join(runDir, RUN_FILES.metrics), metrics);
  await writeFileAtomic(join(runDir, RUN_FILES.chart), chart);
}

/** True when the run folder's `metrics.jsonl` and `curves.svg` are those of `state`. */
export async function runFilesMatch(runDir: string, state: TrainingState): Promise<boolean> {
  const expected = runFiles(state);
  const read = (name: string) => Deno.readTextFile(join(runDir, name)).catch(() => undefined);
  return (await read(RUN_FILES.metrics)) === expected.metrics &&
    (await read(RUN_FILES.chart)) === expected.chart;
}

/** The last epoch's evaluation in detail, as `evaluation.json` holds it. */
export interface EpochEvaluation extends Evaluation {
  /** 1-based. */
  epoch: number;
}

/** Writes `evaluation.json`, the last epoch's confusion matrix and first predictions, atomically. */
export async function writeEvaluation(runDir: string, evaluation: EpochEvaluation): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_FILES.evaluation), finiteJson(evaluation) + "\n");
}

/** The run folder's `evaluation.json`, or `undefined` where there is none or it is unreadable. */
export async function readEvaluation(runDir: string): Promise<EpochEvaluation | undefined> {
  try {
    const value = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.evaluation)));
    return Array.isArray(value?.confusion) ? value : undefined;
  } catch {
    return undefined;
  }
}
