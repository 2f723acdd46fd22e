import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MegapakError } from '../util/errors.ts';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages (never the secret itself). */
  source: string;
}

function dockerConfigAuth(registry: string): Credentials | undefined {
  const file = join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  if (!existsSync(file)) return undefined;
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MegapakError(`${file} is not valid JSON`);
  }
  const keys = registry === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [registry, `https://${registry}`, `http://${registry}`];
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password, source: `${file} (auths.${key})` };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1), source: `${file} (auths.${key})` };
    }
  }
  return undefined;
}

/**
 * Credentials for a registry: MEGAPAK_REGISTRY_USER/PASSWORD first, then the Docker config's
 * `auths`, then GITHUB_TOKEN for ghcr.io. None means anonymous.
 */
export function findCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (env.MEGAPAK_REGISTRY_USER && env.MEGAPAK_REGISTRY_PASSWORD)
    return { username: env.MEGAPAK_REGISTRY_USER, password: env.MEGAPAK_REGISTRY_PASSWORD, source: 'MEGAPAK_REGISTRY_USER/PASSWORD' };
  const fromDocker = dockerConfigAuth(registry);
  if (fromDocker) return fromDocker;
  if (registry === 'ghcr.io' && env.GITHUB_TOKEN)
    return { username: env.GITHUB_ACTOR || 'megapak', password: env.GITHUB_TOKEN, source: 'GITHUB_TOKEN' };
  return undefined;
}
