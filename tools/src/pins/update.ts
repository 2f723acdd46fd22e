#!/usr/bin/env node
// `pnpm pins update [NAME…] [--file nix/pins.json] [--all]`: resolves each pin's ref to a
// commit and fills its NAR hash with Nix's own prefetchers, on a machine with network; a url or
// wheel pin gets its file's hash from nix-prefetch-url and the evidence (URL and date).
// `pnpm pins update NAME --from-git DIR [--submodule PATH=DIR]…` does it from a local git
// mirror instead (from-git.ts), without network.
// A zx script: it is a sequence of shell tools (git, nix-prefetch-url, nix-prefetch-git, nix).
import { $ } from 'zx';
import { Command } from 'commander';
import { join } from 'node:path';
import { runProgram } from '../cli/boundary.ts';
import { REPO_ROOT } from '../util/repo-root.ts';
import { MegapakError, UsageError } from '../util/errors.ts';
import { archiveUrlOf, fileNameOf, gitUrlOf, isFilePin, isOpen, readPins, revFromLsRemote, writePins, type FilePin, type SourcePin } from './pins-file.ts';
import { pinFromGit } from './from-git.ts';

$.verbose = false;
$.quiet = true;

async function toSri(nix32OrSri: string): Promise<string> {
  if (nix32OrSri.startsWith('sha256-')) return nix32OrSri;
  return (await $`nix --extra-experimental-features nix-command hash to-sri --type sha256 ${nix32OrSri}`).stdout.trim();
}

async function resolveRev(name: string, p: SourcePin): Promise<string> {
  const url = gitUrlOf(name, p);
  const out = await $`git ls-remote ${url}`.nothrow();
  if (out.exitCode !== 0) throw new MegapakError(`pin '${name}': git ls-remote ${url} failed: ${out.stderr.trim()}`);
  const rev = revFromLsRemote(out.stdout, p.ref);
  if (!rev) throw new MegapakError(`pin '${name}': ${url} has no ref '${p.ref}'`);
  return rev;
}

/**
 * A url or wheel pin: the file's flat SRI hash from Nix's own fetcher (what `fetchurl { url;
 * hash; }` checks), and the evidence to record. A pin that already has a hash must get the same
 * one: a file that changed behind its URL is an error, never a silent re-pin.
 */
async function prefetchFile(name: string, p: FilePin): Promise<{ hash: string; evidence: string }> {
  const r = await $`nix-prefetch-url --type sha256 --name ${fileNameOf(p.url)} ${p.url}`.nothrow();
  if (r.exitCode !== 0) throw new MegapakError(`pin '${name}': nix-prefetch-url ${p.url} failed: ${r.stderr.trim().split('\n').pop()}`);
  const hash = await toSri(r.stdout.trim().split('\n').pop()!);
  if (p.hash && p.hash !== hash)
    throw new MegapakError(`pin '${name}': ${p.url} now has ${hash}, but the pin records ${p.hash}: the file changed; set its hash to null to accept the new one`);
  // A hash that was already there and matches keeps the evidence it was pinned on.
  if (p.hash && p.evidence) return { hash, evidence: p.evidence };
  return { hash, evidence: `nix-prefetch-url of ${p.url} on ${new Date().toISOString().slice(0, 10)}` };
}

async function prefetchSource(name: string, p: SourcePin, rev: string): Promise<string> {
  if (p.type === 'git') {
    const which = await $`command -v nix-prefetch-git`.nothrow();
    if (which.exitCode !== 0)
      throw new MegapakError(`pin '${name}' is a git source${p.submodules ? ' with submodules' : ''}: it needs nix-prefetch-git on PATH (nix-shell -p nix-prefetch-git)`);
    const args = ['--url', gitUrlOf(name, p), '--rev', rev, '--quiet', ...(p.submodules ? ['--fetch-submodules'] : [])];
    const r = await $`nix-prefetch-git ${args}`.nothrow();
    if (r.exitCode !== 0) throw new MegapakError(`pin '${name}': nix-prefetch-git failed: ${r.stderr.trim()}`);
    const info = JSON.parse(r.stdout) as { hash?: string; sha256?: string };
    return toSri(info.hash ?? info.sha256!);
  }
  const url = archiveUrlOf(p, rev);
  const r = await $`nix-prefetch-url --unpack --type sha256 ${url}`.nothrow();
  if (r.exitCode !== 0) throw new MegapakError(`pin '${name}': nix-prefetch-url --unpack ${url} failed: ${r.stderr.trim().split('\n').pop()}`);
  return toSri(r.stdout.trim().split('\n').pop()!);
}

