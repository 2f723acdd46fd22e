import { Readable } from 'node:stream';
import { INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE } from '../oci/image.ts';
import { MegapakError } from '../util/errors.ts';
import { RegistryHttp, responseError, type RegistryHttpOptions } from './http.ts';
import { formatRef, type ImageRef } from './reference.ts';

const MANIFEST_TYPES = [MANIFEST_MEDIA_TYPE, 'application/vnd.docker.distribution.manifest.v2+json', INDEX_MEDIA_TYPE, 'application/vnd.docker.distribution.manifest.list.v2+json'];

interface IndexJson {
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

/** Read-only access to one image in a registry: its manifest (linux/amd64 from an index), and blobs as streams. */
export class RegistryReader {
  private readonly http: RegistryHttp;
  constructor(
    readonly ref: ImageRef,
    opts: Omit<RegistryHttpOptions, 'registry' | 'apiHost'>,
  ) {
    this.http = new RegistryHttp({ ...opts, registry: ref.registry, apiHost: ref.apiHost });
  }

  private get scopes() {
    return [`repository:${this.ref.repository}:pull`];
  }

  private async get(url: string, accept?: string, range?: string): Promise<Response> {
    const res = await this.http.request({ method: 'GET', url, headers: { ...(accept ? { accept } : {}), ...(range ? { range } : {}) }, scopes: this.scopes });
    if (res.status !== (range ? 206 : 200)) throw await responseError(`${formatRef(this.ref)}: GET ${url}${range ? ` (${range})` : ''}`, res);
    return res;
  }

  /** The image manifest (JSON) and its digest; from an index, the linux/amd64 entry. */
  async manifest(): Promise<{ manifest: unknown; digest: string }> {
    let reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    for (let hop = 0; hop < 2; hop++) {
      const res = await this.get(`/v2/${this.ref.repository}/manifests/${reference}`, MANIFEST_TYPES.join(', '));
      const body = (await res.json()) as IndexJson & { mediaType?: string; layers?: unknown };
      if (!body.manifests) return { manifest: body, digest: res.headers.get('docker-content-digest') ?? reference };
      const pick = body.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? body.manifests[0];
      if (!pick) break;
      reference = pick.digest;
    }
    throw new MegapakError(`${formatRef(this.ref)}: no image manifest for linux/amd64`);
  }

  async blobJson(digest: string): Promise<unknown> {
    return (await this.get(`/v2/${this.ref.repository}/blobs/${digest}`)).json();
  }

  /** `length` bytes of a blob from `offset`, by an HTTP range request (how a partial pull reads a table of contents). */
  async blobRange(digest: string, offset: number, length: number): Promise<Buffer> {
    const res = await this.get(`/v2/${this.ref.repository}/blobs/${digest}`, undefined, `bytes=${offset}-${offset + length - 1}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async blobStream(digest: string): Promise<Readable> {
    const res = await this.get(`/v2/${this.ref.repository}/blobs/${digest}`);
    return Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>);
  }
}
