/**
 * A soak of kills: trains LeNet-ReLU on a small subset, kills `train` with
 * SIGKILL at random moments (while it starts, during steps, during
 * evaluation, during saves) again and again, resuming each time, and
 * checks that the run ends with the weights and optimizer state, byte for
 * byte, and the figures of a run that was never interrupted.
 *
 *     deno task soak [--cycles N] [--seed N] [--limit N] [--test-limit N]
 *
 * @module
 */
import { join } from "node:path";
import { defineCommand, HELP_FLAG, integerFlag } from "../cli/flags.ts";
import { runMain } from "../cli/run_main.ts";
import { seededRandom } from "../data/random.ts";
import { findCheckpoint, readTrainingState } from "../run_folder/checkpoint.ts";
import { RUN_FILES } from "../run_folder/run_files.ts";
import { compareRuns } from "./soak/compare_runs.ts";
import {
  drawKill,
  type Kill,
  killAt,
  type Moment,
  MOMENTS,
  type Timing,
} from "./soak/kill_moments.ts";
import { WatchedRun } from "./soak/watched_run.ts";

/** Options of {@link runSoak}. */
export interface SoakOptions {
  cycles: number;
  /** Seeds the kill moments and the training alike. */
  seed: number;
  /** Training and test images. */
  limit: number;
  testLimit: number;
  /** Told of each cycle. */
  log?: (line: string) => void;
}

/** What a soak did and found. */
export interface SoakResult {
  cycles: number;
  seed: number;
  epochs: number;
  /** SIGKILLs by the phase they aimed at. */
  kills: Record<Moment, number>;
  /** Resumes that took over the lock of a killed process, and that repaired the folder. */
  takeovers: number;
  repairs: number;
  /** How the final run folder differs from the uninterrupted one's (none: it passed). */
  differences: string[];
  seconds: number;
}

/** Every process trains on one thread plan: the step's sums, and so the weights, are the same. */
const DEVICE = ["--backend=wasm", "--threads=2"];

/** A resume's lines that tell of a repair (see `repairRunFolder`). */
const REPAIR_LINE =
  /^(removed \S+, left by|checkpoint\.previous is checkpoint again|metrics\.jsonl and curves\.svg rewritten)/m;

/** The flags of a new run of `epochs` epochs. */
function trainFlags(options: SoakOptions, epochs: number): string[] {
  return [
    "--model=lenet-relu",
    `--limit=${options.limit}`,
    `--test-limit=${options.testLimit}`,
    "--batch=32",
    `--epochs=${epochs}`,
    `--seed=${options.seed}`,
    ...DEVICE,
  ];
}

/** Enough epochs that no number of kills lets the run end early: a process saves at most two. */
function epochsFor(cycles: number): number {
  return 2 * cycles + 2;
}

/** The flags of every resume. */
function resumeFlags(runDir: string): string[] {
  return ["--resume", runDir, ...DEVICE];
}

/** Runs the soak; the work folder goes unless something differs (then it is named). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const work = await Deno.makeTempDir({ prefix: "kill-soak-" });
  const reference = join(work, "reference");
  const runDir = join(work, "run");
  const timing = await referenceRun(trainFlags(options, epochsFor(options.cycles)), reference);
  log(
    `uninterrupted: ${epochsFor(options.cycles)} epochs; start ${ms(timing.startMs)}, ` +
      `epoch ${ms(timing.epochMs)}, evaluation ${ms(timing.evalMs)}`,
  );
  await prime(trainFlags(options, epochsFor(options.cycles)), runDir);
  const result = await killCycles(options, runDir, timing, log);
  await finish(result, runDir);
  result.differences = await compareRuns(runDir, reference);
  result.seconds = (performance.now() - started) / 1000;
  if (result.differences.length === 0) await Deno.remove(work, { recursive: true });
  else result.differences.push(`kept for a look: ${work}`);
  return result;
}

/**
 * Starts the run and kills it once its first epoch is on disk, so that
 * every cycle resumes a run that has a checkpoint.
 */
async function prime(flags: string[], runDir: string): Promise<void> {
  await Deno.mkdir(runDir);
  const run = await WatchedRun.start([...flags, `--out=${runDir}`], runDir);
  // evaluation.json is the last file an epoch writes.
  const saved = join(runDir, RUN_FILES.evaluation);
  await run.until(() => existsSync(saved));
  run.kill();
  await run.status;
}

/** Trains the reference without a break; returns how long its phases took. */
async function referenceRun(flags: string[], dir: string): Promise<Timing> {
  await Deno.mkdir(dir);
  const run = await WatchedRun.start([...flags, `--out=${dir}`], dir);
  const status = await run.status;
  if (status.code !== 0) throw new Error(`the uninterrupted run failed: ${run.stderr}`);
  const text = await Deno.readTextFile(join(dir, RUN_FILES.metrics));
  const records = text.trim().split("\n").map((line) => JSON.parse(line));
  const mean = (key: string) =>
    1000 * records.reduce((sum, record) => sum + record[key], 0) / records.length;
  return { startMs: run.marks.plan!, epochMs: mean("seconds"), evalMs: mean("evalSeconds") };
}

