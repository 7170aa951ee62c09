import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;

/**
 * A `deno.json` task split on spaces: the environment variables it sets
 * before `deno` (`NAME=value` words) and the arguments after it (its
 * permission flags and script).
 */
function parseTask(task: string): { env: Record<string, string>; args: string[] } {
  const words = tasks[task].split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split("=");
    env[name] = value.join("=");
  }
  const [program, ...args] = words;
  if (program !== "deno") throw new Error(`task ${task} does not start with deno`);
  return { env, args };
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
