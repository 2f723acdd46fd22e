import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../util/json-file.ts';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages (never the secret itself). */
  source: string;
}

const dockerConfigSchema = z.object({
  auths: z.record(z.string(), z.object({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional() }).passthrough()).optional(),
});

async function dockerConfigAuth(registry: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const file = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  if (!existsSync(file)) return undefined;
  const config = await readJsonFile(file, dockerConfigSchema);
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
export async function findCredentials(registry: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  if (env.MEGAPAK_REGISTRY_USER && env.MEGAPAK_REGISTRY_PASSWORD)
    return { username: env.MEGAPAK_REGISTRY_USER, password: env.MEGAPAK_REGISTRY_PASSWORD, source: 'MEGAPAK_REGISTRY_USER/PASSWORD' };
  const fromDocker = await dockerConfigAuth(registry, env);
  if (fromDocker) return fromDocker;
  if (registry === 'ghcr.io' && env.GITHUB_TOKEN) return { username: env.GITHUB_ACTOR || 'megapak', password: env.GITHUB_TOKEN, source: 'GITHUB_TOKEN' };
  return undefined;
}
