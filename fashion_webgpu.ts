/**
 * The standalone binary's entry: `fashion-webgpu train|eval|view|bench [flags]`.
 *
 * @module
 */
import { benchCommand } from "./bench.ts";
import type { Command } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { InputError } from "./errors.ts";
import { evalCommand } from "./eval.ts";
import { trainCommand } from "./train.ts";
import { viewCommand } from "./view.ts";

const COMMANDS: Record<string, Command> = {
  train: trainCommand,
  eval: evalCommand,
  view: viewCommand,
  bench: benchCommand,
};

const HELP = `fashion-webgpu: train convolutional networks on Fashion-MNIST through WebGPU.

Usage: fashion-webgpu COMMAND [flags]     (fashion-webgpu COMMAND --help)

  train    train a network (default: the book's AlexNet recipe)
  eval     evaluate a run's checkpoint on the test set
  view     serve the live page of a run folder
  bench    time the data pipeline and training steps`;

/** Dispatches `args[0]` to its command with the remaining arguments; returns the exit code. */
export function runCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "help") {
    console.log(HELP);
    return Promise.resolve(name === undefined ? 2 : 0);
  }
  const command = COMMANDS[name];
  if (!command) {
    throw new InputError(`unknown command ${name}: use train, eval, view or bench (see --help)`);
  }
  return command.run(rest);
}

if (import.meta.main) await runMain(() => runCommand(Deno.args));
