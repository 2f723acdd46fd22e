// The inventory as an SPDX 2.3 JSON document. Written by hand: no well-kept npm library models
// SPDX 2.3 documents (the npm `spdx-*` packages handle licence expressions only, and the SPDX
// project's own tools are Java, Python and Go); spdx-expression-parse checks the expressions.
// test/sbom.test.ts validates the output against the official SPDX 2.3 JSON schema.
import spdxExpressionParse from 'spdx-expression-parse';
import { PackageURL } from 'packageurl-js';
import type { Inventory, StorePathEntry } from './inventory.ts';
import { uuidFromDigest } from './inventory.ts';
import { normalisePypiName, type PythonDist } from '../layer/python-dists.ts';
import { storePathParts } from './nix-name.ts';

const NOASSERTION = 'NOASSERTION';

function isSpdxExpression(s: string): boolean {
  try {
    spdxExpressionParse(s);
    return true;
  } catch {
    return false;
  }
}

/** SPDX date-time: UTC, seconds, `Z`. */
const spdxTime = (iso: string) => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

class Licenses {
  readonly extracted = new Map<string, { licenseId: string; name: string; extractedText: string; comment?: string }>();

  /** A licence that is not an SPDX expression becomes a LicenseRef with its text recorded. */
  private ref(name: string, text: string, comment?: string): string {
    const licenseId = `LicenseRef-${name.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'unnamed'}`;
    if (!this.extracted.has(licenseId)) this.extracted.set(licenseId, { licenseId, name, extractedText: text, ...(comment ? { comment } : {}) });
    return licenseId;
  }

  ofMeta(e: StorePathEntry): string {
    const parts = (e.meta?.licenses ?? []).map((l) =>
      l.spdxId && isSpdxExpression(l.spdxId)
        ? l.spdxId
        : this.ref(l.name ?? l.spdxId ?? 'unnamed', `${l.name ?? l.spdxId} (nixpkgs meta.license)`, l.free ? undefined : 'unfree (nixpkgs meta.license.free = false)'),
    );
    return parts.length ? parts.join(' AND ') : NOASSERTION;
  }

  ofDist(d: PythonDist): string {
    if (d.license) return isSpdxExpression(d.license) ? d.license : this.ref(d.license, d.license);
    const parts = d.classifierLicenses.map((c) => this.ref(c, `License :: ${c} (Python package classifier)`));
    return parts.length ? parts.join(' AND ') : NOASSERTION;
  }
}

export function renderSpdx(inv: Inventory): string {
  const { image } = inv;
  const lic = new Licenses();
  const idOf = (path: string) => `SPDXRef-nix-${storePathParts(path).hash}`;
  const packages: object[] = [
    {
      SPDXID: 'SPDXRef-image',
      name: image.name,
      versionInfo: image.tag,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      checksums: [{ algorithm: 'SHA256', checksumValue: image.digest.replace(/^sha256:/, '') }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: new PackageURL('oci', undefined, image.name, image.digest, { tag: image.tag }, undefined).toString(),
        },
      ],
      comment: `OCI image manifest ${image.digest}; layers: ${inv.layers.map((l) => `${l.name}@${l.version}`).join(', ')}`,
    },
  ];
  const relationships: object[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-image' }];
  for (const e of inv.storePaths) {
    const id = idOf(e.path);
    const notes = [
      `Nix store path ${e.path}`,
      `shipped in ${e.layer}@${e.layerVersion}`,
      `NAR size ${e.narSize} bytes; checksum is the NAR hash`,
      ...(e.root ? ['a root of its layer'] : []),
      ...(e.meta?.unfree ? ['unfree (nixpkgs meta)'] : []),
      ...(e.read ? [] : ['contents not read: absent from the store when the SBOM was made']),
    ];
    packages.push({
      SPDXID: id,
      name: e.name,
      ...(e.version ? { versionInfo: e.version } : {}),
      packageFileName: e.path,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      checksums: [{ algorithm: 'SHA256', checksumValue: e.narHashHex }],
      ...(e.meta?.homepage ? { homepage: e.meta.homepage } : {}),
      licenseConcluded: NOASSERTION,
      licenseDeclared: lic.ofMeta(e),
      copyrightText: NOASSERTION,
      primaryPackagePurpose: e.root ? 'APPLICATION' : 'LIBRARY',
      comment: notes.join('; '),
    });
    relationships.push({ spdxElementId: 'SPDXRef-image', relationshipType: 'CONTAINS', relatedSpdxElement: id });
    for (const r of e.references) relationships.push({ spdxElementId: id, relationshipType: 'DEPENDS_ON', relatedSpdxElement: idOf(r) });
    for (const d of e.pythonDists) {
      const distId = `SPDXRef-pypi-${normalisePypiName(d.name)}-${storePathParts(e.path).hash}`;
      packages.push({
        SPDXID: distId,
        name: d.name,
        versionInfo: d.version,
        downloadLocation: NOASSERTION,
        filesAnalyzed: false,
        licenseConcluded: NOASSERTION,
        licenseDeclared: lic.ofDist(d),
        copyrightText: NOASSERTION,
        primaryPackagePurpose: 'LIBRARY',
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: d.purl }],
        comment: `Python distribution, ${e.path}/${d.metadataPath}`,
      });
      relationships.push({ spdxElementId: id, relationshipType: 'CONTAINS', relatedSpdxElement: distId });
    }
  }
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${image.name}:${image.tag}`,
    documentNamespace: `urn:uuid:${uuidFromDigest(image.digest)}`,
    creationInfo: {
      created: spdxTime(image.created),
      creators: ['Tool: megapak'],
      ...(inv.unread.length ? { comment: `${inv.unread.length} store paths were absent from the store: their contents (Python distributions) are not listed` } : {}),
    },
    packages,
    relationships,
    ...(lic.extracted.size ? { hasExtractedLicensingInfos: [...lic.extracted.values()] } : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
