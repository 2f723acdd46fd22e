import { createReadStream } from 'node:fs';
import * as httpPlain from 'node:http';
import * as https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MegapakError } from '../util/errors.ts';
import { parseChallenge, type Challenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';
import { RetryableError, withRetry, type RetryPolicy } from './retry.ts';

export class RegistryAuthError extends MegapakError {}

export interface RegistryHttpOptions extends RetryPolicy {
  registry: string;
  apiHost: string;
  plainHttp: boolean;
  credentials?: Credentials;
  /**
   * A request that moves no byte for this long (a stalled registry or proxy) is dropped and
   * retried like a reset: a blob upload resumes; a small request must finish within it.
   */
  idleTimeoutMs?: number;
}

/** What a stalled exchange waits before it counts as a dropped connection (MEGAPAK_REGISTRY_IDLE_S). */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Bytes [start, end) of a file as a request body, streamed with backpressure. */
export interface FileRange {
  file: string;
  start: number;
  /** Exclusive. */
  end: number;
  onBytes: (n: number) => void;
}

export interface RequestOptions {
  method: string;
  /** Path under the registry (`/v2/...`) or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string>;
  /** A factory (a retry sends the body afresh), or a file range. */
  body?: (() => Buffer) | FileRange;
  /** Token scopes this request needs (`repository:org/x:pull,push`). */
  scopes: string[];
  /** Retry on 5xx/429/network errors (off for blob bodies: the upload loop resumes those). */
  retry?: boolean;
}

export function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err as { name?: string })?.name === 'AbortError' || (err as { cause?: unknown })?.cause !== undefined;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? (err as { code?: string })?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

/** A 5xx/429 answer, kept so that the last one is returned to the caller when retries run out. */
class RetryableStatus extends RetryableError {
  constructor(readonly res: Response) {
    super(`HTTP ${res.status}`);
  }
}

/** A token is refreshed this long before the registry said it expires. */
const TOKEN_MARGIN_MS = 5_000;
/** What the token spec says a token lives when the service names no `expires_in`. */
const DEFAULT_TOKEN_SECONDS = 60;

/**
 * HTTP to one registry: answers auth challenges (Basic, or Bearer tokens per scope set from
 * the challenge's realm, cached until they expire), and retries with exponential backoff.
 * Every request, blob uploads included, goes through `request`. Credentials go only into
 * Authorization headers, never into messages.
 */
