import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import type { TrainingState } from "../training/state.ts";
import { finiteJson } from "./finite_json.ts";
import { writeTensors } from "./weights_file.ts";
import {
  checkCheckpoint,
  type CheckedCheckpoint,
  CHECKPOINT_FILES as FILES,
  checkState,
  optimizerTensors,
  readJson,
} from "./validate.ts";

/** Name of the checkpoint folder inside a run folder. */
export const CHECKPOINT_DIR = "checkpoint";
/** The checkpoint a save moves aside until the new one is in place. */
export const PREVIOUS_DIR = "checkpoint.previous";
/** The prefix of the folder a save writes before its renames. */
export const FRESH_PREFIX = ".checkpoint.tmp-";

/** A loaded checkpoint: the model, the optimizer's saved variables and the training state. */
export interface Checkpoint {
  model: tf.LayersModel;
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
  state: TrainingState;
  dir: string;
}

/**
 * The optimizer's weights named after the model's weights as saved
 * (`conv1/kernel/m`): tfjs names variables uniquely per process
 * (`conv1/kernel_1` when another network was built first), and a
 * checkpoint must not depend on that.
 */
function canonicalOptimizerNames(
  model: tf.LayersModel,
  weights: { name: string; tensor: tf.Tensor }[],
): { name: string; tensor: tf.Tensor }[] {
  const original = new Map(
    model.weights.map((weight) => [(weight.read() as tf.Variable).name, weight.originalName]),
  );
  return weights.map(({ name, tensor }) => {
    const slash = name.lastIndexOf("/");
    const variable = original.get(name.slice(0, slash));
    return { name: variable ? `${variable}${name.slice(slash)}` : name, tensor };
  });
}

/**
 * Saves model (tfjs LayersModel format: `model.json` + `weights.bin`,
 * loadable by `tf.loadLayersModel`), optimizer state and training state
 * into `runDir/checkpoint`. Everything is written to a fresh folder first,
 * which then replaces the previous checkpoint by renames: an interruption
 * at any moment leaves a complete checkpoint (see `repairRunFolder`). A
 * save that fails (a full disk) removes what it wrote and leaves the
 * previous checkpoint as it was.
 */
export async function saveCheckpoint(
  runDir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: TrainingState,
): Promise<void> {
  const fresh = join(runDir, `${FRESH_PREFIX}${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.mkdir(fresh);
    const weightSpecs = model.weights.map((weight) => ({
      name: weight.originalName,
      shape: weight.shape as number[],
      dtype: weight.dtype,
    }));
    await writeTensors(join(fresh, FILES.weights), model.weights.map((weight) => weight.read()));
    await Deno.writeTextFile(
      join(fresh, FILES.model),
      finiteJson({
        format: "layers-model",
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: model.toJSON(null, false),
        weightsManifest: [{ paths: [FILES.weights], weights: weightSpecs }],
      }),
    );
    const optimizerWeights = canonicalOptimizerNames(model, await optimizer.getWeights());
    await writeTensors(
      join(fresh, FILES.optimizerWeights),
      optimizerWeights.map(({ tensor }) => tensor),
    );
    tf.dispose(
      optimizerWeights.map(({ tensor }) => tensor).filter((tensor) =>
        !(tensor instanceof tf.Variable)
      ),
    );
    await Deno.writeTextFile(
      join(fresh, FILES.optimizer),
      finiteJson({
        className: optimizer.getClassName(),
        weights: optimizerWeights.map(({ name, tensor }) => ({
          name,
          shape: tensor.shape,
          dtype: tensor.dtype,
        })),
      }),
    );
    await Deno.writeTextFile(join(fresh, FILES.state), finiteJson(state, 2));
  } catch (error) {
    await Deno.remove(fresh, { recursive: true }).catch(() => {});
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(
      `${runDir}: the checkpoint could not be written (${reason}); the previous one is intact`,
    );
  }
  const current = join(runDir, CHECKPOINT_DIR);
  const previous = join(runDir, PREVIOUS_DIR);
  await Deno.remove(previous, { recursive: true }).catch(() => {});
  if (await isFolder(current)) await Deno.rename(current, previous);
  await Deno.rename(fresh, current);
  await Deno.remove(previous, { recursive: true }).catch(() => {});
}

/** True when `path` is a folder; false when nothing is there; an `InputError` for a file. */
async function isFolder(path: string): Promise<boolean> {
  try {
    const stat = await Deno.stat(path);
    if (!stat.isDirectory) throw new InputError(`${path}: not a folder`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new InputError(`${path}: a file is in the way of this path`);
    }
    throw error;
  }
}

/** The checkpoint folder of a run (the previous one when a save was cut short), or an `InputError`. */
export async function findCheckpoint(runDir: string): Promise<string> {
  if (!(await isFolder(runDir))) throw new InputError(`${runDir}: no such run folder`);
  for (const name of [CHECKPOINT_DIR, PREVIOUS_DIR]) {
    const dir = join(runDir, name);
    if ((await isFolder(dir)) && (await isFile(join(dir, FILES.state)))) return dir;
  }
  throw new InputError(
    `${runDir}: no checkpoint in this folder (expected ${CHECKPOINT_DIR}/${FILES.state})`,
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The model of a checked checkpoint, rebuilt by tfjs. */
async function modelOf(checked: CheckedCheckpoint): Promise<tf.LayersModel> {
  const data = checked.weightData;
  try {
    return await tf.loadLayersModel({
      load: () =>
        Promise.resolve({
          modelTopology: checked.modelTopology,
          weightSpecs: checked.weightSpecs as tf.io.WeightsManifestEntry[],
          weightData: data.buffer.slice(
            data.byteOffset,
            data.byteOffset + data.byteLength,
          ) as ArrayBuffer,
        }),
    }) as tf.LayersModel;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`${join(checked.dir, FILES.model)}: cannot rebuild the model (${reason})`);
  }
}

/** Checks a checkpoint folder (see `checkCheckpoint`) and loads only its model (for evaluation). */
export async function loadCheckpointModel(dir: string): Promise<tf.LayersModel> {
  return await modelOf(await checkCheckpoint(dir));
}

/** Reads and checks the training state of a checkpoint folder. */
export async function readTrainingState(dir: string): Promise<TrainingState> {
  const path = join(dir, FILES.state);
  return checkState(await readJson(path), path);
}

/** Checks and loads the latest checkpoint of a run folder. */
export async function loadCheckpoint(runDir: string): Promise<Checkpoint> {
  const checked = await checkCheckpoint(await findCheckpoint(runDir));
  const model = await modelOf(checked);
  return {
    model,
    optimizerWeights: optimizerTensors(checked),
    state: checked.state,
    dir: checked.dir,
  };
}
