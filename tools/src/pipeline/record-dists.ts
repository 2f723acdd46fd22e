// The Python distributions a layer's store paths hold, kept in its record: the SBOM reads them
// from there, so a runner that restored the record (Turborepo's remote cache) but not the store
// paths makes the same SBOM as the machine that built the layer.
import { existsSync } from 'node:fs';
import { findPythonDists } from '../layer/python-dists.ts';
import type { LayerRecord, RecordedPythonDist } from '../model/vocabulary.ts';

/**
 * `record` with its `pythonDists`: the previous record's when its content key is the same (the
 * same store paths with the same NAR hashes hold the same files), else read from the store. Left
 * out when a path is absent here (a registry-first push that kept a record of an older megapak):
 * the SBOM then reads the store, as it did for such records.
 */
export async function withPythonDists(record: LayerRecord, previous: LayerRecord | undefined): Promise<LayerRecord> {
  if (record.empty) return record;
  if (previous && !previous.empty && previous.contentKey === record.contentKey && previous.pythonDists) return { ...record, pythonDists: previous.pythonDists };
  if (!record.paths.every((p) => existsSync(p.path))) return record;
  const pythonDists: Record<string, RecordedPythonDist[]> = {};
  for (const p of record.paths) {
    const found = await findPythonDists(p.path);
    if (found.length)
      pythonDists[p.path] = found.map(({ metadataPath, name, version, license, classifierLicenses }) => ({ metadataPath, name, version, license, classifierLicenses }));
  }
  return { ...record, pythonDists };
}
