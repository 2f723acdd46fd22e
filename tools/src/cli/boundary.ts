import { CommanderError, type Command } from 'commander';
import { MegapakError, type ErrorKind } from '../util/errors.ts';
import { ioErrorLine } from '../util/io-error.ts';
import { removeLiveTemps } from '../util/temp-files.ts';

/** The one place error kinds become exit codes (docs/commands.md, "Exit codes"). */
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
 * Any other failure — an I/O error (a full disk, a read-only mount: one line naming the path
 * and, for a full disk, the bytes needed and free), or a bug — is one line too, exit 1, after
 * the temp files of the work in progress are removed. MEGAPAK_DEBUG=1 adds the stack.
 */
function fail(name: string, err: unknown): never {
  const io = ioErrorLine(err);
  const message = io ?? `unexpected error: ${(err as Error)?.message ?? String(err)}`.split('\n')[0]!;
  removeLiveTemps();
  console.error(`${name}: ${message}`);
  if (process.env.MEGAPAK_DEBUG) console.error(err);
  process.exit(EXIT_CODES.failed);
}

/**
 * Run a commander program as a command-line tool: a MegapakError is one line on stderr
 * (`<name>: message`) and its kind's exit code; a usage error from commander exits 2; anything
 * else, from any thread or callback too, is one line and exit 1 (`fail`).
 */
export async function runProgram(program: Command, name: string, argv = process.argv): Promise<void> {
  installSignalHandlers();
  process.on('uncaughtException', (err) => fail(name, err));
  process.on('unhandledRejection', (err) => fail(name, err));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage);
    if (err instanceof MegapakError) {
      removeLiveTemps();
      console.error(`${name}: ${err.message}`);
      process.exit(EXIT_CODES[err.kind]);
    }
    fail(name, err);
  }
}
