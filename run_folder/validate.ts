/**
 * Checks a checkpoint folder before anything is loaded from it or trained
 * on it: `state.json` against its schema (every field's type and range,
 * and consistency with the model registry), `model.json` against the
 * network the registry builds for that state (topology, every weight's
 * name, shape and dtype, the byte count of `weights.bin`, finite values),
 * and the optimizer's state against the model's variables (names, shapes,
 * byte count, finite values). Any mismatch is an `InputError` of one line
 * naming the file and the field. Nothing is written.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { DATASET_NAMES } from "../data/datasets.ts";
import { InputError } from "../errors.ts";
import { buildModel, MODEL_NAMES, type ModelName, MODELS } from "../model/registry.ts";
import { OPTIMIZER_NAMES } from "../training/optimizer.ts";
import type { TrainingState } from "../training/state.ts";

/** The files of a checkpoint folder. */
export const CHECKPOINT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  optimizer: "optimizer.json",
  optimizerWeights: "optimizer.bin",
  state: "state.json",
};

/** A weight as a manifest lists it. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/** A checkpoint folder's contents, checked. */
export interface CheckedCheckpoint {
  dir: string;
  state: TrainingState;
  /** `model.json`'s topology and weight list, and `weights.bin`. */
  modelTopology: object;
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
  /** `optimizer.json`'s weight list and `optimizer.bin`. */
  optimizerSpecs: WeightSpec[];
  optimizerData: Uint8Array;
}

/** Reads a file's bytes, or an `InputError` naming it. */
async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new InputError(`${path}: file not found`);
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`${path}: cannot be read (${reason})`);
  }
}

