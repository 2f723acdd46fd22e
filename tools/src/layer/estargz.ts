import type { TarEntryMeta, TarEvents } from './tar-entry-stream.ts';

/** eStargz: not written yet. */
export class EstargzEncoder implements TarEvents {
  constructor(private readonly out: (b: Buffer) => void) {}
  raw(_b: Uint8Array): void {}
  entry(_e: TarEntryMeta): void {}
  data(_b: Uint8Array): void {}
  entryEnd(): void {}
  finish(): Record<string, string> {
    throw new Error('estargz: not implemented');
  }
}
