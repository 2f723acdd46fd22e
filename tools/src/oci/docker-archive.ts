import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { LayerRecord } from '../layer/layer-record.ts';
import type { ByteSink } from '../layer/layer-tar.ts';
import { MegapakError } from '../util/errors.ts';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../layer/tar-header.ts';
import type { ImageParts } from './image.ts';

const hex = (d: string) => d.replace(/^sha256:/, '');

/** The uncompressed layer tar, decompressing the stored blob on the fly. */
function uncompressedLayer(record: LayerRecord, blobPath: string): Readable {
  const blob = createReadStream(blobPath, { highWaterMark: 4 << 20 });
  if (record.compression === 'none') return blob;
  if (record.compression === 'gzip') return blob.pipe(createGunzip());
  const z = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'inherit'] });
  blob.pipe(z.stdin);
  return z.stdout;
}

async function entry(sink: ByteSink, name: string, data: Buffer): Promise<void> {
  await sink.write(encodeHeader({ name, type: 'file', mode: 0o644, size: data.length }));
  await sink.write(data);
  await sink.write(Buffer.alloc(padding(data.length)));
}

/**
 * Stream the image as a `docker load` archive (manifest.json, config, one uncompressed
 * `<diffID>/layer.tar` per layer: the form every Docker version loads).
 */
export async function writeDockerArchive(image: ImageParts, blobPathOf: (digest: string) => string, sink: ByteSink): Promise<void> {
  const configName = `${hex(image.configDescriptor.digest)}.json`;
  const layerNames: string[] = [];
  for (const { record } of image.layers) {
    const dir = hex(record.diffId!);
    const name = `${dir}/layer.tar`;
    layerNames.push(name);
    await sink.write(encodeHeader({ name: dir, type: 'dir', mode: 0o755, size: 0 }));
    await sink.write(encodeHeader({ name, type: 'file', mode: 0o644, size: record.diffSize! }));
    let written = 0;
    for await (const chunk of uncompressedLayer(record, blobPathOf(record.digest!))) {
      written += (chunk as Buffer).length;
      await sink.write(chunk as Buffer);
    }
    if (written !== record.diffSize)
      throw new MegapakError(`${record.name}: blob ${record.digest} holds ${written} tar bytes, its record says ${record.diffSize}`);
    await sink.write(Buffer.alloc(padding(written)));
  }
  await entry(sink, configName, image.config);
  const manifest = [{ Config: configName, RepoTags: [`${image.ref.name}:${image.ref.tag}`], Layers: layerNames }];
  await entry(sink, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
  await sink.write(END_OF_ARCHIVE);
}
