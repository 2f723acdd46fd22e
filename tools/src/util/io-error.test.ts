import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { annotateIoError, ioErrorLine } from './io-error.ts';

const errno = (code: string, syscall: string, path?: string) => Object.assign(new Error(`${code}: …, ${syscall}`), { code, syscall, ...(path ? { path } : {}) });

describe('ioErrorLine', () => {
  it('a stream write error (no path from Node) gets the file, the layer, what it needed and what is free', () => {
    const dir = mkdtempSync(join(tmpdir(), 'megapak-io-'));
    const err = errno('ENOSPC', 'write');
    annotateIoError(err, join(dir, 'blobs', 'sha256'), { need: 50 << 20, written: 3 << 20 });
    annotateIoError(err, '/elsewhere', { what: 'layer-02', need: 1 }); // the first annotation wins
    expect(ioErrorLine(err)).toMatch(
      new RegExp(`^layer-02: no space left on device: write ${dir}/blobs/sha256 \\(needs about 52\\.4 MB, 3\\.1 MB written, then removed, [\\d.]+ [KMGT]?B free there\\)$`),
    );
  });

  it('copyfile names the destination; read-only, permission and open-file errors have their words; other errors are not I/O errors', () => {
    expect(ioErrorLine(Object.assign(errno('EROFS', 'copyfile', '/src'), { dest: '/ro/dest' }))).toBe('read-only file system: copyfile /ro/dest');
    expect(ioErrorLine(errno('EACCES', 'open', '/x/y'))).toBe('permission denied: open /x/y');
    expect(ioErrorLine(errno('EMFILE', 'spawn nix-build', 'nix-build'))).toBe('too many open files (EMFILE; raise the limit: ulimit -n): spawn nix-build');
    expect(ioErrorLine(Object.assign(new Error('Worker initialization failure: EMFILE'), { code: 'ERR_WORKER_INIT_FAILED' }))).toBe(
      'too many open files (EMFILE; raise the limit: ulimit -n): starting a worker thread',
    );
    expect(ioErrorLine(errno('ENOENT', 'open', '/x'))).toBeUndefined();
    expect(ioErrorLine(new Error('boom'))).toBeUndefined();
  });
});
