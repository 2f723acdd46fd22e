import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCredentials } from './credentials.ts';

const dockerConfig = (auths: object) => {
  const dir = mkdtempSync(join(tmpdir(), 'megapak-docker-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths }));
  return dir;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('findCredentials', () => {
  it('takes MEGAPAK_REGISTRY_USER/PASSWORD first, then the Docker config, then GITHUB_TOKEN for ghcr.io', async () => {
    const DOCKER_CONFIG = dockerConfig({ 'ghcr.io': { auth: b64('docker-user:docker-pass') } });
    const all = { DOCKER_CONFIG, MEGAPAK_REGISTRY_USER: 'env-user', MEGAPAK_REGISTRY_PASSWORD: 'env-pass', GITHUB_TOKEN: 'gh' };
    expect(await findCredentials('ghcr.io', all)).toMatchObject({ username: 'env-user', password: 'env-pass', source: 'MEGAPAK_REGISTRY_USER/PASSWORD' });
    expect(await findCredentials('ghcr.io', { DOCKER_CONFIG, GITHUB_TOKEN: 'gh' })).toMatchObject({ username: 'docker-user', password: 'docker-pass' });
    const empty = dockerConfig({});
    expect(await findCredentials('ghcr.io', { DOCKER_CONFIG: empty, GITHUB_TOKEN: 'gh', GITHUB_ACTOR: 'me' })).toMatchObject({
      username: 'me',
      password: 'gh',
      source: 'GITHUB_TOKEN',
    });
    expect(await findCredentials('quay.io', { DOCKER_CONFIG: empty, GITHUB_TOKEN: 'gh' })).toBeUndefined();
  });

  it('reads username/password entries and Docker Hub aliases; a malformed config is one line naming it', async () => {
    const DOCKER_CONFIG = dockerConfig({ 'https://index.docker.io/v1/': { username: 'hub', password: 'p' } });
    expect(await findCredentials('docker.io', { DOCKER_CONFIG })).toMatchObject({ username: 'hub', password: 'p' });
    const bad = mkdtempSync(join(tmpdir(), 'megapak-docker-'));
    writeFileSync(join(bad, 'config.json'), '{ not json');
    await expect(findCredentials('x.io', { DOCKER_CONFIG: bad })).rejects.toThrow(new RegExp(`^${join(bad, 'config.json')} is not valid JSON`));
  });
});