/** Reads and parses a JSON file, or an `InputError` naming it. */
export async function readJson(path: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(path));
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${path}: not valid JSON (corrupt checkpoint?)`);
  }
}

/** Checks on one JSON file's fields, each failure naming the file and the field. */
class Fields {
  constructor(readonly path: string) {}

  fail(field: string, problem: string): never {
    throw new InputError(`${this.path}: ${field} ${problem}`);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(field, "must be an object");
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, "must be a list");
    return value;
  }

  number(value: unknown, field: string, min = -Infinity, max = Infinity): number {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(field, `is ${JSON.stringify(value)}, must be a finite number`);
    }
    if (value < min || value > max) this.fail(field, `is ${value}, must be in [${min}, ${max}]`);
    return value;
  }

  integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      this.fail(field, `is ${JSON.stringify(value)}, must be an integer`);
    }
    if (value < min || value > max) this.fail(field, `is ${value}, must be in [${min}, ${max}]`);
    return value;
  }

  choice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
    if (!choices.includes(value as T)) {
      this.fail(field, `is ${JSON.stringify(value)}, must be one of ${choices.join(", ")}`);
    }
    return value as T;
  }
}

/** Checks `state.json`'s contents against the schema of `TrainingState`. */
export function checkState(value: unknown, path: string): TrainingState {
  const f = new Fields(path);
  const state = f.object(value, "the state");
  if (state.version !== 1) f.fail("version", `is ${JSON.stringify(state.version)}, must be 1`);
  const config = f.object(state.config, "config");
  const model = f.choice(config.model, "config.model", MODEL_NAMES);
  const { minResize, maxResize } = MODELS[model];
  f.choice(config.dataset, "config.dataset", DATASET_NAMES);
  f.integer(config.resize, "config.resize", minResize, maxResize);
  f.integer(config.batchSize, "config.batchSize", 1);
  f.number(config.learningRate, "config.learningRate", Number.MIN_VALUE);
  f.choice(config.optimizer, "config.optimizer", OPTIMIZER_NAMES);
  const epochs = f.integer(config.epochs, "config.epochs", 1);
  f.integer(config.seed, "config.seed", 0);
  for (const key of ["limit", "testLimit"]) {
    if (config[key] !== undefined) f.integer(config[key], `config.${key}`, 1);
  }
  const epoch = f.integer(state.epoch, "epoch", 0, epochs);
  const batch = f.integer(state.batch, "batch", 0);
  const step = f.integer(state.step, "step", 0);
  const partial = f.object(state.partial, "partial");
  f.number(partial.lossSum, "partial.lossSum", 0);
  const seen = f.integer(partial.seen, "partial.seen", 0);
  f.integer(partial.correct, "partial.correct", 0, seen);
  f.number(partial.seconds, "partial.seconds", 0);
  const history = f.array(state.history, "history");
  if (history.length !== epoch) {
    f.fail("history", `has ${history.length} epochs, but epoch is ${epoch}`);
  }
  history.forEach((entry, i) => {
    const record = f.object(entry, `history[${i}]`);
    f.integer(record.epoch, `history[${i}].epoch`, i + 1, i + 1);
    f.number(record.loss, `history[${i}].loss`, 0);
    f.number(record.trainAccuracy, `history[${i}].trainAccuracy`, 0, 1);
    f.number(record.testAccuracy, `history[${i}].testAccuracy`, 0, 1);
    for (const key of ["seconds", "evalSeconds", "imagesPerSecond"]) {
      f.number(record[key], `history[${i}].${key}`, 0);
    }
  });
  if (step < batch) f.fail("step", `is ${step}, fewer than the batches done (${batch})`);
  return state as unknown as TrainingState;
}

/** Removes initialisers (their seeds vary with the run's seed) from a topology, for comparison. */
function withoutInitializers(topology: unknown): unknown {
  return JSON.parse(
    JSON.stringify(topology),
    (key, value) => key.endsWith("_initializer") ? undefined : value,
  );
}

/**
 * The topology and weights of the network the registry builds for `model`
 * at `resize`, built with zeros on the CPU backend (the active one is
 * restored) so that a GPU holds nothing for it.
 */
async function expectedNetwork(model: ModelName, resize: number) {
  const active = tf.getBackend();
  await tf.setBackend("cpu");
  try {
    const network = buildModel(model, { resize, seed: null });
    const topology = network.toJSON(null, false);
    const spec = (weight: tf.LayerVariable) => ({
      name: weight.originalName,
      shape: weight.shape as number[],
      dtype: weight.dtype,
    });
    const weights = network.weights.map(spec);
    const trainable = network.trainableWeights.map(spec);
    network.dispose();
    return { topology, weights, trainable };
  } finally {
    await tf.setBackend(active);
  }
}

/** Fails unless every float of `bytes` (little-endian float32) is finite. */
function checkFinite(bytes: Uint8Array, path: string): void {
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  for (let i = 0; i < floats.length; i++) {
    if (!Number.isFinite(floats[i])) {
      throw new InputError(
        `${path}: value ${i} is ${floats[i]} (the run diverged before this save?)`,
      );
    }
  }
}

/** Fails unless `specs` list exactly `expected`, in order. */
function checkSpecs(specs: WeightSpec[], expected: WeightSpec[], f: Fields, field: string): void {
  if (specs.length !== expected.length) {
    f.fail(field, `lists ${specs.length} weights, must list ${expected.length}`);
  }
  specs.forEach((spec, i) => {
    const want = expected[i];
    const same = spec.name === want.name && spec.dtype === want.dtype &&
      JSON.stringify(spec.shape) === JSON.stringify(want.shape);
    if (!same) {
      f.fail(
        `${field}[${i}]`,
        `is ${spec.name} ${spec.dtype} [${spec.shape}], the model needs ${want.name} ${want.dtype} [${want.shape}]`,
      );
    }
  });
}

/** Bytes the weights of `specs` take (float32 and int32 both take 4). */
function byteCount(specs: WeightSpec[]): number {
  return specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
}

/** Reads a manifest's weight list, each entry checked for its fields' types. */
function weightList(value: unknown, f: Fields, field: string): WeightSpec[] {
  return f.array(value, field).map((entry, i) => {
    const spec = f.object(entry, `${field}[${i}]`);
    if (typeof spec.name !== "string") f.fail(`${field}[${i}].name`, "must be a string");
    const shape = f.array(spec.shape, `${field}[${i}].shape`).map((dim, d) =>
      f.integer(dim, `${field}[${i}].shape[${d}]`, 0)
    );
    const dtype = f.choice(spec.dtype, `${field}[${i}].dtype`, ["float32", "int32"]);
    return { name: spec.name as string, shape, dtype };
  });
}

/**
 * The optimizer's weights a checkpoint of `state` must hold, for the
 * `trainable` variables (a batch norm's running statistics are not).
 */
function expectedOptimizerSpecs(state: TrainingState, trainable: WeightSpec[]): WeightSpec[] {
  const iterations = { name: "iter", shape: [], dtype: "int32" };
  if (state.config.optimizer === "sgd") return [iterations];
  const moments = (suffix: string) =>
    trainable.map((spec) => ({ ...spec, name: `${spec.name}/${suffix}` }));
  return [
    iterations,
    ...moments("m"),
    ...moments("v"),
    { name: "accBeta1", shape: [], dtype: "float32" },
    { name: "accBeta2", shape: [], dtype: "float32" },
  ];
}

/**
 * Reads and checks the checkpoint folder `dir` (see the module's
 * documentation). The network is built on the active backend to know what
 * the files must hold; its memory is freed again.
 */
export async function checkCheckpoint(dir: string): Promise<CheckedCheckpoint> {
  const statePath = join(dir, CHECKPOINT_FILES.state);
  const state = checkState(await readJson(statePath), statePath);
  const { model, resize } = state.config;

  const modelPath = join(dir, CHECKPOINT_FILES.model);
  const m = new Fields(modelPath);
  const manifest = m.object(await readJson(modelPath), "the file");
  const topology = m.object(manifest.modelTopology, "modelTopology");
  const groups = m.array(manifest.weightsManifest, "weightsManifest");
  if (groups.length !== 1) m.fail("weightsManifest", `has ${groups.length} groups, must have 1`);
  const group = m.object(groups[0], "weightsManifest[0]");
  const paths = m.array(group.paths, "weightsManifest[0].paths");
  if (paths.length !== 1 || paths[0] !== CHECKPOINT_FILES.weights) {
    m.fail("weightsManifest[0].paths", `must be ["${CHECKPOINT_FILES.weights}"]`);
  }
  const weightSpecs = weightList(group.weights, m, "weightsManifest[0].weights");
  const expected = await expectedNetwork(model, resize);
  if (
    JSON.stringify(withoutInitializers(topology)) !==
      JSON.stringify(withoutInitializers(expected.topology))
  ) {
    m.fail("modelTopology", `is not ${model} at ${resize}×${resize}, as ${statePath} says`);
  }
  checkSpecs(weightSpecs, expected.weights, m, "weightsManifest[0].weights");
  const weightsPath = join(dir, CHECKPOINT_FILES.weights);
  const weightData = await readBytes(weightsPath);
  if (weightData.byteLength !== byteCount(weightSpecs)) {
    throw new InputError(
      `${weightsPath}: ${weightData.byteLength} bytes, ${modelPath} describes ${
        byteCount(weightSpecs)
      } (corrupt checkpoint?)`,
    );
  }
  checkFinite(weightData, weightsPath);

  const optimizerPath = join(dir, CHECKPOINT_FILES.optimizer);
  const o = new Fields(optimizerPath);
  const optimizer = o.object(await readJson(optimizerPath), "the file");
  const optimizerSpecs = weightList(optimizer.weights, o, "weights");
  const wanted = expectedOptimizerSpecs(state, expected.trainable);
  if (state.step > 0 || optimizerSpecs.length > 1) {
    checkSpecs(optimizerSpecs, wanted, o, "weights");
  }
  const optimizerBinPath = join(dir, CHECKPOINT_FILES.optimizerWeights);
  const optimizerData = await readBytes(optimizerBinPath);
  if (optimizerData.byteLength !== byteCount(optimizerSpecs)) {
    throw new InputError(
      `${optimizerBinPath}: ${optimizerData.byteLength} bytes, ${optimizerPath} describes ${
        byteCount(optimizerSpecs)
      } (corrupt checkpoint?)`,
    );
  }
  // Only the float32 weights: `iter` is an integer.
  let offset = 0;
  for (const spec of optimizerSpecs) {
    const bytes = spec.shape.reduce((a, b) => a * b, 1) * 4;
    if (spec.dtype === "float32") {
      checkFinite(optimizerData.subarray(offset, offset + bytes), optimizerBinPath);
    }
    offset += bytes;
  }
  return {
    dir,
    state,
    modelTopology: topology,
    weightSpecs,
    weightData,
    optimizerSpecs,
    optimizerData,
  };
}

/** Decodes a checked checkpoint's optimizer weights into tensors, in their saved order. */
export function optimizerTensors(
  checked: CheckedCheckpoint,
): { name: string; tensor: tf.Tensor }[] {
  const data = checked.optimizerData;
  const decoded = tf.io.decodeWeights(
    data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    checked.optimizerSpecs as tf.io.WeightsManifestEntry[],
  );
  return checked.optimizerSpecs.map((spec) => ({ name: spec.name, tensor: decoded[spec.name] }));
}
