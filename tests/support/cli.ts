import { parseTaskLine, ROOT } from "../../tools/deno_task.ts";

export { ROOT };

const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;

/** A `deno.json` task split into its environment variables and its arguments after `deno`. */
function parseTask(task: string) {
  return parseTaskLine(tasks[task]);
}

/** The arguments of a `deno.json` task after `deno` (its permission flags and script). */
export function taskArgs(task: string): string[] {
  return parseTask(task).args;
}

/** What a finished command printed and returned. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a task of `deno.json` with exactly its environment variables and
 * permission flags plus `extra` arguments, from the repository root, with
 * the cache in `cacheHome`.
 */
export async function runTask(
  task: string,
  extra: string[],
  cacheHome?: string,
): Promise<Finished> {
  const output = await taskCommand(task, extra, cacheHome).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** The `Deno.Command` that {@link runTask} runs, for tests that talk to the process. */
export function taskCommand(task: string, extra: string[], cacheHome?: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [...taskArgs(task), ...extra],
    cwd: ROOT,
    env: { ...parseTask(task).env, ...(cacheHome ? { XDG_CACHE_HOME: cacheHome } : {}) },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
}

/** stderr without the Vulkan loader's `XDG_RUNTIME_DIR` noise. */
export function meaningfulLines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "" && !line.includes("XDG_RUNTIME_DIR"));
}
