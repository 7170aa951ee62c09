import { join } from "node:path";
import { DATASETS } from "../../data/datasets.ts";
import { type Dataset, loadDataset } from "../../data/load.ts";
import type { TrainConfig } from "../../training/state.ts";
import { train } from "../../training/train.ts";
import { autoBackend } from "./backends.ts";
import { hasRealData, REAL_DATA_DIR } from "./test_data.ts";

/** Fashion-MNIST as Debian's package installs it, or undefined where it is not. */
export const realDataset: Dataset | undefined = hasRealData()
  ? await loadDataset(DATASETS["fashion-mnist"], REAL_DATA_DIR)
  : undefined;

/** `Deno.test` options of a test that trains on the real data (skipped without it). */
export const realDataOptions = {
  ignore: !realDataset,
  sanitizeOps: false,
  sanitizeResources: false,
};

/** LeNet-ReLU for one epoch of two steps: a run folder made in about a second. */
export const TINY_CONFIG: TrainConfig = {
  model: "lenet-relu",
  dataset: "fashion-mnist",
  resize: 28,
  batchSize: 32,
  learningRate: 0.001,
  optimizer: "adam",
  epochs: 1,
  seed: 5,
  limit: 64,
  testLimit: 32,
};

/**
 * A finished run of {@link TINY_CONFIG}, changed by `config`, in a fresh
 * folder (`run` under `parent` when given); returns the folder.
 */
export async function tinyRun(
  options: { parent?: string; config?: Partial<TrainConfig> } = {},
): Promise<string> {
  const runDir = options.parent ? join(options.parent, "run") : await Deno.makeTempDir();
  await Deno.mkdir(runDir, { recursive: true });
  const { model } = await train({
    runDir,
    dataset: realDataset!,
    backend: await autoBackend(),
    config: { ...TINY_CONFIG, ...options.config },
  });
  model.dispose();
  return runDir;
}
