import { join } from "node:path";
import type { TrainingState } from "../training/state.ts";
import { CHECKPOINT_DIR, FRESH_PREFIX, PREVIOUS_DIR } from "./checkpoint.ts";
import { runFilesMatch, writeRunFiles } from "./run_files.ts";

/**
 * Brings a run folder back to one state after an interruption at any
 * instant, given the checkpoint it was resumed from (`checkpointDir`, its
 * `state`): the leftovers of a save or a file write cut short go; a
 * checkpoint found only under its previous name takes its place again;
 * `metrics.jsonl` and `curves.svg` are rewritten from the checkpoint's
 * history when they lag behind it. Returns what it did, a line each.
 */
export async function repairRunFolder(
  runDir: string,
  checkpointDir: string,
  state: TrainingState,
): Promise<string[]> {
  const done: string[] = [];
  for await (const entry of Deno.readDir(runDir)) {
    const leftover = entry.name.startsWith(FRESH_PREFIX) ||
      /^\..+\.tmp-[0-9a-f]{8}$/.test(entry.name) ||
      entry.name.startsWith(".room-probe-");
    if (leftover) {
      await Deno.remove(join(runDir, entry.name), { recursive: true });
      done.push(`removed ${entry.name}, left by an interrupted write`);
    }
  }
  const current = join(runDir, CHECKPOINT_DIR);
  const previous = join(runDir, PREVIOUS_DIR);
  if (checkpointDir === previous) {
    await Deno.remove(current, { recursive: true }).catch(() => {});
    await Deno.rename(previous, current);
    done.push(`${PREVIOUS_DIR} is ${CHECKPOINT_DIR} again (a save was cut short)`);
  } else if (await Deno.stat(previous).then(() => true, () => false)) {
    await Deno.remove(previous, { recursive: true });
    done.push(`removed ${PREVIOUS_DIR}, left by a save cut short`);
  }
  if (!(await runFilesMatch(runDir, state))) {
    await writeRunFiles(runDir, state);
    done.push("metrics.jsonl and curves.svg rewritten from the checkpoint's history");
  }
  return done;
}
