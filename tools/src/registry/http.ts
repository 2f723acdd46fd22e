import { createReadStream } from 'node:fs';
import * as httpPlain from 'node:http';
import * as https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MegapakError } from '../util/errors.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';

export class RegistryAuthError extends MegapakError {}

/** A failure worth another try: the connection dropped or the registry answered 5xx. */
export class RetryableError extends MegapakError {}

export interface RegistryHttpOptions {
  registry: string;
  apiHost: string;
  plainHttp: boolean;
  credentials?: Credentials;
  /** Attempts after the first, for 5xx, 429 and dropped connections. */
  retries: number;
  /** First backoff in ms; doubles each retry. */
  backoffMs: number;
}

export interface RequestOptions {
  method: string;
  /** Path under the registry (`/v2/...`) or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string>;
  /** A factory, so a retry sends the body afresh (file bodies go through streamUpload). */
  body?: () => Buffer;
  /** Token scopes this request needs (`repository:org/x:pull,push`). */
  scopes: string[];
  /** Retry on 5xx/429/network errors (off for blob bodies: the upload loop resumes those). */
  retry?: boolean;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err as { name?: string })?.name === 'AbortError' || (err as { cause?: unknown })?.cause !== undefined;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

/**
 * HTTP to one registry: answers auth challenges (Basic, or Bearer tokens per scope set from
 * the challenge's realm), and retries with exponential backoff. Credentials go only into
 * Authorization headers, never into messages.
 */
export class RegistryHttp {
  readonly base: string;
  private challenge?: Challenge;
  private tokens = new Map<string, string>();

  constructor(readonly opts: RegistryHttpOptions) {
    this.base = `${opts.plainHttp ? 'http' : 'https'}://${opts.apiHost}`;
  }

  private authFailed(status: number, detail = ''): RegistryAuthError {
    const c = this.opts.credentials;
    const how = c
      ? `with the credentials from ${c.source}`
      : 'anonymously (no credentials found: set MEGAPAK_REGISTRY_USER and MEGAPAK_REGISTRY_PASSWORD, or log in with docker login)';
    return new RegistryAuthError(`authentication to ${this.opts.registry} failed (HTTP ${status}) ${how}${detail ? `: ${detail}` : ''}`);
  }

  private basicHeader(): string | undefined {
    const c = this.opts.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private async bearerToken(scopes: string[]): Promise<string> {
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new MegapakError(`${this.opts.registry} asked for a bearer token but named no realm`);
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const basic = this.basicHeader();
    let res: Response;
    try {
      res = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new MegapakError(`cannot reach the token service of ${this.opts.registry} at ${url.origin}${url.pathname}: ${describeNetworkError(err)}`);
    }
    if (res.status === 401 || res.status === 403) throw this.authFailed(res.status, 'the token service refused');
    if (!res.ok) throw new MegapakError(`the token service of ${this.opts.registry} answered HTTP ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new MegapakError(`the token service of ${this.opts.registry} returned no token`);
    this.tokens.set(key, token);
    return token;
  }

  async authHeader(scopes: string[]): Promise<string | undefined> {
    return this.authorization(scopes);
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basicHeader();
    return `Bearer ${await this.bearerToken(scopes)}`;
  }

  async request(o: RequestOptions): Promise<Response> {
    const url = o.url.startsWith('http') ? o.url : `${this.base}${o.url}`;
    const attempts = o.retry === false ? 1 : this.opts.retries + 1;
    let answeredChallenge = false;
    for (let attempt = 1; ; attempt++) {
      const auth = await this.authorization(o.scopes);
      let res: Response;
      try {
        res = await fetch(url, {
          method: o.method,
          headers: { ...o.headers, ...(auth ? { authorization: auth } : {}) },
          body: o.body?.() as Uint8Array<ArrayBuffer> | undefined,
          redirect: 'follow',
        });
      } catch (err) {
        if (!isNetworkError(err)) throw err;
        if (attempt >= attempts)
          throw new RetryableError(`cannot reach registry ${this.opts.registry} (${o.method} ${new URL(url).pathname}): ${describeNetworkError(err)}`);
        await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
        continue;
      }
      if (res.status === 401) {
        // Answer a challenge once per request; a second 401 means the credentials (or the
        // token they bought) are not good enough.
        const challenge = parseChallenge(res.headers.get('www-authenticate'));
        await res.body?.cancel();
        if (!challenge || answeredChallenge || (challenge.scheme === 'basic' && !this.opts.credentials)) throw this.authFailed(401);
        this.challenge = challenge;
        this.tokens.clear();
        answeredChallenge = true;
        attempt--;
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < attempts) {
        await res.body?.cancel();
        await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
        continue;
      }
      return res;
    }
  }
}

export interface StreamUpload {
  method: string;
  url: string;
  headers: Record<string, string>;
  scopes: string[];
  file: string;
  start: number;
  /** Exclusive. */
  end: number;
  onBytes: (n: number) => void;
}

/**
 * Send a file range as a request body with node:http, whose pipe honours backpressure
 * (undici's fetch buffered a whole blob in memory here). Not retried: the caller resumes.
 */
export async function streamUpload(http: RegistryHttp, u: StreamUpload): Promise<Response> {
  const auth = await http.authHeader(u.scopes);
  const url = new URL(u.url.startsWith('http') ? u.url : `${http.base}${u.url}`);
  const mod = url.protocol === 'https:' ? https : httpPlain;
  try {
    return await new Promise<Response>((resolve, reject) => {
      const req = mod.request(url, { method: u.method, headers: { ...u.headers, ...(auth ? { authorization: auth } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (b: Buffer) => {
          if (kept < 1 << 16) chunks.push(b);
          kept += b.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve(new Response([204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers }));
        });
      });
      req.on('error', reject);
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          u.onBytes(chunk.length);
          cb(null, chunk);
        },
      });
      pipeline(createReadStream(u.file, { start: u.start, end: u.end - 1, highWaterMark: 1 << 20 }), counter, req).catch(reject);
    });
  } catch (err) {
    if (err instanceof MegapakError) throw err;
    throw new RetryableError(`cannot reach registry ${http.opts.registry} (${u.method} ${url.pathname}): ${describeNetworkError(err)}`);
  }
}

/** A one-line description of a failed registry response, with the registry's own error text. */
export async function responseError(what: string, res: Response): Promise<MegapakError> {
  let detail = '';
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    // not JSON: the status says enough
  }
  return new MegapakError(`${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`);
}
