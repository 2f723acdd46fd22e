import { MegapakError } from '../util/errors.ts';
import { responseError, type FileRange, type RegistryHttp } from './http.ts';
import type { ImageRef } from './reference.ts';
import { RetryableError, withRetry, type RetryPolicy } from './retry.ts';

/** The registry hashed the uploaded bytes and they are not the digest's (HTTP 400 on completing the upload). */
export class DigestRejectedError extends MegapakError {}

export type BlobSource = { file: string } | { data: Buffer };

export interface UploadTuning {
  /** Blobs up to this size go in one PUT; larger ones in streamed PATCHes that can resume. */
  wholeBlobMax: number;
  /**
   * Bytes per PATCH: the whole blob by default (fewest round trips); a limit helps with
   * registries or proxies that cap request bodies.
   */
  chunkSize: number;
}

export const DEFAULT_TUNING: UploadTuning = { wholeBlobMax: 32 << 20, chunkSize: Number.MAX_SAFE_INTEGER };

const withQuery = (location: string, key: string, value: string) => `${location}${location.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;

/** The OCI distribution API for one repository. */
export class RegistryClient {
  readonly tuning: UploadTuning;

  constructor(
    readonly ref: ImageRef,
    readonly http: RegistryHttp,
    tuning: Partial<UploadTuning> = {},
  ) {
    this.tuning = { wholeBlobMax: tuning.wholeBlobMax ?? DEFAULT_TUNING.wholeBlobMax, chunkSize: tuning.chunkSize ?? DEFAULT_TUNING.chunkSize };
  }

  private scopes(from?: string): string[] {
    const own = `repository:${this.ref.repository}:pull,push`;
    return from ? [own, `repository:${from}:pull`] : [own];
  }

  private absolute(location: string | null, what: string): string {
    if (!location) throw new MegapakError(`${this.ref.registry}: ${what} gave no Location`);
    return new URL(location, this.http.base).toString();
  }

  async ping(): Promise<void> {
    const res = await this.http.request({ method: 'GET', url: '/v2/', scopes: this.scopes() });
    await res.body?.cancel();
    if (res.status !== 200) throw await responseError(`${this.ref.registry} does not answer the OCI distribution API at ${this.http.base}/v2/`, res);
  }

  /** The blob's size if the repository has it. */
  async blobSize(digest: string): Promise<number | undefined> {
    const res = await this.http.request({ method: 'HEAD', url: `/v2/${this.ref.repository}/blobs/${digest}`, scopes: this.scopes() });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await responseError(`HEAD blob ${digest} in ${this.ref.repository}`, res);
    return Number(res.headers.get('content-length') ?? -1);
  }

  /** Start an upload session; with `mountFrom`, ask for a cross-repository mount first. */
  async startUpload(digest: string, mountFrom?: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const q = mountFrom ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : '';
    const res = await this.http.request({
      method: 'POST',
      url: `/v2/${this.ref.repository}/blobs/uploads/${q}`,
      headers: { 'content-length': '0' },
      scopes: this.scopes(mountFrom),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status === 201 && mountFrom) {
      this.checkDigest(digest, res);
      return { mounted: true };
    }
    if (res.status !== 202) throw await responseError(`starting an upload to ${this.ref.repository}`, res);
    return { mounted: false, location: this.absolute(res.headers.get('location'), 'starting an upload') };
  }

  private checkDigest(digest: string, res: Response): void {
    const reported = res.headers.get('docker-content-digest');
    if (reported && reported !== digest) throw new MegapakError(`${this.ref.registry} reports digest ${reported} for the blob pushed as ${digest}; no manifest was pushed`);
  }

  /** One request carrying bytes [start, end) of the blob; not retried here (the upload loops resume). */
  private send(method: string, url: string, headers: Record<string, string>, src: BlobSource, start: number, end: number, onBytes: (n: number) => void): Promise<Response> {
    const all = { 'content-type': 'application/octet-stream', 'content-length': String(end - start), ...headers };
    if ('file' in src) {
      const body: FileRange = { file: src.file, start, end, onBytes };
      return this.http.request({ method, url, headers: all, body, scopes: this.scopes(), retry: false });
    }
    onBytes(end - start);
    return this.http.request({ method, url, headers: all, body: () => src.data.subarray(start, end), scopes: this.scopes(), retry: false });
  }

  private async finish(location: string, digest: string, body?: { src: BlobSource; size: number; onBytes: (n: number) => void }): Promise<void> {
    const url = withQuery(location, 'digest', digest);
    const res = body
      ? await this.send('PUT', url, {}, body.src, 0, body.size, body.onBytes)
      : await this.http.request({ method: 'PUT', url, headers: { 'content-type': 'application/octet-stream', 'content-length': '0' }, scopes: this.scopes() });
    await res.body?.cancel().catch(() => {});
    if (res.status === 400) throw new DigestRejectedError(`${this.ref.registry} rejected blob ${digest}: its content does not match the digest; no manifest was pushed`);
    if (res.status >= 500) throw new RetryableError(`completing the upload of ${digest}: HTTP ${res.status}`);
    if (res.status !== 201) throw await responseError(`completing the upload of ${digest}`, res);
    this.checkDigest(digest, res);
  }

  /** Upload one blob into the session at `location`: whole when small, else in resumable chunks. */
  upload(location: string, digest: string, size: number, src: BlobSource, onBytes: (n: number) => void, policy: RetryPolicy): Promise<void> {
    return size <= this.tuning.wholeBlobMax ? this.uploadWhole(location, digest, size, src, onBytes, policy) : this.uploadChunked(location, digest, size, src, onBytes, policy);
  }

  /** One PUT with the whole blob; a failed one starts a fresh session. */
  private async uploadWhole(location: string, digest: string, size: number, src: BlobSource, onBytes: (n: number) => void, policy: RetryPolicy): Promise<void> {
    await withRetry(policy, async (attempt) => {
      if (attempt > 0) {
        const fresh = await this.startUpload(digest);
        if (fresh.mounted) return;
        location = fresh.location;
      }
      await this.finish(location, digest, { src, size, onBytes });
    });
  }

  /**
   * PATCH chunks. A chunk that fails (reset, 5xx, 416, registry restarting) is resumed from
   * the offset the registry reports, up to the retry budget per chunk; a lost session starts over.
   */
  private async uploadChunked(location: string, digest: string, size: number, src: BlobSource, onBytes: (n: number) => void, policy: RetryPolicy): Promise<void> {
    let offset = 0;
    // Bytes reported to the progress so far; a resume may take some back.
    let sent = 0;
    const count = (n: number) => {
      sent += n;
      onBytes(n);
    };
    while (offset < size) {
      await withRetry(policy, async (attempt) => {
        if (attempt > 0) {
          const resumed = await this.resumeOffset(location, digest);
          location = resumed.location;
          onBytes(resumed.offset - sent);
          sent = resumed.offset;
          offset = resumed.offset;
          if (offset >= size) return;
        }
        const end = Math.min(offset + this.tuning.chunkSize, size);
        const res = await this.send('PATCH', location, { 'content-range': `${offset}-${end - 1}` }, src, offset, end, count);
        await res.body?.cancel().catch(() => {});
        if (res.status !== 202) {
          if (res.status >= 500 || res.status === 416) throw new RetryableError(`PATCH answered HTTP ${res.status}`);
          throw await responseError(`uploading ${digest}`, res);
        }
        location = this.absolute(res.headers.get('location'), 'a chunk upload');
        offset = end;
      });
    }
    await this.finish(location, digest);
  }

  /** Where an interrupted upload stands: the registry's Range, or a fresh session at 0. */
  private async resumeOffset(location: string, digest: string): Promise<{ location: string; offset: number }> {
    try {
      const res = await this.http.request({ method: 'GET', url: location, scopes: this.scopes() });
      await res.body?.cancel().catch(() => {});
      if (res.status === 204) {
        const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
        return { location: this.absolute(res.headers.get('location') ?? location, 'upload status'), offset: range ? Number(range[1]) + 1 : 0 };
      }
    } catch {
      // the session is unknown or unreachable: start again below
    }
    const fresh = await this.startUpload(digest);
    if (fresh.mounted) throw new MegapakError('unexpected mount');
    return { location: fresh.location, offset: 0 };
  }

  async putManifest(reference: string, manifest: Buffer, mediaType: string, digest: string): Promise<void> {
    const res = await this.http.request({
      method: 'PUT',
      url: `/v2/${this.ref.repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType },
      body: () => manifest,
      scopes: this.scopes(),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 201) throw await responseError(`pushing the manifest to ${this.ref.registry}/${this.ref.repository}:${reference}`, res);
    this.checkDigest(digest, res);
  }
}
