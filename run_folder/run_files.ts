import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";
import { epochChart } from "./chart.ts";
import type { TrainingState } from "../training/state.ts";

/** File names inside a run folder. */
export const RUN_FILES = { metrics: "metrics.jsonl", chart: "curves.svg" };

/** Rewrites `metrics.jsonl` (one record per finished epoch) and `curves.svg` from the state, atomically. */
export async function writeRunFiles(runDir: string, state: TrainingState): Promise<void> {
  const lines = state.history.map((record) => JSON.stringify(record) + "\n").join("");
  await writeFileAtomic(join(runDir, RUN_FILES.metrics), lines);
  const { model, resize, batchSize } = state.config;
  await writeFileAtomic(
    join(runDir, RUN_FILES.chart),
    epochChart(
      state.history,
      state.config.epochs,
      `${model} at ${resize}×${resize}, batch ${batchSize}`,
    ),
  );
}
