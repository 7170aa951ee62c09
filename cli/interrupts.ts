/** How long after a first interrupt a second one counts as another press (not a copy of the first). */
const SECOND_SIGNAL_MS = 500;

/**
 * Ctrl-C (SIGINT) and SIGTERM while training: the first aborts `signal`
 * (the step finishes and a checkpoint is saved), a second press quits at
 * once. `exitCode` is the signal's: 130 for SIGINT, 143 for SIGTERM.
 */
export class Interrupts {
  #controller = new AbortController();
  #at = 0;
  #code = 130;
  // SIGTERM is what `docker stop`, systemd and schedulers send; Windows has no such signal.
  #listeners: [Deno.Signal, () => void][] = [
    ["SIGINT", () => this.#interrupt("SIGINT", 130)],
    ...(Deno.build.os === "windows"
      ? []
      : [["SIGTERM", () => this.#interrupt("SIGTERM", 143)] as [Deno.Signal, () => void]]),
  ];

  /** Aborted by the first interrupt. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The exit code of the signal that stopped the run. */
  get exitCode(): number {
    return this.#code;
  }

  /** Starts listening (once the run folder exists: a stop before has nothing to save). */
  listen(): void {
    for (const [signal, listener] of this.#listeners) Deno.addSignalListener(signal, listener);
  }

  /** Stops listening. */
  stop(): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
  }

  #interrupt(signal: Deno.Signal, code: number): void {
    // Ctrl-C in a terminal reaches this process twice within moments: from the terminal
    // and forwarded by `deno task`. Only a second press, later, quits without saving.
    if (this.#controller.signal.aborted) {
      if (performance.now() - this.#at > SECOND_SIGNAL_MS) Deno.exit(code);
      return;
    }
    this.#at = performance.now();
    this.#code = code;
    console.error(
      `\n${signal}: finishing this step and saving a checkpoint (again to quit at once)`,
    );
    this.#controller.abort();
  }
}