/** The cycles: resume, kill at a drawn moment, check that SIGKILL ended it. */
async function killCycles(
  options: SoakOptions,
  runDir: string,
  timing: Timing,
  log: (line: string) => void,
): Promise<SoakResult> {
  const random = seededRandom(options.seed);
  const result = emptyResult(options);
  for (let cycle = 1; cycle <= options.cycles; cycle++) {
    const kill = drawKill(random, timing, cycle);
    const run = await WatchedRun.start(resumeFlags(runDir), runDir);
    await killAt(run, kill);
    const status = await run.status;
    if (status.signal !== "SIGKILL") {
      throw new Error(
        `cycle ${cycle}: train ended (code ${status.code}) before its kill: ${run.stderr}`,
      );
    }
    tally(result, run, kill);
    log(`cycle ${cycle}/${options.cycles}: ${describeKill(kill)}; ${await savedEpochs(runDir)}`);
  }
  return result;
}

function emptyResult(options: SoakOptions): SoakResult {
  return {
    cycles: options.cycles,
    seed: options.seed,
    epochs: epochsFor(options.cycles),
    kills: Object.fromEntries(MOMENTS.map((moment) => [moment, 0])) as Record<Moment, number>,
    takeovers: 0,
    repairs: 0,
    differences: [],
    seconds: 0,
  };
}

async function hasCheckpoint(runDir: string): Promise<boolean> {
  return await findCheckpoint(runDir).then(() => true, () => false);
}

/** Counts the kill, and what the process said of the previous one's leftovers. */
function tally(result: SoakResult, run: WatchedRun, kill?: Kill): void {
  if (kill) result.kills[kill.moment]++;
  if (run.stdout.includes("train.lock: taken over from process ")) result.takeovers++;
  if (REPAIR_LINE.test(run.stdout)) result.repairs++;
}

/** The last resume, to the end of the run. */
async function finish(result: SoakResult, runDir: string): Promise<void> {
  const run = await WatchedRun.start(resumeFlags(runDir), runDir);
  const status = await run.status;
  if (status.code !== 0) {
    throw new Error(`the final resume failed (code ${status.code}): ${run.stderr}`);
  }
  tally(result, run);
}

function describeKill(kill: Kill): string {
  const mark = {
    start: "after the process started",
    step: "after training began",
    evaluation: `after evaluation ${kill.epoch} of this process began`,
    save: `after save ${kill.epoch} of this process began`,
  }[kill.moment];
  return `SIGKILL ${ms(kill.delayMs)} ${mark} (${kill.moment})`;
}

async function savedEpochs(runDir: string): Promise<string> {
  if (!(await hasCheckpoint(runDir))) return "nothing saved yet";
  const state = await readTrainingState(await findCheckpoint(runDir));
  return `checkpoint at epoch ${state.epoch}`;
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

/** The summary line. */
export function formatResult(result: SoakResult): string {
  const kills = MOMENTS.map((moment) => `${moment} ${result.kills[moment]}`).join(", ");
  const verdict = result.differences.length === 0
    ? "weights.bin, optimizer.bin and every epoch's figures byte-identical to the uninterrupted run's"
    : `DIFFERENT: ${result.differences.join("; ")}`;
  return `soak: ${result.cycles} cycles, seed ${result.seed}, ${result.epochs} epochs: ` +
    `${result.cycles} SIGKILLs (${kills}), ${result.takeovers} lock takeovers, ` +
    `${result.repairs} repairs; ${verdict} ` +
    `(${result.seconds.toFixed(0)} s)`;
}

const FLAGS = {
  cycles: integerFlag({ help: "kills, each followed by a resume", default: 50 }),
  seed: integerFlag({
    help: "seed of the kill moments and of the training",
    min: 0,
    defaultText: "random",
  }),
  limit: integerFlag({ help: "training images", default: 512 }),
  "test-limit": integerFlag({ help: "test images", default: 300 }),
  help: HELP_FLAG,
};

/** The `soak` command. */
export const soakCommand = defineCommand({
  summary:
    `Kill train with SIGKILL at random moments, resume, and compare with an uninterrupted run.

Usage: deno task soak [flags]`,
  flags: FLAGS,
  notes: "Exit code 1 when the final run differs from the uninterrupted one.",
  run: async ({ values }) => {
    const seed = values.seed ?? Math.floor(Math.random() * 2 ** 31);
    console.log(`soak: ${values.cycles} cycles, seed ${seed}`);
    const result = await runSoak({
      cycles: values.cycles,
      seed,
      limit: values.limit,
      testLimit: values["test-limit"],
      log: (line) => console.log(line),
    });
    console.log(formatResult(result));
    return result.differences.length === 0 ? 0 : 1;
  },
});

if (import.meta.main) await runMain(() => soakCommand.run(Deno.args));