const program = new Command('pins').description('keep nix/pins.json filled: resolve refs to commits and prefetch NAR hashes').exitOverride();
program
  .command('update')
  .description('fill the rev and hash of the named pins (default: every pin missing one)')
  .argument('[names...]', 'pins to update')
  .option('--file <path>', 'the pins file', join(REPO_ROOT, 'nix', 'pins.json'))
  .option('--all', 'refresh every pin: follow its ref again')
  .option('--from-git <dir>', 'take the one named pin from this local git mirror (no network): its ref is resolved there, the hash is that of the tree Nix would fetch')
  .option(
    '--submodule <path=dir>',
    'with --from-git, the mirror of a submodule of a git pin with submodules (repeatable)',
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .action(async (names: string[], o: { file: string; all?: boolean; fromGit?: string; submodule: string[] }) => {
    const pins = await readPins(o.file);
    for (const n of names) if (!pins.pins[n]) throw new MegapakError(`no pin '${n}' in ${o.file}`);
    if (o.fromGit) {
      if (names.length !== 1) throw new UsageError('--from-git takes exactly one pin name: a mirror holds one repository');
      const submodules: Record<string, string> = {};
      for (const s of o.submodule) {
        const m = /^([^=]+)=(.+)$/.exec(s);
        if (!m) throw new UsageError(`--submodule ${s}: expected PATH=DIR`);
        submodules[m[1]!.replace(/\/+$/, '')] = m[2]!;
      }
      const n = names[0]!;
      const p = pins.pins[n]!;
      if (isFilePin(p)) throw new UsageError(`pin '${n}' is a ${p.type} pin: --from-git fills only github and git pins`);
      const { rev, hash, notes } = await pinFromGit(n, p, o.fromGit, submodules);
      pins.pins[n] = { ...p, rev, hash };
      await writePins(o.file, pins);
      for (const note of notes) console.log(`note: ${note}`);
      console.log(`${n}: ${p.ref} -> ${rev} ${hash} (from ${o.fromGit})`);
      return;
    }
    const pending = names.length ? names : Object.keys(pins.pins).filter((n) => o.all || isOpen(pins.pins[n]!));
    if (!pending.length) console.log(`every pin in ${o.file} has a rev and a hash`);
    for (const n of pending) {
      const p = pins.pins[n]!;
      if (isFilePin(p)) {
        const { hash, evidence } = await prefetchFile(n, p);
        pins.pins[n] = { ...p, hash, evidence };
        await writePins(o.file, pins);
        console.log(`${n}: ${p.url} ${hash}${p.hash ? ' (the pinned hash, confirmed)' : ''}`);
        continue;
      }
      const rev = o.all || names.includes(n) || !p.rev ? await resolveRev(n, p) : p.rev;
      const hash = await prefetchSource(n, p, rev);
      pins.pins[n] = { ...p, rev, hash };
      // Written after each pin, so an interrupted run keeps what it already fetched.
      await writePins(o.file, pins);
      console.log(`${n}: ${p.ref} -> ${rev} ${hash}`);
    }
  });

program
  .command('check')
  .description('exit 1 naming every pin that has no hash (or no rev): what a build from committed pins needs')
  .option('--file <path>', 'the pins file', join(REPO_ROOT, 'nix', 'pins.json'))
  .action(async (o: { file: string }) => {
    const pins = await readPins(o.file);
    const open = Object.entries(pins.pins).filter(([, p]) => isOpen(p));
    if (open.length) throw new MegapakError(`${o.file}: ${open.length} pins without a hash: ${open.map(([n]) => n).join(', ')} (pnpm pins update NAME on a machine with network)`);
    console.log(`every pin in ${o.file} has its hash`);
  });

await runProgram(program, 'pins');
