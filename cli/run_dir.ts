import { InputError } from "../errors.ts";
import { LOCK_FILE } from "../run_folder/run_lock.ts";

/** `YYYYMMDD-HHMMSS` in local time, for names of things made at `date`. */
export function timestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${
    pad(date.getHours())
  }${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** The default run folder: `runs/MODEL-YYYYMMDD-HHMMSS`. */
export function defaultRunDir(model: string, date = new Date()): string {
  return `runs/${model}-${timestamp(date)}`;
}

/**
 * Creates a new run folder. An existing non-empty folder is refused (so
 * nothing is overwritten), as is one that cannot be created. A lock file
 * alone does not count: its holder, running or gone, is for the lock to judge.
 */
export async function createRunDir(dir: string): Promise<void> {
  if (await hasEntries(dir)) {
    throw new InputError(
      `--out ${dir}: folder exists and is not empty (continue it with --resume ${dir})`,
    );
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.write-test`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message.split(":")[0] : String(error);
    throw new InputError(`--out ${dir}: cannot write there (${reason})`);
  }
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.name !== LOCK_FILE) return true;
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}
