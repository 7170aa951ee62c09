/**
 * `JSON.stringify` that refuses numbers JSON cannot hold: NaN and ±Infinity
 * would be written as `null` and read back as something else. A run never
 * saves one (training stops when it diverges), so meeting one is a bug.
 */
export function finiteJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (key, entry) => {
    if (typeof entry === "number" && !Number.isFinite(entry)) {
      throw new Error(`cannot write ${entry} as JSON (at "${key}")`);
    }
    return entry;
  }, indent);
}
