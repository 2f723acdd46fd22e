import { createSign, randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { run } from './cli.ts';
import { freePort, startProcess, type Server } from './servers.ts';

export interface RegistryOptions {
  /** Storage folder; reuse it to restart "the same" registry. */
  storage: string;
  port?: number;
  htpasswd?: { user: string; password: string };
  token?: { realm: string; service: string; issuer: string; certFile: string };
}

export interface Registry extends Server {
  host: string;
  opts: RegistryOptions;
  /** Access-log lines of requests whose method and path match. */
  requests: (method: string, pathPart?: string) => string[];
}

/** Debian's docker-registry (distribution v2) on 127.0.0.1, filesystem storage. */
export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  const port = opts.port ?? (await freePort());
  const dir = join(opts.storage, '..', `registry-config-${port}`);
  await mkdir(dir, { recursive: true });
  let auth = '';
  if (opts.htpasswd) {
    const file = join(dir, 'htpasswd');
    await writeFile(file, `${opts.htpasswd.user}:${bcrypt.hashSync(opts.htpasswd.password, 5)}\n`);
    auth = `auth:\n  htpasswd:\n    realm: megapak-test\n    path: ${file}\n`;
  } else if (opts.token) {
    auth = `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n    issuer: ${opts.token.issuer}\n    rootcertbundle: ${opts.token.certFile}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: ${opts.storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: megapak-test-secret\n${auth}`,
  );
  const server = await startProcess('docker-registry', ['serve', config], {}, port, '/v2/');
  return {
    ...server,
    host: `127.0.0.1:${port}`,
    opts: { ...opts, port },
    requests: (method, pathPart = '') =>
      server
        .log()
        .split('\n')
        .filter((l) => l.includes(`"${method} `) && l.includes(pathPart)),
  };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A small token service in front of the registry: checks Basic credentials, then signs a JWT
 * with a self-signed certificate the registry trusts (`rootcertbundle`), granting the asked scopes.
 * With `identityToken`, a POSTed OAuth2 refresh-token grant carrying it is accepted as well.
 */
export async function startTokenService(
  dir: string,
  user: string,
  password: string,
  opts: { identityToken?: string } = {},
): Promise<{
  url: string;
  refreshGrants: () => number;
  certFile: string;
  issuer: string;
  service: string;
  issued: () => number;
  stop: () => Promise<void>;
}> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  const r = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=megapak-test-token']);
  if (r.code !== 0) throw new Error(`openssl: ${r.stderr}`);
  const key = await readFile(keyFile, 'utf8');
  const certDer = Buffer.from((await readFile(certFile, 'utf8')).replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const issuer = 'megapak-test-issuer';
  const service = 'megapak-test-registry';
  let issued = 0;
  let refreshGrants = 0;
  const server: HttpServer = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let scopes = url.searchParams.getAll('scope');
    let ok: boolean;
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant, as Docker uses with an identity token.
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      ok = !!opts.identityToken && form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === opts.identityToken;
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (ok) refreshGrants++;
    } else {
      const authz = req.headers.authorization ?? '';
      const [u, p] = Buffer.from(authz.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      ok = u === user && p === password;
    }
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signingInput).sign(key);
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${signingInput}.${b64url(sig)}` }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/token`,
    certFile,
    issuer,
    service,
    issued: () => issued,
    refreshGrants: () => refreshGrants,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
