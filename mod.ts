/**
 * fashion-webgpu: train convolutional networks on Fashion-MNIST on the GPU
 * through WebGPU, with TensorFlow.js on Deno.
 *
 * @module
 */
export { InputError } from "./errors.ts";
export {
  DATASET_NAMES,
  datasetFileNames,
  type DatasetFiles,
  type DatasetInfo,
  type DatasetName,
  DATASETS,
} from "./data/datasets.ts";
export {
  decodeIdx,
  gunzip,
  type IdxArray,
  type IdxElementType,
  isGzip,
  parseIdx,
  readIdxFile,
} from "./data/idx.ts";
export {
  type Dataset,
  IMAGE_SIZE,
  loadDataset,
  loadSplit,
  NUM_CLASSES,
  type Split,
  takeFirst,
} from "./data/load.ts";
export { cacheDir, missingFiles, searchDirs, TOOL_NAME } from "./data/locate.ts";
export {
  downloadDataset,
  downloadFile,
  type DownloadOptions,
  type DownloadProgress,
  DownloadUnavailableError,
} from "./data/download.ts";
export { openDataset, type OpenDatasetOptions } from "./data/source.ts";
export { bilinearWeights, resizeBatch } from "./data/resize.ts";
export {
  type Batch,
  batchCount,
  epochBatches,
  type EpochBatchOptions,
  gatherBatch,
  shuffledOrder,
} from "./data/batches.ts";
export { mixSeed, seededRandom } from "./data/random.ts";
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  fastestBackend,
  hasWebGPUAdapter,
  setupBackend,
  setupWasm,
  setupWebGPU,
} from "./backend/setup.ts";
export { ALEXNET_MIN_RESIZE, alexnetFeatureSide, buildAlexNet } from "./model/alexnet.ts";
export { buildLeNet, type LeNetOptions } from "./model/lenet.ts";
export { torchDefaultInit } from "./model/init.ts";
export {
  buildModel,
  checkResize,
  MODEL_NAMES,
  type ModelName,
  MODELS,
  type ModelSpec,
} from "./model/registry.ts";
export { formatSummary, type LayerRow, summarizeModel } from "./model/summary.ts";
export { avoidBrokenSplitK } from "./backend/webgpu/matmul_split_k_fix.ts";
export { registerConvFilterGradient } from "./backend/webgpu/conv_filter_gradient.ts";
export { countCorrect, crossEntropySum, type DropoutPlan, forward } from "./training/forward.ts";
export {
  batchSlice,
  type GradientContext,
  type PartGradients,
  partGradients,
  type StepContext,
  type StepResult,
  trainableVariables,
  trainStep,
} from "./training/step.ts";
export { GradientHelpers, helperCount, type HelperOptions } from "./training/workers/gradient_workers.ts";
export { registerWasmConvGradients } from "./backend/wasm/conv_gradients.ts";
export { registerWasmMatMul } from "./backend/wasm/matmul.ts";
export {
  evaluationBatchSize,
  largestActivationBytes,
  microBatchLimit,
  splitEvenly,
} from "./training/step_plan.ts";
export { createOptimizer, OPTIMIZER_NAMES } from "./training/optimizer.ts";
export {
  type EpochProgress,
  type EpochRecord,
  initialState,
  type OptimizerName,
  type TrainConfig,
  type TrainingState,
} from "./training/state.ts";
export { train, type TrainOptions, type TrainResult } from "./training/train.ts";
export {
  evaluate,
  type EvaluateOptions,
  type Evaluation,
  summarizeConfusion,
} from "./training/evaluate.ts";
export { formatEvaluation } from "./cli/report.ts";
export {
  type Checkpoint,
  CHECKPOINT_DIR,
  findCheckpoint,
  loadCheckpoint,
  loadCheckpointModel,
  readTrainingState,
  saveCheckpoint,
} from "./run_folder/checkpoint.ts";
export { epochChart } from "./run_folder/chart.ts";
export { RUN_FILES, writeRunFiles } from "./run_folder/run_files.ts";
