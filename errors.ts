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
