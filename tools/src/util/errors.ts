/**
 * What went wrong, as the user should read it; the CLI maps each kind to an exit code
 * (cli/boundary.ts), nothing below it picks one.
 *  - failed: a build, push or check failed (the message names the layer, path or registry);
 *  - usage: bad command-line input, or a folder or file that is not what it should be;
 *  - missing-tool: a program megapak runs (nix, zstd, docker) is not installed.
 */
export type ErrorKind = 'failed' | 'usage' | 'missing-tool';

/** An error meant for the user: printed as one line, no stack. */
export class MegapakError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind = 'failed',
  ) {
    super(message);
    this.name = 'MegapakError';
  }
}

/** Bad input from the command line, the stack folder or a file megapak reads. */
export class UsageError extends MegapakError {
  constructor(message: string) {
    super(message, 'usage');
    this.name = 'UsageError';
  }
}

/** A program megapak runs is not on PATH. */
export class MissingToolError extends MegapakError {
  constructor(tool: string, debianPackage = tool) {
    super(`'${tool}' was not found on PATH; install it (Debian: apt-get install -y ${debianPackage})`, 'missing-tool');
    this.name = 'MissingToolError';
  }
}
