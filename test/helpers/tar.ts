// Reading layer blobs back with an independent tar reader (tar-stream).
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';

export interface Header {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname: string;
  gname: string;
  linkname: string | null;
  size: number;
}

/** Every header of a (gzip) layer blob, read by tar-stream. */
export async function tarHeaders(blob: string): Promise<Header[]> {
  const headers: Header[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    headers.push({
      name: h.name,
      type: h.type ?? 'file',
      mode: h.mode ?? 0,
      uid: h.uid ?? -1,
      gid: h.gid ?? -1,
      mtime: (h.mtime?.getTime() ?? 0) / 1000,
      uname: h.uname ?? '',
      gname: h.gname ?? '',
      linkname: h.linkname ?? null,
      size: h.size ?? 0,
    });
    stream.on('end', next);
    stream.resume();
  });
  await pipeline(createReadStream(blob), createGunzip(), extract);
  return headers;
}
