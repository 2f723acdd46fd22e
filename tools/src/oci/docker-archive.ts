import { decompressFile } from '../model/compression.ts';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../layer/tar-header.ts';
import { MegapakError } from '../util/errors.ts';
import type { ByteSink } from '../util/write.ts';
import type { ImageParts } from './image.ts';

const hex = (d: string) => d.replace(/^sha256:/, '');

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
  for (const { layer } of image.layers) {
    const { blob } = layer;
    const dir = hex(blob.diffId);
    const name = `${dir}/layer.tar`;
    layerNames.push(name);
    await sink.write(encodeHeader({ name: dir, type: 'dir', mode: 0o755, size: 0 }));
    await sink.write(encodeHeader({ name, type: 'file', mode: 0o644, size: blob.diffSize }));
    let written = 0;
    for await (const chunk of decompressFile(blob.compression, blobPathOf(blob.digest))) {
      written += (chunk as Buffer).length;
      await sink.write(chunk as Buffer);
    }
    if (written !== blob.diffSize) throw new MegapakError(`${layer.name}: blob ${blob.digest} holds ${written} tar bytes, its record says ${blob.diffSize}`);
    await sink.write(Buffer.alloc(padding(written)));
  }
  await entry(sink, configName, image.config);
  const manifest = [{ Config: configName, RepoTags: [`${image.ref.name}:${image.ref.tag}`], Layers: layerNames }];
  await entry(sink, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
  await sink.write(END_OF_ARCHIVE);
}
