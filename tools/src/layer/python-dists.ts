// Python distributions inside a store path, found the way pip records them:
// `lib/python*/site-packages/*.dist-info/METADATA` (core metadata, RFC 822 style headers).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';

export interface PythonDist {
  /** The store path that holds it. */
  storePath: string;
  /** METADATA, relative to the store path. */
  metadataPath: string;
  name: string;
  version: string;
  /** `License-Expression` (core metadata 2.4, an SPDX expression) or a one-line `License`. */
  license: string | null;
  /** Licence classifiers (`License :: OSI Approved :: MIT License` → `MIT License`), when no licence field says it. */
  classifierLicenses: string[];
  purl: string;
}

/** PEP 503 normalised name (what pip compares; the SPDX element ids use it). */
export const normalisePypiName = (name: string) => name.replace(/[-_.]+/g, '-').toLowerCase();

/** The header fields of a METADATA file (stops at the first blank line: the body is the description). */
export function parseMetadataHeaders(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] += `\n${line.trim()}`; // a folded continuation line
      continue;
    }
    const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    last = fields.get(key) ?? [];
    last.push(m[2]!);
    fields.set(key, last);
  }
  return fields;
}

/** packageurl-js applies the purl spec's pypi rules (lowercase, `_` → `-`; a `.` stays). */
export const pypiPurl = (name: string, version: string) => new PackageURL('pypi', undefined, name, version, undefined, undefined).toString();

export function distFromMetadata(storePath: string, metadataPath: string, text: string): PythonDist | null {
  const h = parseMetadataHeaders(text);
  const name = h.get('name')?.[0]?.trim();
  const version = h.get('version')?.[0]?.trim();
  if (!name || !version) return null;
  // `License` is free text and often a whole licence file; only a short single line names one.
  const licenseField = h.get('license')?.[0]?.trim();
  const license =
    h.get('license-expression')?.[0]?.trim() ||
    (licenseField && !licenseField.includes('\n') && licenseField.length <= 100 && !/^unknown$/i.test(licenseField) ? licenseField : null);
  const classifierLicenses = (h.get('classifier') ?? [])
    .map((c) => c.split('::').map((s) => s.trim()))
    .filter((parts) => parts[0] === 'License' && parts.length > 1 && parts[parts.length - 1] !== 'OSI Approved')
    .map((parts) => parts[parts.length - 1]!);
  return { storePath, metadataPath, name, version, license: license || null, classifierLicenses: license ? [] : classifierLicenses, purl: pypiPurl(name, version) };
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Every dist-info distribution in the store path's lib/pythonX.Y/site-packages, sorted by path. */
export async function findPythonDists(storePath: string): Promise<PythonDist[]> {
  const found: PythonDist[] = [];
  for (const py of (await entries(join(storePath, 'lib'))).filter((e) => /^python\d/.test(e)))
    for (const d of (await entries(join(storePath, 'lib', py, 'site-packages'))).filter((e) => e.endsWith('.dist-info'))) {
      const rel = join('lib', py, 'site-packages', d, 'METADATA');
      const text = await readFile(join(storePath, rel), 'utf8').catch(() => null);
      const dist = text === null ? null : distFromMetadata(storePath, rel, text);
      if (dist) found.push(dist);
    }
  return found;
}
