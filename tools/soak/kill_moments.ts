/**
 * When the soak kills a `train` process: in one of four phases, timed
 * from a mark the process gives (see `WatchedRun`), after a delay drawn
 * from a seeded generator that spans the phase as the uninterrupted run
 * measured it.
 *
 * @module
 */
import type { Marks, WatchedRun } from "./watched_run.ts";

/** The phases a kill lands in. */
export const MOMENTS = ["start", "step", "evaluation", "save"] as const;

/** A phase a kill lands in. */
export type Moment = (typeof MOMENTS)[number];

/** How long the phases last, measured on the uninterrupted run. */
export interface Timing {
  /** From the process's start to the plan line (loading, locking, repairing). */
  startMs: number;
  /** An epoch's training steps. */
  epochMs: number;
  /** An epoch's evaluation. */
  evalMs: number;
}

/** A save's writes, renames and run files take a few milliseconds: kills land across them. */
const SAVE_WINDOW_MS = 40;

/** A kill, as it was drawn. */
export interface Kill {
  moment: Moment;
  /** Which epoch of this process it aims at: 1 or 2 (after one epoch is saved). */
  epoch: number;
  /** Milliseconds after the mark. */
  delayMs: number;
}

/**
 * Draws the kill of cycle `cycle` (from 1): the phases take turns (four
 * cycles see each once); the epoch of the process and the delay after the
 * mark are drawn.
 */
export function drawKill(random: () => number, timing: Timing, cycle: number): Kill {
  const moment = MOMENTS[(cycle - 1) % MOMENTS.length];
  const epoch = 1 + Math.floor(random() * 2);
  const window = {
    start: timing.startMs,
    step: epoch * timing.epochMs,
    evaluation: timing.evalMs,
    save: SAVE_WINDOW_MS,
  }[moment];
  return { moment, epoch, delayMs: random() * window };
}

/** The mark a kill is timed from. */
function markReached(kill: Kill): (marks: Marks) => boolean {
  switch (kill.moment) {
    case "start":
      return () => true;
    case "step":
      return (marks) => marks.plan !== undefined;
    case "evaluation":
      return (marks) => marks.evaluations >= kill.epoch;
    case "save":
      return (marks) => marks.saves >= kill.epoch;
  }
}

/** Waits for the kill's mark and delay, then sends SIGKILL (unless the process ended first). */
export async function killAt(run: WatchedRun, kill: Kill): Promise<void> {
  await run.until(markReached(kill));
  await new Promise((resolve) => setTimeout(resolve, kill.delayMs));
  run.kill();
}
