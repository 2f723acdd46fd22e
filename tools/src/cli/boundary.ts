import { CommanderError, type Command } from 'commander';
import { MegapakError, type ErrorKind } from '../util/errors.ts';
import { removeLiveTemps } from '../util/temp-files.ts';

/** The one place error kinds become exit codes (README, "Exit codes"). */
export const EXIT_CODES: Record<ErrorKind | 'ok', number> = { ok: 0, failed: 1, usage: 2, 'missing-tool': 2 };
export const EXIT_INTERRUPTED = { SIGINT: 130, SIGTERM: 143 } as const;

/** On Ctrl-C or SIGTERM: remove half-written temp files, then exit 130 / 143. */
export function installSignalHandlers(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      removeLiveTemps();
      process.exit(EXIT_INTERRUPTED[signal]);
    });
}

/**
 * Run a commander program as a command-line tool: a MegapakError is one line on stderr
 * (`<name>: message`) and its kind's exit code; a usage error from commander exits 2.
 */
export async function runProgram(program: Command, name: string, argv = process.argv): Promise<void> {
  installSignalHandlers();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage);
    if (err instanceof MegapakError) {
      console.error(`${name}: ${err.message}`);
      process.exit(EXIT_CODES[err.kind]);
    }
    throw err;
  }
}
