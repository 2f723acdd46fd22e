import type { Command } from 'commander';
import { findCredentials } from '../registry/credentials.ts';
import { diffImages, diffText } from '../report/diff.ts';
import { openImageSource, storePathsIn } from '../report/image-source.ts';
import { tocsOf } from '../report/partial-pull.ts';
import { positiveInt } from './options.ts';
import { pushTuning } from './settings.ts';

/** `megapak diff OLD NEW`: what an update costs a puller, per logical layer. */
export function registerDiffCommand(program: Command): void {
  program
    .command('diff')
    .description('what going from OLD to NEW costs a puller: per logical layer the store paths added and removed, the parts changed and the bytes to download')
    .argument('<old>', 'an OCI image layout folder (DIR, or DIR:TAG), a docker-archive file, or a registry reference')
    .argument('<new>', 'the same kinds')
    .option(
      '--json',
      'print JSON: { old, new, downloadBytes, configBytes, partialDownloadBytes?, layers: [{ layer, oldParts, newParts, partsChanged, downloadBytes, partialDownloadBytes?, added, removed }] }',
    )
    .option('--plain-http', 'talk HTTP to registries (one on loopback)')
    .option('--retries <n>', 'retries per registry request', (v) => positiveInt('--retries', v, true), 5)
    .addHelpText(
      'after',
      `
downloadBytes is the sizes of NEW's blobs (layers and config) that OLD has by neither digest
nor diffID. Store paths come from reading the tars of the logical layers that changed (a
registry side downloads those blobs); layers whose blobs are all shared are not read.

partialDownloadBytes (when NEW has zstd:chunked or eStargz layers) is what a client with
partial pulls (podman, CRI-O) downloads: the config, each such layer's table of contents
and the compressed chunks of the files OLD's tables of contents lack (by file digest, then
chunk digest), and every other layer OLD lacks whole. Podman 5 also reads each zstd:chunked
layer's tar-split (a few bytes per file), not counted here.`,
    )
    .action(async (oldSpec: string, newSpec: string, o: { json?: boolean; plainHttp?: boolean; retries: number }) => {
      const opts = { plainHttp: !!o.plainHttp, retries: o.retries, backoffMs: pushTuning().backoffMs, credentials: (r: string) => findCredentials(r, process.env) };
      const [a, b] = [await openImageSource(oldSpec, opts), await openImageSource(newSpec, opts)];
      const d = await diffImages(a, b, async (src, l) => storePathsIn(await src.tar(l)), { old: await tocsOf(a), new: await tocsOf(b) });
      console.log(o.json ? JSON.stringify(d, null, 2) : diffText(d));
    });
}
