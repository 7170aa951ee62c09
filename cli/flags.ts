/**
 * Command-line flags declared once each: how a flag's value reads, its
 * default, its help line and whether `--resume` keeps it from the run.
 * A command's table of them drives both its parsing and its help text.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { InputError, SettingError } from "../errors.ts";

/** One command-line flag. */
export interface Flag<T> {
  /** The value's placeholder in the help text (`N`, `DIR`); absent for a switch. */
  placeholder?: string;
  /** One line of help (a second line may follow after `\n`). */
  help: string;
  /** Reads the flag's text (`name` is the flag's, for messages); absent for a switch. */
  read?: (text: string, name: string) => T;
  /** The value when the flag is not given. */
  default: T;
  /** The default as the help shows it (`String(default)` when absent; "" shows none). */
  defaultText?: string;
  /** The library setting it sets, for messages about that setting (default: the flag's name in camelCase). */
  setting?: string;
  /** Fixed by the run on `--resume`: giving it then is an error. */
  fixedOnResume?: boolean;
}

/** A command's flags by name (without the dashes). */
// deno-lint-ignore no-explicit-any
export type FlagTable = Record<string, Flag<any>>;

/** The values of a table's flags, each of its own type. */
export type FlagValues<F extends FlagTable> = { [K in keyof F]: F[K]["default"] };

interface ValueFlagSpec<T> {
  help: string;
  placeholder?: string;
  default?: T;
  defaultText?: string;
  setting?: string;
  fixedOnResume?: boolean;
}

/** An integer flag of at least `min` (default 1). */
export function integerFlag(
  spec: ValueFlagSpec<number> & { min?: number; default: number },
): Flag<number>;
export function integerFlag(
  spec: ValueFlagSpec<number> & { min?: number },
): Flag<number | undefined>;
export function integerFlag(
  spec: ValueFlagSpec<number> & { min?: number },
): Flag<number | undefined> {
  const min = spec.min ?? 1;
  return {
    placeholder: "N",
    ...spec,
    default: spec.default,
    read: (text, name) => {
      const parsed = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
        throw new InputError(`--${name} ${text}: must be an integer ≥ ${min}`);
      }
      return parsed;
    },
  };
}

/** A flag holding a finite number greater than 0. */
export function positiveFlag(spec: ValueFlagSpec<number> & { default: number }): Flag<number>;
export function positiveFlag(spec: ValueFlagSpec<number>): Flag<number | undefined>;
export function positiveFlag(spec: ValueFlagSpec<number>): Flag<number | undefined> {
  return {
    placeholder: "X",
    ...spec,
    default: spec.default,
    read: (text, name) => {
      const parsed = Number(text);
      if (text.trim() === "" || !Number.isFinite(parsed) || parsed <= 0) {
        throw new InputError(`--${name} ${text}: must be a number > 0`);
      }
      return parsed;
    },
  };
}

/** A flag holding one of `choices`. */
export function choiceFlag<T extends string>(
  spec: ValueFlagSpec<T> & { choices: readonly T[]; default: T },
): Flag<T>;
export function choiceFlag<T extends string>(
  spec: ValueFlagSpec<T> & { choices: readonly T[] },
): Flag<T | undefined>;
export function choiceFlag<T extends string>(
  spec: ValueFlagSpec<T> & { choices: readonly T[] },
): Flag<T | undefined> {
  const { choices, ...rest } = spec;
  return {
    placeholder: "NAME",
    ...rest,
    default: spec.default,
    read: (text, name) => {
      if (!choices.includes(text as T)) {
        throw new InputError(`--${name} ${text}: must be one of ${choices.join(", ")}`);
      }
      return text as T;
    },
  };
}

/** A flag holding text: a path, a name. */
export function textFlag(spec: ValueFlagSpec<string> & { default: string }): Flag<string>;
export function textFlag(spec: ValueFlagSpec<string>): Flag<string | undefined>;
export function textFlag(spec: ValueFlagSpec<string>): Flag<string | undefined> {
  return {
    placeholder: "VALUE",
    ...spec,
    default: spec.default,
    read: (text, name) => {
      if (text === "") throw new InputError(`--${name}: value missing (see --help)`);
      return text;
    },
  };
}

/** A flag without a value: true when given. */
export function switchFlag(spec: { help: string }): Flag<boolean> {
  return { help: spec.help, default: false, defaultText: "" };
}

/** The flag every command has. */
export const HELP_FLAG = switchFlag({ help: "this text" });

