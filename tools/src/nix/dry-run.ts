import { MegapakError } from '../util/errors.ts';
import { execCapture } from '../util/exec.ts';

/** What Nix's own dry run says it would do to realise some outputs. */
export interface DryRun {
  /** Derivations it would build (`.drv` paths), sorted. */
  build: string[];
  /** Store paths it would fetch from the configured substituters, sorted. */
  fetch: string[];
  /** Paths it knows no way to make ("don't know how to build these paths"), sorted. */
  unknown: string[];
  /** The download size as Nix printed it (e.g. "0.21 MiB", "178.1 KiB"), or null when nothing is fetched. */
  download: string | null;
}

// ANSI colours: Nix 2.19+ may colour the headings when stderr is a terminal (never here, but cheap).
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Parse the dry run's report, which Nix prints on stderr (`printMissing`): a heading per kind,
 * then one indented store path per line. Accepts Nix 2.8 ("these 3 derivations will be built:",
 * "these 2 paths will be fetched (0.21 MiB download, 0.84 MiB unpacked):"), the singular forms,
 * older count-less headings and newer sizes in KiB/GiB; other lines (warnings, progress) are skipped.
 */
export function parseDryRun(stderr: string): DryRun {
  const sets = { build: new Set<string>(), fetch: new Set<string>(), unknown: new Set<string>() };
  let section: keyof typeof sets | null = null;
  let download: string | null = null;
  for (const raw of stderr.split('\n')) {
    const line = raw.replace(ANSI, '').trimEnd();
    const item = /^\s+(\/\S+)$/.exec(line);
    if (item && section) {
      sets[section].add(item[1]!);
      continue;
    }
    section = null;
    if (/(derivation|derivations) will be built:$/.test(line)) section = 'build';
    else if (/(path|paths) will be fetched\b.*:$/.test(line)) {
      section = 'fetch';
      download = /\(([\d.]+ \w+) download/.exec(line)?.[1] ?? download;
    } else if (/^don't know how to build these paths\b.*:$/.test(line)) section = 'unknown';
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { build: sorted(sets.build), fetch: sorted(sets.fetch), unknown: sorted(sets.unknown), download };
}

/**
 * `nix-store --realise --dry-run` of derivation outputs (`/nix/store/…drv!out`) or store paths:
 * what Nix would build and fetch to realise them, building and fetching nothing. The same report
 * as `nix-build --dry-run` (both are Nix's `queryMissing`), without evaluating anything again.
 */
export async function dryRun(specs: string[], what: string): Promise<DryRun> {
  if (!specs.length) return { build: [], fetch: [], unknown: [], download: null };
  const r = await execCapture('nix-store', ['--realise', '--dry-run', ...specs]);
  if (r.code !== 0) throw new MegapakError(`${what}: nix-store --realise --dry-run failed: ${r.stderr.trim().split('\n').pop()}`);
  return parseDryRun(r.stderr);
}
