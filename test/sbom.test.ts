// megapak sbom on a small fixture stack (test/fixtures/sbom-stack: nixpkgs-style meta, an
// unfree root, Python dist-info in a store path): both formats against their official JSON
// schemas, byte-identical documents from two cold builds, the OCI layout's referrers, and a
// push to Debian's docker-registry (no referrers API: the referrers tag schema) read back with
// skopeo and plain HTTP; a registry that refuses the artifact leaves the image pushed.
import { Validation, Spec } from '@cyclonedx/cyclonedx-library';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapak, megapakOk, REPO, run } from './helpers/cli.ts';
import { copyFixtureStack, layoutMembers, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { deleteSaltedPaths, saltedStack } from './helpers/stateless.ts';

const SBOM_STACK = join(REPO, 'test', 'fixtures', 'sbom-stack');
const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface CdxComponent {
  name: string;
  version?: string;
  'bom-ref': string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
  externalReferences?: { url: string; type: string }[];
  properties?: { name: string; value: string }[];
  components?: CdxComponent[];
}
const prop = (c: CdxComponent, name: string) => c.properties?.find((p) => p.name === name)?.value;

describe('megapak sbom', () => {
  const stacks: string[] = [];
  const caches: string[] = [];
  const ocis: string[] = [];
  let records: LayerRecord[];
  let digest: string;
  const registries: Registry[] = [];
  const env = (i: number) => ({ MEGAPAK_CACHE_DIR: caches[i]!, NIX_CONFIG: 'substituters =' });
  const sbom = async (i: number, format: string) => (await megapakOk(['sbom', '--stack', stacks[i]!, '--format', format], { env: env(i) })).stdout;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      stacks.push(await copyFixtureStack(SBOM_STACK));
      caches.push(await tempDir('sbom-cache'));
      ocis.push(join(await tempDir('sbom-oci'), 'oci'));
    }
  });
  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
  });

  it('before any build: one line saying to build first', async () => {
    const r = await megapak(['sbom', '--stack', stacks[0]!], { env: env(0) });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("megapak: sbom: layer-01 has no dist/layer.json; build it first (megapak build, or turbo's ^build)");
  });

  it('two cold builds (own blob stores, own layouts) give byte-identical SBOMs, in the layout and from megapak sbom', async () => {
    const built = [];
    for (let i = 0; i < 2; i++) built.push(await megapakOk(['build', '--stack', stacks[i]!, '--oci', ocis[i]!], { env: env(i) }));
    digest = /image \S+ (sha256:[0-9a-f]{64})/.exec(built[0]!.stdout)![1]!;
    expect(built[1]!.stdout).toContain(digest);
    expect(built[0]!.stdout).toContain(`sbom: CycloneDX and SPDX attached to ${digest} in the layout`);
    records = await readRecords(stacks[0]!);
    for (const format of ['cyclonedx', 'spdx']) expect(await sbom(0, format)).toBe(await sbom(1, format));
    const indexes = await Promise.all(ocis.map(async (o) => readFile(join(o, 'index.json'), 'utf8')));
    expect(indexes[0]).toBe(indexes[1]);
  });

  it('CycloneDX 1.6: valid against the schema the CycloneDX library ships; every shipped store path, its dist-info, meta and graph', async () => {
    const text = await sbom(0, 'cyclonedx');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const bom = JSON.parse(text) as {
      serialNumber: string;
      metadata: { timestamp: string; component: CdxComponent };
      components: CdxComponent[];
      dependencies: { ref: string; dependsOn?: string[] }[];
    };
    expect(bom.metadata.timestamp).toBe('2026-11-01T00:00:00.000Z'); // stack.json's created
    expect(bom.metadata.component['bom-ref']).toBe(digest);
    const shipped = records.flatMap((r) => r.paths.map((p) => ({ path: p.path, layer: r.name })));
    expect(bom.components.map((c) => c['bom-ref']).sort()).toEqual(shipped.map((s) => s.path).sort());
    for (const s of shipped)
      expect(
        prop(
          bom.components.find((c) => c['bom-ref'] === s.path)!,
          'megapak:layer',
        ),
      ).toBe(s.layer);
    const byName = (n: string) => bom.components.find((c) => c.name === n)!;

    // The NAR hash, against Nix's own NAR serialisation of the path.
    const requests = byName('python3.14-requests');
    const nar = createHash('sha256')
      .update(execFileSync('nix-store', ['--dump', requests['bom-ref']], { maxBuffer: 1 << 30 }))
      .digest('hex');
    expect(requests).toMatchObject({ version: '2.32.3', hashes: [{ alg: 'SHA-256', content: nar }], licenses: [{ license: { id: 'Apache-2.0' } }] });
    expect(requests.externalReferences).toEqual([{ url: 'http://docs.python-requests.org', type: 'website' }]);
    expect(byName('glibc')).toMatchObject({ version: '2.40-66', licenses: [{ license: { id: 'LGPL-2.1-or-later' } }] });
    expect(prop(byName('cuda-cudart'), 'nix:meta:unfree')).toBe('true');
    expect(byName('cuda-cudart').licenses).toEqual([{ license: { name: 'CUDA Toolkit End User License Agreement (EULA)' } }]);
    expect(prop(byName('glibc'), 'nix:meta:unfree')).toBeUndefined();
    // busybox's meta throws when forced: no licence, no homepage, and the build still went on.
    expect(byName('busybox')).toMatchObject({ 'bom-ref': expect.stringMatching(/-busybox$/) });
    expect([byName('busybox').licenses, byName('busybox').externalReferences]).toEqual([undefined, undefined]);

    // Python distributions inside the store path that holds them.
    const dists = Object.fromEntries((requests.components ?? []).map((d) => [d.purl, d]));
    expect(Object.keys(dists).sort()).toEqual(['pkg:pypi/charset-normalizer@3.4.0', 'pkg:pypi/requests@2.32.3', 'pkg:pypi/zope.interface@7.1']);
    expect(dists['pkg:pypi/requests@2.32.3']!.licenses).toEqual([{ license: { id: 'Apache-2.0' } }]);
    expect(dists['pkg:pypi/charset-normalizer@3.4.0']!.licenses).toEqual([{ license: { id: 'MIT' } }]);
    expect(dists['pkg:pypi/zope.interface@7.1']!.licenses).toEqual([{ license: { name: 'Zope Public License' } }]);
    expect(prop(dists['pkg:pypi/requests@2.32.3']!, 'nix:store_path')).toBe(requests['bom-ref']);

    // The graph: the store paths' references, and the image depending on the layers' roots.
    const deps = new Map(bom.dependencies.map((d) => [d.ref, d.dependsOn ?? []]));
    const python = byName('python3')['bom-ref'];
    expect(deps.get(requests['bom-ref'])).toEqual([python]);
    expect(deps.get(python)).toEqual([byName('glibc')['bom-ref']]);
    expect(deps.get(digest)!.sort()).toEqual(records.flatMap((r) => r.roots).sort());
  });

  it('SPDX 2.3: valid against the official schema (test/fixtures/spdx); packages, purls, licences, relationships', async () => {
    const schema = JSON.parse(await readFile(join(REPO, 'test', 'fixtures', 'spdx', 'spdx-2.3.schema.json'), 'utf8'));
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    const doc = JSON.parse(await sbom(0, 'spdx'));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.creationInfo.created).toBe('2026-11-01T00:00:00Z');
    type Pkg = {
      SPDXID: string;
      name: string;
      versionInfo?: string;
      licenseDeclared: string;
      checksums?: { checksumValue: string }[];
      externalRefs?: { referenceLocator: string }[];
    };
    const pkgs = doc.packages as Pkg[];
    const requests = pkgs.find((p) => p.name === 'python3.14-requests')!;
    const dist = pkgs.find((p) => p.externalRefs?.some((r) => r.referenceLocator === 'pkg:pypi/requests@2.32.3'))!;
    expect(dist).toMatchObject({ name: 'requests', versionInfo: '2.32.3', licenseDeclared: 'Apache-2.0' });
    expect(doc.relationships).toContainEqual({ spdxElementId: requests.SPDXID, relationshipType: 'CONTAINS', relatedSpdxElement: dist.SPDXID });
    const cudart = pkgs.find((p) => p.name === 'cuda-cudart')!;
    expect(cudart.licenseDeclared).toMatch(/^LicenseRef-/);
    expect(doc.hasExtractedLicensingInfos).toContainEqual(expect.objectContaining({ licenseId: cudart.licenseDeclared, comment: expect.stringContaining('unfree') }));
    expect(pkgs.filter((p) => p.SPDXID.startsWith('SPDXRef-nix-'))).toHaveLength(records.reduce((n, r) => n + r.paths.length, 0));
  });

  it('the OCI layout holds both as referrers of the image manifest, and tag-less readers still find the image', async () => {
    const layout = await layoutMembers(ocis[0]!);
    expect(layout.entries).toBe(1);
    expect(layout.image).toMatchObject({ digest, platform: { architecture: 'amd64', os: 'linux' } });
    const blob = (d: string) => readFile(join(ocis[0]!, 'blobs', 'sha256', d.slice(7)));
    for (const [type, format] of [
      ['application/vnd.cyclonedx+json', 'cyclonedx'],
      ['application/spdx+json', 'spdx'],
    ] as const) {
      const entry = layout.referrers.find((m) => m.artifactType === type)!;
      const manifest = JSON.parse((await blob(entry.digest)).toString());
      expect(manifest).toMatchObject({ mediaType: MANIFEST, artifactType: type, subject: { digest }, config: { mediaType: 'application/vnd.oci.empty.v1+json' } });
      expect((await blob(manifest.layers[0].digest)).toString()).toBe(await sbom(0, format));
    }
    expect(layout.referrers).toHaveLength(2);
    // skopeo reads the image without a tag, and with it, from the same layout; its layers are the image's.
    const layers = JSON.parse(await readFile(join(ocis[0]!, 'blobs', 'sha256', digest.slice(7)), 'utf8')).layers.map((l: { digest: string }) => l.digest);
    for (const name of [`oci:${ocis[0]}`, `oci:${ocis[0]}:test`]) {
      const r = await run('skopeo', ['inspect', name]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).Layers).toEqual(layers);
    }

    // A rebuild that changes the image replaces it and its referrers, in a copy of the layout.
    const stack = await copyFixtureStack(SBOM_STACK);
    await writeFile(join(stack, 'stack.json'), JSON.stringify({ name: 'megapak-sbom-fixture', tag: 'test', created: '2026-11-02T00:00:00Z' }));
    const oci = join(await tempDir('sbom-oci'), 'oci');
    await cp(ocis[0]!, oci, { recursive: true });
    const rebuilt = await megapakOk(['build', '--stack', stack, '--oci', oci], { env: env(0) });
    const newDigest = /image \S+ (sha256:[0-9a-f]{64})/.exec(rebuilt.stdout)![1]!;
    expect(newDigest).not.toBe(digest);
    const after = await layoutMembers(oci);
    expect([after.entries, after.image.digest]).toEqual([1, newDigest]);
    const subjects = await Promise.all(after.referrers.map(async (m) => JSON.parse(await readFile(join(oci, 'blobs', 'sha256', m.digest.slice(7)), 'utf8')).subject.digest));
    expect(subjects).toEqual([newDigest, newDigest]);
  });

  it('a fresh runner with the records but none of the store paths (a remote-cache hit, nothing substituted): the same SBOM, byte for byte', async () => {
    // Store paths of its own (a salt), so they can be deleted from the shared store afterwards.
    const { dir: built, salt } = await saltedStack(SBOM_STACK);
    const e = { MEGAPAK_CACHE_DIR: await tempDir('sbom-fresh-a'), NIX_CONFIG: 'substituters =' };
    await megapakOk(['build', '--stack', built, '--no-sbom'], { env: e });
    const before: Record<string, string> = {};
    for (const f of ['cyclonedx', 'spdx']) before[f] = (await megapakOk(['sbom', '--stack', built, '--format', f], { env: e })).stdout;
    const python = (await readRecords(built)).find((r) => r.name === 'layer-02')!;
    expect(python.empty ? undefined : python.pythonDists).toEqual({
      [python.roots[0]!]: [
        expect.objectContaining({ name: 'charset_normalizer', version: '3.4.0', license: 'MIT' }),
        expect.objectContaining({ name: 'requests', version: '2.32.3', license: 'Apache-2.0' }),
        expect.objectContaining({ name: 'zope.interface', version: '7.1', license: null, classifierLicenses: ['Zope Public License'] }),
      ],
    });
    // Runner B: the stack's files and the layers' dist/ as Turborepo restores them, an empty
    // blob store, and none of the shipped store paths (no binary cache had them).
    const runner = await copyFixtureStack(built);
    for (const l of ['01-base', '02-python']) await cp(join(built, 'layers', l, 'dist'), join(runner, 'layers', l, 'dist'), { recursive: true });
    const shipped = (await readRecords(built)).flatMap((r) => r.paths.map((p) => p.path));
    await deleteSaltedPaths(shipped, salt);
    const eB = { MEGAPAK_CACHE_DIR: await tempDir('sbom-fresh-b'), NIX_CONFIG: 'substituters =' };
    for (const f of ['cyclonedx', 'spdx']) {
      const r = await megapakOk(['sbom', '--stack', runner, '--format', f], { env: eB });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(before[f]);
    }
    expect(before.cyclonedx).toContain('pkg:pypi/zope.interface@7.1');
    expect(shipped.filter((p) => existsSync(p))).toEqual([]);
  });

  it('a store path absent from the store, in a record of an older megapak (no pythonDists): listed from its record, marked unread, one warning line', async () => {
    const file = join(stacks[1]!, 'layers', '02-python', 'dist', 'layer.json');
    const record = JSON.parse(await readFile(file, 'utf8'));
    delete record.pythonDists;
    const gone = record.paths[0].path.replace(/\/[0-9a-z]{32}-/, '/00000000000000000000000000000000-');
    record.paths[0].path = gone;
    await writeFile(file, JSON.stringify(record));
    const r = await megapakOk(['sbom', '--stack', stacks[1]!], { env: env(1) });
    expect(r.stderr.trim().split('\n')).toEqual([
      `warning: sbom: 1 store paths are not in this store (first: ${gone}); listed from the records, their contents (Python distributions) not read`,
    ]);
    const bom = JSON.parse(r.stdout) as { metadata: { properties: { name: string; value: string }[] }; components: CdxComponent[] };
    expect(bom.metadata.properties).toContainEqual({ name: 'megapak:unread_store_paths', value: '1' });
    const c = bom.components.find((x) => x['bom-ref'] === gone)!;
    expect(prop(c, 'megapak:contents')).toMatch(/^not read/);
  });

  it('push to docker-registry (no referrers API): the referrers tag sha256-<hex> lists both; skopeo and plain HTTP read them back', async () => {
    const reg = await startRegistry({ storage: join(await tempDir('sbom-registry'), 'data') });
    registries.push(reg);
    const repo = 'megapak/sbom';
    const tag = `sha256-${digest.slice(7)}`;
    const push = await megapakOk(['push', '--stack', stacks[0]!, '--plain-http', `${reg.host}/${repo}:test`], { env: env(0) });
    expect(push.stdout).toContain(`sbom: CycloneDX and SPDX attached to ${reg.host}/${repo}:test (referrers tag ${tag})`);
    expect((await fetch(`${reg.url}/v2/${repo}/referrers/${digest}`)).status).toBe(404);

    const list = async () =>
      (await (await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: INDEX } })).json()) as {
        mediaType: string;
        manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[];
      };
    const index = await list();
    expect(index.mediaType).toBe(INDEX);
    expect(index.manifests.map((m) => m.artifactType)).toEqual(['application/vnd.cyclonedx+json', 'application/spdx+json']);
    expect(index.manifests[0]!.annotations).toEqual({ 'org.opencontainers.image.created': '2026-11-01T00:00:00Z' });
    for (const [m, format] of [
      [index.manifests[0]!, 'cyclonedx'],
      [index.manifests[1]!, 'spdx'],
    ] as const) {
      const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/${repo}@${m.digest}`]);
      const manifest = JSON.parse(raw.stdout);
      expect(manifest.subject).toEqual({ mediaType: MANIFEST, digest, size: expect.any(Number) });
      const doc = await (await fetch(`${reg.url}/v2/${repo}/blobs/${manifest.layers[0].digest}`)).text();
      expect(doc).toBe(await sbom(0, format));
    }
    // The image itself, as before.
    expect(JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/${repo}:test`])).stdout).Digest).toBe(digest);

    // Again: the list gains no duplicates.
    await megapakOk(['push', '--stack', stacks[0]!, '--plain-http', `${reg.host}/${repo}:test`], { env: env(0) });
    expect((await list()).manifests.map((m) => m.digest)).toEqual(index.manifests.map((m) => m.digest));

    // The same image from a machine that lacks a store path (stack 1's record, see above): its
    // SBOMs, made without reading that path, are not added beside the complete ones.
    const partial = await megapakOk(['push', '--stack', stacks[1]!, '--plain-http', `${reg.host}/${repo}:test`], { env: env(1) });
    expect(partial.stdout).toContain(`pushed ${reg.host}/${repo}:test ${digest}`);
    expect(partial.stdout).toContain(`sbom: ${reg.host}/${repo}:test already has both SBOMs of this image; these, made without 1 absent store paths, were not added`);
    expect((await list()).manifests.map((m) => m.digest)).toEqual(index.manifests.map((m) => m.digest));
  });

  it('a registry that refuses the artifact: the image push stands, one warning line with its answer', async () => {
    const reg = await startRegistry({ storage: join(await tempDir('sbom-registry'), 'data') });
    registries.push(reg);
    // In front of it, a proxy that refuses manifests carrying a subject, as some registries do.
    const proxy: Server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (b: Buffer) => parts.push(b));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.method === 'PUT' && req.url!.includes('/manifests/') && body.includes('"subject"')) {
          res
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid: artifacts are not accepted here' }] }));
          return;
        }
        const up = request({ host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode!, r.headers);
          r.pipe(res);
        });
        up.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const r = await megapakOk(['push', '--stack', stacks[0]!, '--plain-http', `${host}/megapak/refuses:test`], { env: env(0) });
      expect(r.stdout).toContain(`pushed ${host}/megapak/refuses:test ${digest}`);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('warning:'))).toEqual([
        `warning: the image is pushed, but its SBOM was not attached: pushing the manifest to ${host}/megapak/refuses:${(await layoutMembers(ocis[0]!)).referrers[0]!.digest}: HTTP 400 (MANIFEST_INVALID: manifest invalid: artifacts are not accepted here)`,
      ]);
      expect(JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/megapak/refuses:test`])).stdout).Digest).toBe(digest);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
