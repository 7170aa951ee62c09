/**
 * fashion-webgpu as a library: load Fashion-MNIST, build the book's
 * networks, pick a backend (WebGPU, or wasm with this project's kernels),
 * train with checkpoints and evaluate.
 *
 * ```ts
 * import { evaluate, openDataset, setupBackend, train } from "./mod.ts";
 *
 * const backend = await setupBackend("auto");
 * const dataset = await openDataset({ dataset: "fashion-mnist" });
 * const { model } = await train({ runDir: "runs/mine", dataset, backend, config: { ... } });
 * console.log(await evaluate(model, dataset.test, { resize: 28, batchSize: 256 }));
 * ```
 *
 * @module
 */
export { InputError, SettingError } from "./errors.ts";

// Data: the IDX files, found, downloaded or given, and the resize to the network's input.
export { DATASET_NAMES, type DatasetInfo, type DatasetName, DATASETS } from "./data/datasets.ts";
export { type Dataset, loadDataset, type Split, takeFirst } from "./data/load.ts";
export { openDataset, type OpenDatasetOptions } from "./data/source.ts";
export { readIdxFile } from "./data/idx.ts";
export { resizeBatch } from "./data/resize.ts";

// Models.
export { buildModel, MODEL_NAMES, type ModelName } from "./model/registry.ts";
export { formatSummary, summarizeModel } from "./model/summary.ts";

// Backends.
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  setupBackend,
} from "./backend/setup.ts";
// The wasm backend's BLAS: chosen before `setupBackend` (default `auto`), and searched where.
export {
  type Blas,
  type BlasChoice,
  BlasError,
  chooseBlas,
  type Gemm,
} from "./backend/wasm/blas.ts";
export type { BlasProblem } from "./backend/wasm/blas/open.ts";
export { BLAS_LIBRARIES, type BlasLibrary, type BlasOs } from "./backend/wasm/blas/libraries.ts";

// Training and evaluation.
export {
  train,
  type TrainingProgress,
  type TrainOptions,
  type TrainResult,
} from "./training/train.ts";
export type { EpochRecord, TrainConfig, TrainingState } from "./training/state.ts";
export { evaluate, type EvaluateOptions, type Evaluation } from "./training/evaluate.ts";

// Checkpoints (the tfjs LayersModel format, with the optimizer's and the run's state).
export {
  type Checkpoint,
  loadCheckpoint,
  loadCheckpointModel,
  saveCheckpoint,
} from "./run_folder/checkpoint.ts";
