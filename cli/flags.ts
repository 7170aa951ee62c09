import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses command-line flags strictly with `node:util`'s `parseArgs`; an
 * unknown flag or a missing value becomes an `InputError` of one line.
 */
export function parseFlags<T extends Options>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = message.match(/Unknown option '([^']+)'/);
    if (unknown) throw new InputError(`unknown flag ${unknown[1]} (see --help)`);
    const positional = message.match(/Unexpected argument '([^']+)'/);
    if (positional) throw new InputError(`unexpected argument ${positional[1]} (see --help)`);
    const ambiguous = message.match(/Option '(--[\w-]+)' argument is ambiguous/);
    if (ambiguous) {
      throw new InputError(
        `${ambiguous[1]}: value missing, or a negative number: write ${ambiguous[1]}=VALUE`,
      );
    }
    const missing = message.match(/Option '(--[\w-]+)[^']*' argument missing/);
    if (missing) throw new InputError(`${missing[1]}: value missing (see --help)`);
    throw new InputError(message.split(/\.\s/)[0]);
  }
}

/** A flag's value as an integer ≥ `min`, or an `InputError` naming the flag. */
export function integerFlag(name: string, value: string, min = 1): number {
  const parsed = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
    throw new InputError(`--${name} ${value}: must be an integer ≥ ${min}`);
  }
  return parsed;
}

/** A flag's value as a finite number > 0, or an `InputError` naming the flag. */
export function positiveFlag(name: string, value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InputError(`--${name} ${value}: must be a number > 0`);
  }
  return parsed;
}

/** A flag's value checked against a list of choices, or an `InputError` listing them. */
export function choiceFlag<T extends string>(
  name: string,
  value: string,
  choices: readonly T[],
): T {
  if (!choices.includes(value as T)) {
    throw new InputError(`--${name} ${value}: must be one of ${choices.join(", ")}`);
  }
  return value as T;
}
