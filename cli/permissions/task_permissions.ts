/**
 * The permission flags of deno.json's tasks, from the file itself: it is
 * imported as a module, so a bundle or a compiled binary carries it too.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** Each task's command line, as deno.json writes it. */
const TASKS: Record<string, string> = config.tasks;

/** The words of a task's command line (its environment variables, `deno`, flags and script). */
function taskWords(task: string): string[] {
  const command = TASKS[task];
  if (command === undefined) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/);
}

/** The `--allow-…` flags of a task, in deno.json's order. */
export function taskPermissions(task: string): string[] {
  return taskWords(task).filter((word) => word.startsWith("--allow-"));
}

/** The script a task runs (its last word: `train.ts`). */
export function taskScript(task: string): string {
  return taskWords(task).at(-1)!;
}
