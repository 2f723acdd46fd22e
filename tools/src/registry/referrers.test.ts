// pushReferrers against an in-process fake registry (node:http) that speaks either the
// referrers API (answers `OCI-Subject` on a manifest with a subject, serves
// /v2/<name>/referrers/<digest>) or not (a plain v2 registry: the client keeps the tag).
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers, listenLoopback, readBody } from '../../../test/helpers/loopback-http.ts';
import { composeReferrer } from '../oci/referrer.ts';
import { listReferrers, pushReferrers, referrersTag } from './referrers.ts';
import { parseImageRef } from './reference.ts';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Fake {
  port: number;
  server: Server;
  blobs: Map<string, Buffer>;
  /** Manifests by digest and by tag. */
  manifests: Map<string, { type: string; body: Buffer }>;
  log: string[];
}

async function startFake(referrersApi: boolean): Promise<Fake> {
  const fake = { blobs: new Map(), manifests: new Map(), log: [] } as unknown as Fake;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    const data = await readBody(req);
    fake.log.push(`${req.method} ${url.pathname}`);
    let m: RegExpExecArray | null;
    if (url.pathname === '/v2/') return void res.writeHead(200).end();
    if ((m = /^\/v2\/x\/blobs\/(sha256:\w+)$/.exec(url.pathname)) && req.method === 'HEAD') {
      const b = fake.blobs.get(m[1]!);
      return void res.writeHead(b ? 200 : 404, b ? { 'content-length': String(b.length) } : {}).end();
    }
    if (url.pathname === '/v2/x/blobs/uploads/' && req.method === 'POST') return void res.writeHead(202, { location: '/upload/1' }).end();
    if (url.pathname === '/upload/1' && req.method === 'PUT') {
      const digest = url.searchParams.get('digest')!;
      if (sha(data) !== digest) return void res.writeHead(400).end();
      fake.blobs.set(digest, data);
      return void res.writeHead(201, { 'docker-content-digest': digest }).end();
    }
    if ((m = /^\/v2\/x\/manifests\/(.+)$/.exec(url.pathname))) {
      if (req.method === 'PUT') {
        const entry = { type: req.headers['content-type']!, body: data };
        fake.manifests.set(m[1]!, entry);
        fake.manifests.set(sha(data), entry);
        const subject = (JSON.parse(data.toString()) as { subject?: { digest: string } }).subject?.digest;
        return void res.writeHead(201, { 'docker-content-digest': sha(data), ...(referrersApi && subject ? { 'oci-subject': subject } : {}) }).end();
      }
      const e = fake.manifests.get(m[1]!);
      return void (e ? res.writeHead(200, { 'content-type': e.type }).end(e.body) : res.writeHead(404).end());
    }
    if ((m = /^\/v2\/x\/referrers\/(.+)$/.exec(url.pathname)) && referrersApi) {
      const list = [...new Set(fake.manifests.values())]
        .map((e) => ({ e, j: JSON.parse(e.body.toString()) as { subject?: { digest: string }; artifactType?: string; annotations?: object } }))
        .filter(({ j }) => j.subject?.digest === m![1])
        .map(({ e, j }) => ({ mediaType: e.type, digest: sha(e.body), size: e.body.length, artifactType: j.artifactType, annotations: j.annotations }));
      return void res.writeHead(200, { 'content-type': INDEX }).end(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: list }));
    }
    res.writeHead(404).end();
  };
  ({ server: fake.server, port: fake.port } = await listenLoopback(handle));
  return fake;
}

afterEach(closeLoopbackServers);

