import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { exists } from "./atomic.ts";
import type { TrainingState } from "../training/state.ts";

/** Name of the checkpoint folder inside a run folder. */
export const CHECKPOINT_DIR = "checkpoint";
const PREVIOUS_DIR = "checkpoint.previous";

const FILES = {
  model: "model.json",
  weights: "weights.bin",
  optimizer: "optimizer.json",
  optimizerWeights: "optimizer.bin",
  state: "state.json",
};

/** A loaded checkpoint: the model, the optimizer's saved variables and the training state. */
export interface Checkpoint {
  model: tf.Sequential;
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
  state: TrainingState;
  dir: string;
}

function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array();
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/**
 * Saves model (tfjs LayersModel format: `model.json` + `weights.bin`,
 * loadable by `tf.loadLayersModel`), optimizer state and training state
 * into `runDir/checkpoint`. Everything is written to a fresh folder first,
 * which then replaces the previous checkpoint by renames: an interruption
 * at any moment leaves a complete checkpoint.
 */
export async function saveCheckpoint(
  runDir: string,
  model: tf.Sequential,
  optimizer: tf.Optimizer,
  state: TrainingState,
): Promise<void> {
  const fresh = join(runDir, `.checkpoint.tmp-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(fresh);
  try {
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      const manifest = {
        format: "layers-model",
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [FILES.weights], weights: artifacts.weightSpecs }],
      };
      await Deno.writeFile(join(fresh, FILES.weights), joinWeightData(artifacts.weightData));
      await Deno.writeTextFile(join(fresh, FILES.model), JSON.stringify(manifest));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }));
    const optimizerWeights = await optimizer.getWeights();
    const encoded = await tf.io.encodeWeights(optimizerWeights);
    tf.dispose(
      optimizerWeights.map(({ tensor }) => tensor).filter((tensor) =>
        !(tensor instanceof tf.Variable)
      ),
    );
    await Deno.writeFile(join(fresh, FILES.optimizerWeights), joinWeightData(encoded.data));
    await Deno.writeTextFile(
      join(fresh, FILES.optimizer),
      JSON.stringify({ className: optimizer.getClassName(), weights: encoded.specs }),
    );
    await Deno.writeTextFile(join(fresh, FILES.state), JSON.stringify(state, null, 2));
    const current = join(runDir, CHECKPOINT_DIR);
    const previous = join(runDir, PREVIOUS_DIR);
    await Deno.remove(previous, { recursive: true }).catch(() => {});
    if (await exists(current)) await Deno.rename(current, previous);
    await Deno.rename(fresh, current);
    await Deno.remove(previous, { recursive: true }).catch(() => {});
  } catch (error) {
    await Deno.remove(fresh, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new InputError(`${path}: file not found`);
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new InputError(`${path}: not valid JSON (corrupt checkpoint?)`);
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new InputError(`${path}: file not found`);
    throw error;
  }
}

/** The checkpoint folder of a run (the previous one when a save was cut short), or an `InputError`. */
export async function findCheckpoint(runDir: string): Promise<string> {
  for (const name of [CHECKPOINT_DIR, PREVIOUS_DIR]) {
    const dir = join(runDir, name);
    if (await exists(join(dir, FILES.state))) return dir;
  }
  if (!(await exists(runDir))) throw new InputError(`${runDir}: no such run folder`);
  throw new InputError(
    `${runDir}: no checkpoint in this folder (expected ${CHECKPOINT_DIR}/${FILES.state})`,
  );
}

/** Loads only the model of a checkpoint folder (for evaluation). */
export async function loadCheckpointModel(dir: string): Promise<tf.Sequential> {
  const modelPath = join(dir, FILES.model);
  const manifest = await readJson<
    {
      modelTopology: tf.io.ModelArtifacts["modelTopology"];
      weightsManifest: tf.io.WeightsManifestConfig;
    }
  >(modelPath);
  const weightsPath = join(dir, FILES.weights);
  const weightData = await readBytes(weightsPath);
  const specs = manifest.weightsManifest?.flatMap((group) => group.weights) ?? [];
  const expectedBytes = specs.reduce(
    (sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4,
    0,
  );
  if (weightData.byteLength !== expectedBytes) {
    throw new InputError(
      `${weightsPath}: ${weightData.byteLength} bytes, ${modelPath} describes ${expectedBytes} (corrupt checkpoint?)`,
    );
  }
  try {
    return await tf.loadLayersModel({
      load: () =>
        Promise.resolve({
          modelTopology: manifest.modelTopology,
          weightSpecs: specs,
          weightData: weightData.slice().buffer,
        }),
    }) as tf.Sequential;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`${modelPath}: cannot rebuild the model (${reason})`);
  }
}

/** Reads the training state of a checkpoint folder. */
export async function readTrainingState(dir: string): Promise<TrainingState> {
  const path = join(dir, FILES.state);
  const state = await readJson<TrainingState>(path);
  if (state?.version !== 1 || typeof state.config?.model !== "string") {
    throw new InputError(`${path}: not a training state of this tool`);
  }
  return state;
}

/** Loads the latest checkpoint of a run folder. */
export async function loadCheckpoint(runDir: string): Promise<Checkpoint> {
  const dir = await findCheckpoint(runDir);
  const state = await readTrainingState(dir);
  const model = await loadCheckpointModel(dir);
  const optimizerPath = join(dir, FILES.optimizer);
  const optimizer = await readJson<{ weights: tf.io.WeightsManifestEntry[] }>(optimizerPath);
  const optimizerData = await readBytes(join(dir, FILES.optimizerWeights));
  let decoded: tf.NamedTensorMap;
  try {
    decoded = tf.io.decodeWeights(optimizerData.slice().buffer, optimizer.weights);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(
      `${join(dir, FILES.optimizerWeights)}: unreadable optimizer state (${reason})`,
    );
  }
  const optimizerWeights = optimizer.weights.map((spec) => ({
    name: spec.name,
    tensor: decoded[spec.name],
  }));
  return { model, optimizerWeights, state, dir };
}
