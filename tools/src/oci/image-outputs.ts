import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { BlobChecks } from '../layer/blob-check.ts';
import { withTempFile } from '../util/atomic.ts';
import { sinkOf } from '../util/write.ts';
import { writeDockerArchive } from './docker-archive.ts';
import type { ImageParts } from './image.ts';
import { writeOciLayout } from './oci-layout.ts';

/** Write the docker-archive to `file` via a temp file, so a failed write leaves nothing. */
export async function writeDockerArchiveFile(image: ImageParts, blobPathOf: (digest: string) => string, file: string): Promise<void> {
  const need = image.layers.reduce((n, l) => n + (l.layer.blob?.diffSize ?? 0), image.config.length);
  await withTempFile(
    file,
    async (tmp) => {
      const out = createWriteStream(tmp, { highWaterMark: 4 << 20 });
      out.on('error', () => {}); // a failed write (a full disk) fails the next write to the sink, which names it
      try {
        await writeDockerArchive(image, blobPathOf, sinkOf(out));
        out.end();
        await once(out, 'finish');
      } finally {
        out.destroy();
      }
    },
    undefined,
    need,
  );
}

export async function writeImageOutputs(
  image: ImageParts,
  blobPathOf: (digest: string) => string,
  out: { oci?: string; dockerArchive?: string },
  checks?: BlobChecks,
): Promise<void> {
  if (out.oci) await writeOciLayout(out.oci, image, blobPathOf, checks);
  if (out.dockerArchive) await writeDockerArchiveFile(image, blobPathOf, out.dockerArchive);
}
