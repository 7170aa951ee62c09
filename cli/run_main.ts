import { DivergenceError, InputError } from "../errors.ts";
import { isGradientWorker } from "../training/workers/worker_role.ts";

/**
 * Runs an entry script's main function: exits with its code (0 when it
 * returns nothing); an `InputError` or a missing permission prints one
 * line on stderr and exits with 2, a diverged run with 3; anything else
 * is a bug and keeps its stack trace. In a gradient worker started from a bundle it does nothing:
 * there the bundle's code only serves the worker.
 */
export async function runMain(main: () => Promise<number | void>): Promise<void> {
  if (isGradientWorker()) return;
  try {
    Deno.exit((await main()) ?? 0);
  } catch (error) {
    if (error instanceof InputError || error instanceof Deno.errors.NotCapable) {
      console.error(`error: ${error.message}`);
      Deno.exit(2);
    }
    if (error instanceof DivergenceError) {
      console.error(`error: ${error.message}`);
      Deno.exit(3);
    }
    throw error;
  }
}
