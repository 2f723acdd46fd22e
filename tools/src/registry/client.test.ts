// The upload paths against an in-process fake registry on 127.0.0.1 (node:http): Range resume
// after a dropped connection, HTTP 416, a token that stops working during an upload, and
// bearer tokens that expire by `expires_in`.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers, listenLoopback, readBody } from '../../../test/helpers/loopback-http.ts';
import { RegistryClient } from './client.ts';
import { RegistryHttp } from './http.ts';
import { parseImageRef } from './reference.ts';

type PatchFault = 'drop' | '416' | '401' | undefined;

interface Fake {
  port: number;
  log: string[];
  tokensIssued: number;
  blobs: Map<string, Buffer>;
  /** Decides the fate of the n-th PATCH (0-based). */
  onPatch: (n: number) => PatchFault;
  tokenSeconds: number;
  valid: Set<string>;
  server: Server;
}

async function startFake(): Promise<Fake> {
  const uploads = new Map<string, Buffer>();
  let patches = 0;
  let ids = 0;
  const fake = { log: [], tokensIssued: 0, blobs: new Map(), onPatch: () => undefined, tokenSeconds: 3600, valid: new Set<string>() } as unknown as Fake;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, `http://127.0.0.1:${fake.port}`);
    if (url.pathname === '/token') {
      const token = `t${++fake.tokensIssued}`;
      fake.valid.add(token);
      fake.log.push('token');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: fake.tokenSeconds }));
      return;
    }
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    if (!auth || !fake.valid.has(auth)) {
      fake.log.push(`401 ${req.method}`);
      await readBody(req);
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${fake.port}/token",service="fake"` }).end();
      return;
    }
    const id = url.pathname.startsWith('/upload/') ? url.pathname.slice('/upload/'.length) : '';
    const have = uploads.get(id) ?? Buffer.alloc(0);
    const status = (extra: Record<string, string> = {}) => ({ location: `/upload/${id}`, range: `0-${have.length - 1}`, ...extra });
    if (req.method === 'GET' && url.pathname === '/v2/') {
      res.writeHead(200).end();
    } else if (req.method === 'POST' && url.pathname === '/v2/x/blobs/uploads/') {
      const fresh = String(++ids);
      uploads.set(fresh, Buffer.alloc(0));
      fake.log.push('POST');
      res.writeHead(202, { location: `/upload/${fresh}` }).end();
    } else if (req.method === 'GET' && id) {
      fake.log.push(`GET ${have.length}`);
      res.writeHead(204, status()).end();
    } else if (req.method === 'PATCH' && id) {
      const fault = fake.onPatch(patches++);
      const range = req.headers['content-range'];
      fake.log.push(`PATCH ${range}${fault ? ` ${fault}` : ''}`);
      if (fault === '416') return void readBody(req).then(() => res.writeHead(416, status()).end());
      if (fault === '401') {
        fake.valid.clear(); // the token expired on the registry's side
        return void readBody(req).then(() => res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${fake.port}/token",service="fake"` }).end());
      }
      if (Number(range!.split('-')[0]) !== have.length) return void readBody(req).then(() => res.writeHead(416, status()).end());
      const got: Buffer[] = [];
      let n = 0;
      req.on('data', (b: Buffer) => {
        got.push(b);
        n += b.length;
        // Keep what arrived, then drop the connection, as a registry restart would.
        if (fault === 'drop' && n >= 1 << 20) {
          uploads.set(id, Buffer.concat([have, ...got]));
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        uploads.set(id, Buffer.concat([have, ...got]));
        res.writeHead(202, { location: `/upload/${id}`, range: `0-${have.length + n - 1}` }).end();
      });
    } else if (req.method === 'PUT' && id) {
      const all = Buffer.concat([have, await readBody(req)]);
      const digest = url.searchParams.get('digest')!;
      fake.log.push('PUT');
      if (`sha256:${createHash('sha256').update(all).digest('hex')}` !== digest) return void res.writeHead(400).end();
      fake.blobs.set(digest, all);
      res.writeHead(201, { 'docker-content-digest': digest }).end();
    } else res.writeHead(404).end();
  };
  ({ server: fake.server, port: fake.port } = await listenLoopback(handle));
  return fake;
}

