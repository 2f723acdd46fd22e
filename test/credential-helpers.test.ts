// Docker credential helpers (`credsStore`, `credHelpers`): real helper programs on PATH, asked
// the way Docker asks them, against a registry with htpasswd and one behind a token service.
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCredentials } from '../tools/src/registry/credentials.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, tempDir } from './helpers/fixture.ts';
import { startRegistry, startTokenService } from './helpers/registry.ts';

const SECRET = 'helper-s3cret-pass';
const IDENTITY_TOKEN = 'identity-refresh-token-0123';

/**
 * A credential helper as a shell script: logs the server it was asked about, answers for the
 * servers in $MEGAPAK_TEST_HELPER_HOSTS, and otherwise says "credentials not found" like the
 * real ones do.
 */
async function writeHelper(bin: string, name: string, body: string): Promise<void> {
  const file = join(bin, `docker-credential-${name}`);
  await writeFile(file, `#!/bin/sh\n[ "$1" = get ] || exit 2\nserver=$(cat)\necho "${name} $server" >> "$MEGAPAK_TEST_HELPER_LOG"\n${body}\n`);
  await chmod(file, 0o755);
}

describe('Docker credential helpers', () => {
  let bin: string;
  let log: string;
  let stack: string;
  let cache: string;
  const baseEnv = () => ({ PATH: `${bin}:${process.env.PATH}`, MEGAPAK_TEST_HELPER_LOG: log, MEGAPAK_REGISTRY_USER: '', MEGAPAK_REGISTRY_PASSWORD: '' });
  const dockerConfig = async (config: unknown) => {
    const dir = await tempDir('docker-config');
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  };
  const asked = async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

  beforeAll(async () => {
    bin = await tempDir('cred-bin');
    log = join(bin, 'asked.log');
    await writeHelper(
      bin,
      'good',
      `case " $MEGAPAK_TEST_HELPER_HOSTS " in *" $server "*) printf '{"ServerURL":"%s","Username":"pak","Secret":"${SECRET}"}' "$server" ;; *) echo "credentials not found in native keychain"; exit 1 ;; esac`,
    );
    await writeHelper(bin, 'token', `printf '{"ServerURL":"%s","Username":"<token>","Secret":"${IDENTITY_TOKEN}"}' "$server"`);
    await writeHelper(bin, 'locked', `echo "the keychain is locked" >&2; exit 3`);
    await writeHelper(bin, 'garbled', `echo "not json ${SECRET}"`);
    stack = await copyFixtureStack();
    cache = await tempDir('cred-cache');
    await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: { MEGAPAK_CACHE_DIR: cache } });
  });

  it("follows Docker's order: credHelpers[host], then credsStore, then auths; the helper is asked with the host", async () => {
    const host = '127.0.0.1:5999';
    const auths = { [host]: { auth: Buffer.from('from-auths:auths-pass').toString('base64') } };
    const env = { ...baseEnv(), MEGAPAK_TEST_HELPER_HOSTS: host };

    // credHelpers for this host wins over a credsStore that would fail if asked.
    let c = await findCredentials(host, { ...env, DOCKER_CONFIG: await dockerConfig({ credsStore: 'locked', credHelpers: { [host]: 'good' }, auths }) });
    expect(c).toMatchObject({ username: 'pak', password: SECRET, source: 'the Docker credential helper docker-credential-good' });
    expect(await asked()).toEqual([`good ${host}`]);

    // credsStore is asked when no credHelpers entry names the host.
    c = await findCredentials(host, { ...env, DOCKER_CONFIG: await dockerConfig({ credsStore: 'good', credHelpers: { 'other.example': 'locked' }, auths }) });
    expect(c).toMatchObject({ username: 'pak', password: SECRET });

    // A helper with nothing for this host falls through to auths.
    c = await findCredentials(host, { ...env, MEGAPAK_TEST_HELPER_HOSTS: 'elsewhere:1', DOCKER_CONFIG: await dockerConfig({ credsStore: 'good', auths }) });
    expect(c).toMatchObject({ username: 'from-auths', password: 'auths-pass', source: expect.stringContaining(`auths.${host}`) });

    // Docker Hub is asked for under its historical server URL.
    await findCredentials('docker.io', { ...env, DOCKER_CONFIG: await dockerConfig({ credsStore: 'good' }) });
    expect((await asked()).at(-1)).toBe('good https://index.docker.io/v1/');

    // The environment variables still come first: no helper is run.
    const before = (await asked()).length;
    c = await findCredentials(host, { ...env, MEGAPAK_REGISTRY_USER: 'u', MEGAPAK_REGISTRY_PASSWORD: 'p', DOCKER_CONFIG: await dockerConfig({ credsStore: 'locked' }) });
    expect(c?.source).toBe('MEGAPAK_REGISTRY_USER/PASSWORD');
    expect(await asked()).toHaveLength(before);
  });

  it('a failing, garbled or missing helper is one line naming it, without the secret', async () => {
    const host = '127.0.0.1:5998';
    for (const [helper, expected] of [
      ['locked', `cannot get credentials for ${host} from the Docker credential helper docker-credential-locked: it exited 3 (the keychain is locked)`],
      ['garbled', `cannot get credentials for ${host} from the Docker credential helper docker-credential-garbled: its answer is not JSON`],
      ['absent', `cannot get credentials for ${host} from the Docker credential helper docker-credential-absent: 'docker-credential-absent' is not on PATH`],
    ] as const) {
      const r = await megapak(['push', '--stack', stack, '--plain-http', `${host}/megapak/x:y`], {
        env: { ...baseEnv(), MEGAPAK_CACHE_DIR: cache, DOCKER_CONFIG: await dockerConfig({ credsStore: helper }) },
      });
      expect(r.code, helper).toBe(1);
      expect(r.stderr.trim(), helper).toBe(`megapak: ${expected}`);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
    }
  });

  it('pushes to an htpasswd registry with credentials from credsStore; the secret is in no output and not in the cache', async () => {
    const reg = await startRegistry({ storage: join(await tempDir('cred-registry'), 'data'), htpasswd: { user: 'pak', password: SECRET } });
    try {
      const ref = `${reg.host}/megapak/helper:test`;
      const r = await megapakOk(['push', '--no-sbom', '--stack', stack, '--plain-http', ref], {
        env: { ...baseEnv(), MEGAPAK_CACHE_DIR: cache, MEGAPAK_TEST_HELPER_HOSTS: reg.host, DOCKER_CONFIG: await dockerConfig({ credsStore: 'good' }) },
      });
      expect(r.stdout).toMatch(/13 uploaded/);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(reg.requests('PUT', '/manifests/')).toHaveLength(1);
      expect(await filesContaining(cache, SECRET)).toEqual([]);
      const inspect = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', `pak:${SECRET}`, `docker://${ref}`]);
      expect(inspect.code).toBe(0);

      // Without the helper's answer the same push is anonymous and refused.
      const anon = await megapak(['push', '--stack', stack, '--plain-http', ref], {
        env: { ...baseEnv(), MEGAPAK_CACHE_DIR: cache, MEGAPAK_TEST_HELPER_HOSTS: 'elsewhere:1', DOCKER_CONFIG: await dockerConfig({ credsStore: 'good' }) },
      });
      expect(anon.code).toBe(1);
      expect(anon.stderr).toMatch(/failed \(HTTP 401\) anonymously/);
    } finally {
      await reg.stop();
    }
  });

  it('an identity token ("<token>" user) is traded at the token service as a refresh token, never sent as Basic', async () => {
    const token = await startTokenService(await tempDir('cred-token'), 'pak', 'basic-pass-unused', { identityToken: IDENTITY_TOKEN });
    const reg = await startRegistry({
      storage: join(await tempDir('cred-registry'), 'data'),
      token: { realm: token.url, service: token.service, issuer: token.issuer, certFile: token.certFile },
    });
    try {
      const r = await megapakOk(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/idtoken:test`], {
        env: { ...baseEnv(), MEGAPAK_CACHE_DIR: cache, DOCKER_CONFIG: await dockerConfig({ credHelpers: { [reg.host]: 'token' } }) },
      });
      expect(r.stdout).toMatch(/13 uploaded/);
      expect(token.refreshGrants()).toBeGreaterThan(0);
      expect(r.stdout + r.stderr).not.toContain(IDENTITY_TOKEN);
      expect(await filesContaining(cache, IDENTITY_TOKEN)).toEqual([]);
    } finally {
      await reg.stop();
      await token.stop();
    }
  });
});

/** Files under `dir` (small ones: everything but blobs) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    if ((await stat(p)).size > 64 << 20) continue;
    if ((await readFile(p)).includes(needle)) hits.push(p);
  }
  return hits;
}
