import { MegapakError } from '../util/errors.ts';
import { responseError, RetryableError, sleep, streamUpload, type RegistryHttp } from './http.ts';
import type { ImageRef } from './reference.ts';

/** Blobs up to this size go in one PUT; larger ones in a streamed PATCH that can resume. */
export const MONOLITHIC_MAX = 32 << 20;

export type BlobSource = { file: string } | { data: Buffer };


const withQuery = (location: string, key: string, value: string) => `${location}${location.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;

/** The OCI distribution API for one repository. */
export class RegistryClient {
  constructor(
    readonly ref: ImageRef,
    readonly http: RegistryHttp,
    /**
     * Bytes per PATCH: the whole blob by default (fewest round trips); a limit helps with
     * registries or proxies that cap request bodies.
     */
    readonly chunkSize: number = Number.MAX_SAFE_INTEGER,
  ) {}

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
    if (reported && reported !== digest)
      throw new MegapakError(`${this.ref.registry} reports digest ${reported} for the blob pushed as ${digest}; no manifest was pushed`);
  }

  /** One request carrying bytes [start, end) of the blob. */
  private send(method: string, url: string, headers: Record<string, string>, src: BlobSource, start: number, end: number, onBytes: (n: number) => void): Promise<Response> {
    const all = { 'content-type': 'application/octet-stream', 'content-length': String(end - start), ...headers };
    if ('file' in src) return streamUpload(this.http, { method, url, headers: all, scopes: this.scopes(), file: src.file, start, end, onBytes });
    onBytes(end - start);
    return this.http.request({ method, url, headers: all, body: () => src.data.subarray(start, end), scopes: this.scopes(), retry: false });
  }

  private async finish(location: string, digest: string, body?: { src: BlobSource; size: number; onBytes: (n: number) => void }): Promise<void> {
    const url = withQuery(location, 'digest', digest);
    const res = body
      ? await this.send('PUT', url, {}, body.src, 0, body.size, body.onBytes)
      : await this.http.request({ method: 'PUT', url, headers: { 'content-type': 'application/octet-stream', 'content-length': '0' }, scopes: this.scopes() });
    await res.body?.cancel().catch(() => {});
    if (res.status === 400) throw new MegapakError(`${this.ref.registry} rejected blob ${digest}: its content does not match the digest; no manifest was pushed`);
    if (res.status >= 500) throw new RetryableError(`completing the upload of ${digest}: HTTP ${res.status}`);
    if (res.status !== 201) throw await responseError(`completing the upload of ${digest}`, res);
    this.checkDigest(digest, res);
  }

  /**
   * Upload one blob: a single PUT when small, else PATCH chunks. A chunk that fails (reset,
   * 5xx, registry restarting) is resumed from the offset the registry reports, up to the retry
   * budget; a lost session starts over.
   */
  async upload(location: string, digest: string, size: number, src: BlobSource, onBytes: (n: number) => void, retries: number, backoffMs: number): Promise<void> {
    if (size <= MONOLITHIC_MAX) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.finish(location, digest, { src, size, onBytes });
        } catch (err) {
          if (!(err instanceof RetryableError) || attempt >= retries) throw err;
          await sleep(backoffMs * 2 ** attempt);
          const fresh = await this.startUpload(digest);
          if (fresh.mounted) return;
          location = fresh.location;
        }
      }
    }
    let offset = 0;
    let failures = 0;
    // Bytes reported to the progress so far; a resume may take some back.
    let sent = 0;
    const count = (n: number) => {
      sent += n;
      onBytes(n);
    };
    while (offset < size) {
      const end = Math.min(offset + this.chunkSize, size);
      try {
        const res = await this.send('PATCH', location, { 'content-range': `${offset}-${end - 1}` }, src, offset, end, count);
        await res.body?.cancel().catch(() => {});
        if (res.status !== 202) {
          if (res.status >= 500 || res.status === 416) throw new RetryableError(`PATCH answered HTTP ${res.status}`);
          throw await responseError(`uploading ${digest}`, res);
        }
        location = this.absolute(res.headers.get('location'), 'a chunk upload');
        offset = end;
        failures = 0;
      } catch (err) {
        if (!(err instanceof RetryableError) || ++failures > retries) throw err;
        await sleep(backoffMs * 2 ** (failures - 1));
        const resumed = await this.resumeOffset(location, digest);
        location = resumed.location;
        onBytes(resumed.offset - sent);
        sent = resumed.offset;
        offset = resumed.offset;
      }
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
