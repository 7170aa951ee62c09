import type { Evaluation } from "../training/evaluate.ts";

/** A human-readable evaluation report: accuracy, per-class accuracy and the confusion matrix. */
export function formatEvaluation(evaluation: Evaluation, classes: readonly string[]): string {
  const nameWidth = Math.max(...classes.map((name) => name.length));
  const lines = [
    `accuracy ${evaluation.accuracy.toFixed(4)} on ${evaluation.count} test images`,
    "",
    "per class:",
    ...classes.map((name, i) =>
      `  ${name.padEnd(nameWidth)}  ${evaluation.perClass[i].toFixed(3)}`
    ),
    "",
    "confusion matrix (rows: true class, columns: predicted):",
    `  ${"".padEnd(nameWidth)} ${classes.map((_, i) => String(i).padStart(5)).join("")}`,
    ...evaluation.confusion.map((row, i) =>
      `  ${classes[i].padEnd(nameWidth)} ${row.map((n) => String(n).padStart(5)).join("")}`
    ),
    `  (columns: ${classes.map((name, i) => `${i} ${name}`).join(", ")})`,
  ];
  return lines.join("\n");
}
