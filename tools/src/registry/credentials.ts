import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { MegapakError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (a helper's "<token>" user): traded at the token service, never sent as Basic. */
  identityToken?: string;
  /** Where they came from, for messages (never the secret itself). */
  source: string;
}

const dockerConfigSchema = z.object({
  auths: z
    .record(
      z.string(),
      z.object({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional(), identitytoken: z.string().optional() }).passthrough(),
    )
    .optional(),
  credsStore: z.string().optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
});
type DockerConfig = z.infer<typeof dockerConfigSchema>;

/** The keys Docker files a registry under (Docker Hub has its historical URL first). */
const configKeys = (registry: string) =>
  registry === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [registry, `https://${registry}`, `http://${registry}`];

function fromAuths(file: string, config: DockerConfig, registry: string): Credentials | undefined {
  for (const key of configKeys(registry)) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    const source = `${file} (auths.${key})`;
    if (entry.identitytoken) return { username: '', password: '', identityToken: entry.identitytoken, source };
    if (entry.username && entry.password) return { username: entry.username, password: entry.password, source };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1), source };
    }
  }
  return undefined;
}

const HELPER_TIMEOUT_MS = 30_000;

/**
 * `docker-credential-NAME get`: the server on stdin, `{Username, Secret}` on stdout. A helper
 * that has nothing for the server says "credentials not found" and exits non-zero: that is
 * "no credentials", not a failure. Its stdout is never quoted in a message (it may hold the secret).
 */
export async function askCredentialHelper(name: string, server: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const source = `the Docker credential helper ${program}`;
  const { code, stdout, stderr, failure } = await new Promise<{ code: number; stdout: string; stderr: string; failure?: string }>((resolve) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.stdin.on('error', () => {}); // a helper that exits without reading stdin
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout: '', stderr: '', failure: e.code === 'ENOENT' ? `'${program}' is not on PATH` : e.message });
    });
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      resolve({ code: c ?? -1, stdout, stderr, failure: signal ? `it did not answer within ${HELPER_TIMEOUT_MS / 1000} s` : undefined });
    });
    child.stdin.end(server);
  });
  if (failure) throw new MegapakError(`cannot get credentials for ${server} from ${source}: ${failure}`);
  if (code !== 0) {
    // docker-credential-helpers print their error on stdout; only the "not found" one is safe to match.
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    const why = stderr.trim().split('\n')[0]?.slice(0, 200);
    throw new MegapakError(`cannot get credentials for ${server} from ${source}: it exited ${code}${why ? ` (${why})` : ''}`);
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(stdout);
  } catch {
    throw new MegapakError(`cannot get credentials for ${server} from ${source}: its answer is not JSON`);
  }
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  const secret = typeof answer.Secret === 'string' ? answer.Secret : '';
  if (!secret) return undefined;
  if (username === '<token>') return { username: '', password: '', identityToken: secret, source };
  return { username, password: secret, source };
}

/**
 * Credentials for a registry: MEGAPAK_REGISTRY_USER/PASSWORD first; then the Docker config in
 * Docker's own order — `credHelpers[registry]`, else `credsStore`, else `auths` (a helper with
 * nothing for the registry falls through to `auths`); then GITHUB_TOKEN for ghcr.io. None
 * means anonymous.
 */
export async function findCredentials(registry: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  if (env.MEGAPAK_REGISTRY_USER && env.MEGAPAK_REGISTRY_PASSWORD)
    return { username: env.MEGAPAK_REGISTRY_USER, password: env.MEGAPAK_REGISTRY_PASSWORD, source: 'MEGAPAK_REGISTRY_USER/PASSWORD' };
  const file = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  if (existsSync(file)) {
    const config = await readJsonFile(file, dockerConfigSchema);
    const keys = configKeys(registry);
    const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
    const found = (helper ? await askCredentialHelper(helper, keys[0]!, env) : undefined) ?? fromAuths(file, config, registry);
    if (found) return found;
  }
  if (registry === 'ghcr.io' && env.GITHUB_TOKEN) return { username: env.GITHUB_ACTOR || 'megapak', password: env.GITHUB_TOKEN, source: 'GITHUB_TOKEN' };
  return undefined;
}
