/**
 * Serves the page of a run folder, finished or being trained by another
 * process: curves, confusion matrix and the model to try in the browser.
 *
 *     deno task view RUN_DIR [--port N]
 *
 * @module
 */
import { defineCommand, HELP_FLAG } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { untilStopped } from "./cli/until_stopped.ts";
import { DATA_DIR_FLAG, PORT_FLAG } from "./cli/shared_flags.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { findCheckpoint, readTrainingState } from "./run_folder/checkpoint.ts";
import { readEvaluation } from "./run_folder/run_files.ts";
import type { TrainingState } from "./training/state.ts";
import { ViewFeed, type ViewSnapshot } from "./view/feed.ts";
import { serveView } from "./view/server.ts";
import { checkPort } from "./view/training_view.ts";

const FLAGS = { port: PORT_FLAG, "data-dir": DATA_DIR_FLAG, help: HELP_FLAG };

/** Quiet time after a change in the run folder before it is read (a save writes several files). */
const SETTLE_MS = 500;

function status(state: TrainingState): string {
  return state.epoch >= state.config.epochs
    ? "finished"
    : `saved in epoch ${state.epoch + 1} (updates as another process trains it)`;
}

/** The `view` command. */
export const viewCommand = defineCommand({
  summary: `Serve the live page of a run folder on 127.0.0.1.

Usage: deno task view RUN_DIR [flags]`,
  flags: FLAGS,
  positionals: true,
  notes: "Ctrl-C stops the server; the run folder is only read.",
  run: async ({ values, positionals }) => {
    if (positionals.length !== 1) {
      throw new InputError("give exactly one run folder: deno task view RUN_DIR (see --help)");
    }
    checkPort(values.port);
    const runDir = positionals[0];
    const read = async () => await readTrainingState(await findCheckpoint(runDir));
    const state = await read();
    const dataset = await openDataset({
      dataset: state.config.dataset,
      dataDir: values["data-dir"],
      // The page only shows the test images of a run that trained on them: they are here.
      download: false,
      log: (line) => console.error(line),
    });
    const snapshot = async (state: TrainingState, checkpoint: number): Promise<ViewSnapshot> => ({
      run: runDir,
      config: state.config,
      classes: dataset.info.classes,
      lines: [],
      history: state.history,
      evaluation: await readEvaluation(runDir),
      checkpoint,
      status: status(state),
    });
    let step = state.step;
    let checkpoint = 1;
    const feed = new ViewFeed(await snapshot(state, checkpoint));
    const server = await serveView({ feed, runDir, test: dataset.test, port: values.port });
    console.log(`view: ${server.url} (Ctrl-C to stop)`);
    // The training process saves atomically; a change is read once the folder is quiet.
    const watcher = Deno.watchFs(runDir, { recursive: false });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reread = async () => {
      try {
        const latest = await read();
        if (latest.step !== step) checkpoint++;
        step = latest.step;
        feed.publish({ type: "snapshot", snapshot: await snapshot(latest, checkpoint) });
      } catch {
        // Caught between two files of a save: the next change reads it again.
      }
    };
    const watching = (async () => {
      for await (const _ of watcher) {
        clearTimeout(timer);
        timer = setTimeout(reread, SETTLE_MS);
      }
    })();
    await untilStopped();
    clearTimeout(timer);
    watcher.close();
    await watching;
    await server.close();
    return 0;
  },
});

if (import.meta.main) await runMain(() => viewCommand.run(Deno.args));