const subjectBytes = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}');
const subject = { mediaType: MANIFEST, digest: sha(subjectBytes), size: subjectBytes.length };
const referrers = [
  composeReferrer(subject, {
    artifactType: 'application/vnd.cyclonedx+json',
    data: Buffer.from('{"bomFormat":"CycloneDX"}'),
    title: 'sbom.cdx.json',
    created: '2026-11-01T00:00:00Z',
  }),
  composeReferrer(subject, { artifactType: 'application/spdx+json', data: Buffer.from('{"spdxVersion":"SPDX-2.3"}'), title: 'sbom.spdx.json', created: '2026-11-01T00:00:00Z' }),
];
const opts = { plainHttp: true, retries: 1, backoffMs: 10 };

async function setup(api: boolean) {
  const fake = await startFake(api);
  return { fake, ref: parseImageRef(`127.0.0.1:${fake.port}/x:test`) };
}

describe('pushReferrers', () => {
  it('the referrers tag name follows the distribution spec', () => {
    expect(referrersTag(`sha256:${'a'.repeat(64)}`)).toBe(`sha256-${'a'.repeat(64)}`);
    expect(referrersTag(`sha512:${'b'.repeat(128)}`)).toBe(`sha512-${'b'.repeat(64)}`);
    expect(
      referrersTag(
        'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation',
      ),
    ).toBe('test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot');
  });

  it('a registry with the referrers API (OCI-Subject): no tag is written, and its referrers list names both', async () => {
    const { fake, ref } = await setup(true);
    const r = await pushReferrers(ref, subject, referrers, opts);
    expect(r).toEqual({ via: 'referrers API', manifests: referrers.map((x) => x.descriptor.digest) });
    expect(fake.log.filter((l) => l.includes(referrersTag(subject.digest)))).toEqual([]);
    const list = (await (await fetch(`http://127.0.0.1:${fake.port}/v2/x/referrers/${subject.digest}`)).json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(list.manifests.map((m) => [m.digest, m.artifactType])).toEqual(referrers.map((x) => [x.descriptor.digest, x.artifactType]));
    expect((await listReferrers(ref, subject, opts)).map((m) => m.artifactType)).toEqual(['application/vnd.cyclonedx+json', 'application/spdx+json']);
    // The config ({}) and both documents are blobs of the registry.
    expect([...fake.blobs.keys()].sort()).toEqual([...new Set(referrers.flatMap((x) => x.blobs.map((b) => b.descriptor.digest)))].sort());
  });

  it('a registry without it: the tag index keeps what other clients listed, gains ours once', async () => {
    const { fake, ref } = await setup(false);
    const tag = referrersTag(subject.digest);
    const other = { mediaType: MANIFEST, digest: sha(Buffer.from('sig')), size: 3, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' };
    fake.manifests.set(tag, { type: INDEX, body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [other] })) });
    expect(await pushReferrers(ref, subject, referrers, opts)).toEqual({ via: `referrers tag ${tag}`, manifests: referrers.map((x) => x.descriptor.digest) });
    await pushReferrers(ref, subject, referrers, opts);
    const index = JSON.parse(fake.manifests.get(tag)!.body.toString()) as { manifests: object[] };
    expect(index.manifests).toEqual([other, ...referrers.map((x) => x.descriptor)]);
    expect(fake.log.filter((l) => l === `PUT /v2/x/manifests/${tag}`)).toHaveLength(1);
    // Listing: the API answers 404 here, so the tag's list is the answer.
    expect(await listReferrers(ref, subject, opts)).toEqual(index.manifests);
    expect(fake.log).toContain(`GET /v2/x/referrers/${subject.digest}`);
  });

  it('a tag that holds something other than an image index is left alone, with one line saying so', async () => {
    const { fake, ref } = await setup(false);
    const tag = referrersTag(subject.digest);
    fake.manifests.set(tag, { type: MANIFEST, body: subjectBytes });
    await expect(pushReferrers(ref, subject, referrers, opts)).rejects.toThrow(
      `127.0.0.1:${fake.port}/x: the referrers tag ${tag} holds something other than an image index; the referrers list was not updated`,
    );
    expect(fake.manifests.get(tag)!.body).toEqual(subjectBytes);
  });
});
