/**
 * An error caused by the user's input (a flag, a file, a folder): its message
 * is one line that names the culprit, and entry scripts print it without a
 * stack trace and exit with code 2.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/**
 * A setting given to the library that it cannot use, named as the library
 * names it (`resize`, `dataDir`); the command line reports it under its
 * flag (`--resize`, `--data-dir`).
 */
export class SettingError extends InputError {
  constructor(
    /** The setting's name, as in the library's options. */
    readonly setting: string,
    /** The value given. */
    readonly value: unknown,
    /** Why it cannot be used. */
    readonly reason: string,
  ) {
    super(`${setting} ${value}: ${reason}`);
    this.name = "SettingError";
  }
}

/**
 * Training stopped because its loss or weights stopped being finite
 * numbers; the last checkpoint saved before stays as it was. Entry scripts
 * print the message, one line, and exit with code 3.
 */
export class DivergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DivergenceError";
  }
}