export class RegistryHttp {
  readonly base: string;
  private challenge?: Challenge;
  private tokens = new Map<string, { token: string; expiresAt: number }>();

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
    return c && !c.identityToken ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  /** An identity token is an OAuth2 refresh token: POSTed to the realm for an access token (as Docker does). */
  private tokenRequest(url: URL): RequestInit {
    const identityToken = this.opts.credentials?.identityToken;
    if (!identityToken) {
      const basic = this.basicHeader();
      return { headers: basic ? { authorization: basic } : {} };
    }
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: identityToken, client_id: 'megapak' });
    const service = url.searchParams.get('service');
    if (service) form.set('service', service);
    const scopes = url.searchParams.getAll('scope');
    if (scopes.length) form.set('scope', scopes.join(' '));
    return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
  }

  private async bearerToken(scopes: string[]): Promise<string> {
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new MegapakError(`${this.opts.registry} asked for a bearer token but named no realm`);
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    let res: Response;
    try {
      res = await fetch(url, { ...this.tokenRequest(url), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new MegapakError(`cannot reach the token service of ${this.opts.registry} at ${url.origin}${url.pathname}: ${describeNetworkError(err)}`);
    }
    if (res.status === 401 || res.status === 403) throw this.authFailed(res.status, 'the token service refused');
    if (!res.ok) throw new MegapakError(`the token service of ${this.opts.registry} answered HTTP ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new MegapakError(`the token service of ${this.opts.registry} returned no token`);
    const lifeMs = (body.expires_in ?? DEFAULT_TOKEN_SECONDS) * 1000;
    this.tokens.set(key, { token, expiresAt: Date.now() + lifeMs - Math.min(TOKEN_MARGIN_MS, lifeMs / 2) });
    return token;
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basicHeader();
    return `Bearer ${await this.bearerToken(scopes)}`;
  }

  /** One exchange; a dropped connection is a RetryableError naming the registry. */
  private async send(o: RequestOptions, url: string, auth: string | undefined): Promise<Response> {
    const headers = { ...o.headers, ...(auth ? { authorization: auth } : {}) };
    const fileBody = o.body && typeof o.body !== 'function' ? o.body : undefined;
    try {
      const idle = this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
      if (fileBody) return await sendFileRange(o.method, new URL(url), headers, fileBody, idle);
      return await fetch(url, {
        method: o.method,
        headers,
        body: (o.body as (() => Buffer) | undefined)?.() as Uint8Array<ArrayBuffer> | undefined,
        redirect: 'follow',
        signal: AbortSignal.timeout(idle),
      });
    } catch (err) {
      if (err instanceof MegapakError || (!fileBody && !isNetworkError(err))) throw err;
      throw new RetryableError(`cannot reach registry ${this.opts.registry} (${o.method} ${new URL(url).pathname}): ${describeNetworkError(err)}`);
    }
  }

  /**
   * Send with authorization. A 401 is answered once per request with a fresh challenge (and
   * fresh tokens: the one we held may have expired during a long upload); a second 401 means
   * the credentials, or the token they bought, are not good enough.
   */
  private async sendAuthorized(o: RequestOptions, url: string): Promise<Response> {
    for (let challenged = false; ; challenged = true) {
      // Bytes of a file body sent with a request that is answered 401 are taken back from
      // the progress before the body is sent again.
      let sent = 0;
      const body = o.body && typeof o.body !== 'function' ? { ...o.body, onBytes: (n: number) => ((sent += n), (o.body as FileRange).onBytes(n)) } : o.body;
      const res = await this.send({ ...o, body }, url, await this.authorization(o.scopes));
      if (res.status !== 401) return res;
      if (sent) (o.body as FileRange).onBytes(-sent);
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await res.body?.cancel();
      if (!challenge || challenged || (challenge.scheme === 'basic' && !this.basicHeader())) throw this.authFailed(401);
      this.challenge = challenge;
      this.tokens.clear();
    }
  }

  async request(o: RequestOptions): Promise<Response> {
    const url = o.url.startsWith('http') ? o.url : `${this.base}${o.url}`;
    const policy = { retries: o.retry === false ? 0 : this.opts.retries, backoffMs: this.opts.backoffMs };
    try {
      return await withRetry(policy, async () => {
        const res = await this.sendAuthorized(o, url);
        if (res.status >= 500 || res.status === 429) throw new RetryableStatus(res);
        return res;
      });
    } catch (err) {
      if (err instanceof RetryableStatus) return err.res; // out of retries: the caller reads the answer
      throw err;
    }
  }
}

/**
 * Send a file range as a request body with node:http, whose pipe honours backpressure
 * (undici's fetch buffered a whole blob in memory here).
 */
function sendFileRange(method: string, url: URL, headers: Record<string, string>, body: FileRange, idleMs: number): Promise<Response> {
  const mod = url.protocol === 'https:' ? https : httpPlain;
  return new Promise<Response>((resolve, reject) => {
    const req = mod.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (b: Buffer) => {
        if (kept < 1 << 16) chunks.push(b);
        kept += b.length;
      });
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve(new Response([204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    req.on('error', reject);
    // No byte either way for idleMs: the socket is dropped, which the upload loop resumes from.
    req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error(`no progress for ${idleMs / 1000} s`), { code: 'ETIMEDOUT' })));
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        body.onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    pipeline(createReadStream(body.file, { start: body.start, end: body.end - 1, highWaterMark: 1 << 20 }), counter, req).catch(reject);
  });
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