/** What a command line holds once parsed. */
export interface ParsedCommandLine<F extends FlagTable> {
  values: FlagValues<F>;
  /** The flags given on the command line. */
  given: Set<keyof F & string>;
  positionals: string[];
  /** The arguments as given (for a message that repeats the command line). */
  args: string[];
}

/** Turns `node:util`'s parse errors into one-line `InputError`s. */
function parseError(error: unknown): InputError {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return new InputError(`unknown flag ${unknown[1]} (see --help)`);
  const positional = message.match(/Unexpected argument '([^']+)'/);
  if (positional) return new InputError(`unexpected argument ${positional[1]} (see --help)`);
  const ambiguous = message.match(/Option '(--[\w-]+)' argument is ambiguous/);
  if (ambiguous) {
    return new InputError(
      `${ambiguous[1]}: value missing, or a negative number: write ${ambiguous[1]}=VALUE`,
    );
  }
  const missing = message.match(/Option '(--[\w-]+)[^']*' argument missing/);
  if (missing) return new InputError(`${missing[1]}: value missing (see --help)`);
  return new InputError(message.split(/\.\s/)[0]);
}

/**
 * Parses `args` strictly against `flags`: an unknown flag, a missing or
 * malformed value becomes an `InputError` of one line naming the flag.
 */
export function parseCommandLine<F extends FlagTable>(
  args: string[],
  flags: F,
  options: { positionals?: boolean } = {},
): ParsedCommandLine<F> {
  const spec = Object.fromEntries(
    Object.entries(flags).map((
      [name, flag],
    ) => [name, { type: flag.read ? "string" as const : "boolean" as const }]),
  );
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: spec,
      allowPositionals: options.positionals ?? false,
      strict: true,
    });
  } catch (error) {
    throw parseError(error);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<keyof F & string>();
  for (const [name, flag] of Object.entries(flags)) {
    const text = (parsed.values as Record<string, string | boolean | undefined>)[name];
    if (text === undefined) {
      values[name] = flag.default;
      continue;
    }
    given.add(name);
    values[name] = flag.read ? flag.read(text as string, name) : text;
  }
  return { values: values as FlagValues<F>, given, positionals: parsed.positionals, args };
}

/** The help lines of a flag table: `--name VALUE  help (default: X)`, aligned. */
export function flagHelp(flags: FlagTable): string {
  const heads = Object.entries(flags).map(([name, flag]) =>
    `--${name}${flag.placeholder ? ` ${flag.placeholder}` : ""}`
  );
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  return Object.values(flags).map((flag, i) => {
    const shown = flag.defaultText ?? (flag.default === undefined ? "" : String(flag.default));
    const [first, ...more] = flag.help.split("\n");
    const lines = [`  ${heads[i].padEnd(width)}${first}${shown ? ` (default: ${shown})` : ""}`];
    for (const line of more) lines.push(`  ${"".padEnd(width)}${line}`);
    return lines.join("\n");
  }).join("\n");
}

/** A command-line command: its help text and what it does with its arguments. */
export interface Command {
  help: string;
  /** Runs with the arguments after the command's name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/**
 * A command from its flag table: `--help` prints the generated help, and a
 * `SettingError` from the library is reported under the flag that sets that
 * setting (`--resize 50: …`).
 */
export function defineCommand<F extends FlagTable & { help: Flag<boolean> }>(spec: {
  /** The first lines of the help: what it does, then `Usage: …`. */
  summary: string;
  flags: F;
  /** Whether the command takes positional arguments (a run folder). */
  positionals?: boolean;
  /** Lines after the flags in the help. */
  notes?: string;
  run: (parsed: ParsedCommandLine<F>) => Promise<number>;
}): Command {
  const help = [spec.summary, "", flagHelp(spec.flags), ...(spec.notes ? ["", spec.notes] : [])]
    .join("\n");
  return {
    help,
    run: async (args) => {
      const parsed = parseCommandLine(args, spec.flags, { positionals: spec.positionals });
      if (parsed.values.help) {
        console.log(help);
        return 0;
      }
      try {
        return await spec.run(parsed);
      } catch (error) {
        if (!(error instanceof SettingError)) throw error;
        const flag = Object.entries(spec.flags).find(([name, flag]) =>
          (flag.setting ?? camelCase(name)) === error.setting
        );
        if (!flag) throw error;
        throw new InputError(`--${flag[0]} ${error.value}: ${error.reason}`);
      }
    },
  };
}

function camelCase(name: string): string {
  return name.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
}