afterEach(closeLoopbackServers);

async function setup(size = 4 << 20) {
  const fake = await startFake();
  const data = randomBytes(size);
  const file = join(mkdtempSync(join(tmpdir(), 'megapak-client-')), 'blob');
  writeFileSync(file, data);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const ref = parseImageRef(`127.0.0.1:${fake.port}/x:t`);
  const policy = { retries: 3, backoffMs: 1 };
  const http = new RegistryHttp({ registry: ref.registry, apiHost: ref.apiHost, plainHttp: true, ...policy });
  // Every blob above 0 bytes goes in chunks, so the PATCH path is what is tested.
  const client = new RegistryClient(ref, http, { wholeBlobMax: 0 });
  let progress = 0;
  const push = async () => {
    const s = await client.startUpload(digest);
    if (s.mounted) throw new Error('mounted');
    await client.upload(s.location, digest, size, { file }, (n) => (progress += n), policy);
  };
  return { fake, data, digest, push, progress: () => progress, client };
}

describe('RegistryClient uploads', () => {
  it('resumes a dropped PATCH from the Range the registry reports', async () => {
    const t = await setup();
    t.fake.onPatch = (n) => (n === 0 ? 'drop' : undefined);
    await t.push();
    expect(t.fake.blobs.get(t.digest)?.equals(t.data)).toBe(true);
    const resumedAt = Number(t.fake.log.find((l) => l.startsWith('GET '))!.split(' ')[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(1 << 20);
    expect(resumedAt).toBeLessThan(t.data.length);
    expect(t.fake.log.filter((l) => l.startsWith('PATCH'))).toEqual([`PATCH 0-${t.data.length - 1} drop`, `PATCH ${resumedAt}-${t.data.length - 1}`]);
    expect(t.progress()).toBe(t.data.length);
  });

  it('treats HTTP 416 as "ask where the upload stands" and sends again from there', async () => {
    const t = await setup();
    t.fake.onPatch = (n) => (n === 0 ? '416' : undefined);
    await t.push();
    expect(t.fake.blobs.get(t.digest)?.equals(t.data)).toBe(true);
    expect(t.fake.log.filter((l) => /^(PATCH|GET)/.test(l))).toEqual([`PATCH 0-${t.data.length - 1} 416`, 'GET 0', `PATCH 0-${t.data.length - 1}`]);
    expect(t.progress()).toBe(t.data.length);
  });

  it('answers a 401 during an upload with a fresh token and sends the chunk again', async () => {
    const t = await setup();
    t.fake.onPatch = (n) => (n === 0 ? '401' : undefined);
    await t.push();
    expect(t.fake.blobs.get(t.digest)?.equals(t.data)).toBe(true);
    expect(t.fake.tokensIssued).toBe(2);
    expect(t.fake.log.filter((l) => l.startsWith('PATCH'))).toEqual([`PATCH 0-${t.data.length - 1} 401`, `PATCH 0-${t.data.length - 1}`]);
    // The bytes of the refused request are not counted twice.
    expect(t.progress()).toBe(t.data.length);
  });

  it('fetches a new bearer token once the old one reaches its expires_in, without a 401', async () => {
    const t = await setup(1000);
    t.fake.tokenSeconds = 1;
    await t.client.ping();
    await t.client.ping();
    expect(t.fake.tokensIssued).toBe(1); // cached while valid
    await new Promise((r) => setTimeout(r, 1100));
    const before = t.fake.log.filter((l) => l.startsWith('401')).length;
    await t.client.ping();
    expect(t.fake.tokensIssued).toBe(2);
    expect(t.fake.log.filter((l) => l.startsWith('401')).length).toBe(before);
  });
});
