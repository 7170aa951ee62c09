/**
 * What differs between a run folder that was killed and resumed many
 * times and one trained without a break: the checkpoint's weights and
 * optimizer state byte for byte, each epoch's figures, and anything left
 * in the folder that a finished run does not hold.
 *
 * @module
 */
import { join } from "node:path";
import { CHECKPOINT_DIR } from "../../run_folder/checkpoint.ts";
import { RUN_FILES } from "../../run_folder/run_files.ts";

/** What a finished run folder holds. */
const FINISHED = [CHECKPOINT_DIR, RUN_FILES.chart, RUN_FILES.evaluation, RUN_FILES.metrics].sort();

/** The differences of `runDir` from `referenceDir`, a line each; none when they match. */
export async function compareRuns(runDir: string, referenceDir: string): Promise<string[]> {
  const differences: string[] = [];
  for (const file of ["weights.bin", "optimizer.bin"]) {
    const [ours, theirs] = await Promise.all(
      [runDir, referenceDir].map((dir) => Deno.readFile(join(dir, CHECKPOINT_DIR, file))),
    );
    const same = ours.length === theirs.length && ours.every((byte, i) => byte === theirs[i]);
    if (!same) differences.push(`${CHECKPOINT_DIR}/${file} differs from the uninterrupted run's`);
  }
  const [ours, theirs] = await Promise.all([runDir, referenceDir].map(figures));
  const first = ours.findIndex((epoch, i) => epoch !== theirs[i]);
  if (first >= 0 || ours.length !== theirs.length) {
    const at = first >= 0 ? first : Math.min(ours.length, theirs.length);
    differences.push(`epoch ${at + 1}'s figures differ: ${ours[at]} against ${theirs[at]}`);
  }
  const names = [...Deno.readDirSync(runDir)].map((entry) => entry.name).sort();
  if (names.join() !== FINISHED.join()) differences.push(`the folder holds ${names.join(", ")}`);
  return differences;
}

/** Each epoch's loss and accuracies from `metrics.jsonl` (not its timings), as a string each. */
async function figures(runDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(runDir, RUN_FILES.metrics));
  return text.trim().split("\n").map((line) => {
    const { loss, trainAccuracy, testAccuracy } = JSON.parse(line);
    return `loss ${loss}, train ${trainAccuracy}, test ${testAccuracy}`;
  });
}
