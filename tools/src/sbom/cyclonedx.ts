// The inventory as a CycloneDX 1.6 JSON document, built with the CycloneDX project's own
// library (models, licence factory, normaliser with sorted lists for reproducible bytes).
// Subpath imports: the package's main entry also loads its validators, which look for their
// schema files next to the module, and that breaks in the CLI's single-file bundle.
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import * as SPDX from '@cyclonedx/cyclonedx-library/SPDX';
import { Factories as LicenseFactories } from '@cyclonedx/cyclonedx-library/Contrib/License';
import { PackageURL } from 'packageurl-js';
import spdxExpressionParse from 'spdx-expression-parse';
import type { Inventory, StorePathEntry } from './inventory.ts';
import { uuidFromDigest } from './inventory.ts';
import type { PythonDist } from '../layer/python-dists.ts';

const licenses = new LicenseFactories.LicenseFactory((s) => void spdxExpressionParse(s));

function licensesOfMeta(e: StorePathEntry): Models.LicenseRepository {
  const repo = new Models.LicenseRepository();
  for (const l of e.meta?.licenses ?? []) {
    const id = l.spdxId ?? '';
    if (SPDX.isSupportedSpdxId(id)) repo.add(licenses.makeSpdxLicense(id));
    else if (l.name || id) repo.add(new Models.NamedLicense(l.name ?? id));
  }
  return repo;
}

function licensesOfDist(d: PythonDist): Models.LicenseRepository {
  const repo = new Models.LicenseRepository();
  if (d.license) repo.add(licenses.makeFromString(d.license));
  for (const c of d.classifierLicenses) repo.add(new Models.NamedLicense(c));
  return repo;
}

const props = (pairs: [string, string | number | boolean | undefined | null][]) =>
  new Models.PropertyRepository(pairs.filter(([, v]) => v !== undefined && v !== null && v !== false).map(([k, v]) => new Models.Property(k, String(v))));

function distComponent(d: PythonDist): Models.Component {
  return new Models.Component(Enums.ComponentType.Library, d.name, {
    bomRef: `${d.storePath}/${d.metadataPath}`,
    version: d.version,
    purl: d.purl,
    licenses: licensesOfDist(d),
    properties: props([
      ['nix:store_path', d.storePath],
      ['python:metadata', d.metadataPath],
    ]),
  });
}

function storePathComponent(e: StorePathEntry): Models.Component {
  const c = new Models.Component(e.root ? Enums.ComponentType.Application : Enums.ComponentType.Library, e.name, {
    bomRef: e.path,
    version: e.version || undefined,
    hashes: new Models.HashDictionary([[Enums.HashAlgorithm['SHA-256'], e.narHashHex]]),
    licenses: licensesOfMeta(e),
    properties: props([
      ['nix:store_path', e.path],
      ['nix:nar_size', e.narSize],
      ['megapak:layer', e.layer],
      ['megapak:layer_version', e.layerVersion],
      ['megapak:layer_root', e.root],
      ['nix:meta:unfree', e.meta?.unfree],
      ['megapak:contents', e.read ? undefined : 'not read: absent from the store when the SBOM was made'],
    ]),
  });
  if (e.meta?.homepage) c.externalReferences.add(new Models.ExternalReference(e.meta.homepage, Enums.ExternalReferenceType.Website));
  for (const d of e.pythonDists) c.components.add(distComponent(d));
  return c;
}

export function renderCycloneDx(inv: Inventory): string {
  const { image } = inv;
  const imageComponent = new Models.Component(Enums.ComponentType.Container, image.name, {
    bomRef: image.digest,
    version: image.tag,
    hashes: new Models.HashDictionary([[Enums.HashAlgorithm['SHA-256'], image.digest.replace(/^sha256:/, '')]]),
    purl: new PackageURL('oci', undefined, image.name, image.digest, { tag: image.tag }, undefined).toString(),
    properties: props(inv.layers.map((l, i) => [`megapak:layer:${String(i + 1).padStart(2, '0')}`, `${l.name}@${l.version}`])),
  });
  const bom = new Models.Bom({
    serialNumber: `urn:uuid:${uuidFromDigest(image.digest)}`,
    metadata: new Models.Metadata({
      timestamp: new Date(image.created),
      component: imageComponent,
      tools: new Models.Tools({ components: new Models.ComponentRepository([new Models.Component(Enums.ComponentType.Application, 'megapak')]) }),
      properties: props([['megapak:unread_store_paths', inv.unread.length || undefined]]),
    }),
  });
  const byPath = new Map<string, Models.Component>();
  for (const e of inv.storePaths) {
    const c = storePathComponent(e);
    byPath.set(e.path, c);
    bom.components.add(c);
  }
  for (const e of inv.storePaths) {
    const c = byPath.get(e.path)!;
    for (const r of e.references) {
      const dep = byPath.get(r);
      if (dep) c.dependencies.add(dep.bomRef);
    }
    if (e.root) imageComponent.dependencies.add(c.bomRef);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}
