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
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  hasWebGPUAdapter,
  setupBackend,
  setupWebGPU,
} from "./runtime/backend.ts";
