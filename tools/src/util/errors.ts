/** An error meant for the user: printed as one line, no stack, with its exit code. */
export class MegapakError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'MegapakError';
  }
}

/** Bad input from the command line or the stack folder: exit code 2. */
export class UsageError extends MegapakError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}
