import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;

/** The arguments of a `deno.json` task after `deno` (its permission flags and script), split on spaces. */
export function taskArgs(task: string): string[] {
  const [program, ...args] = tasks[task].split(/\s+/);
  if (program !== "deno") throw new Error(`task ${task} does not start with deno`);
  return args;
}

/** What a finished command printed and returned. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a task of `deno.json` with exactly its permission flags plus `extra`
 * arguments, from the repository root, with the cache in `cacheHome`.
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
    env: cacheHome ? { XDG_CACHE_HOME: cacheHome } : {},
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
}

/** stderr without the Vulkan loader's `XDG_RUNTIME_DIR` noise. */
export function meaningfulLines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "" && !line.includes("XDG_RUNTIME_DIR"));
}
