/**
 * The tasks of `deno.json` run as `deno task` runs them, for tools and
 * tests that start the commands as a user would.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A task's environment variables (`NAME=value` words before `deno`) and its arguments after `deno`. */
export interface TaskLine {
  env: Record<string, string>;
  args: string[];
}

/** Splits a task's command line on spaces into its environment and its arguments after `deno`. */
export function parseTaskLine(line: string): TaskLine {
  const words = line.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split("=");
    env[name] = value.join("=");
  }
  const [program, ...args] = words;
  if (program !== "deno") throw new Error(`task ${line} does not start with deno`);
  return { env, args };
}

/** The task `name` of the repository's `deno.json`. */
export async function readTask(name: string): Promise<TaskLine> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  return parseTaskLine(tasks[name]);
}
