#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { resolve } from 'node:path';
import { assembleImage, buildAllLayers, writeImageOutputs } from '../build/build-stack.ts';
import { buildLayer } from '../layer/build-layer.ts';
import { COMPRESSIONS } from '../layer/compression.ts';
import { requireNixTools } from '../nix/nix.ts';
import { findLayerAt } from '../stack/stack.ts';
import { MegapakError } from '../util/errors.ts';
import { BlobStore } from '../layer/blob-store.ts';
import { progressFor } from '../util/progress.ts';
import { compressionFrom, layerTable, setup } from './common.ts';

const stackOption = (dflt = 'the repository root') =>
  new Option('--stack <dir>', `the stack folder: nix/pkgs.nix and layers/NN-name/layer.nix (default: ${dflt})`);
const compressionOption = () =>
  new Option('--compression <kind>', 'layer blob compression (default: $MEGAPAK_COMPRESSION, else gzip)').choices(COMPRESSIONS);

const program = new Command('megapak')
  .description('Build a container image as Nix-closure layers in which every store path ships exactly once.')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    `
Environment:
  MEGAPAK_CACHE_DIR    the blob store (default: ~/.cache/megapak)
  MEGAPAK_COMPRESSION  default for --compression
  NIX_CONFIG           passed to Nix, e.g. 'substituters =' on a machine without network

Exit codes: 0 done, 1 build failed (the message names the layer), 2 bad usage or missing tool.`,
  );

program
  .command('build')
  .description('build every layer in order and write the image (an OCI layout by default); no Turborepo needed')
  .addOption(stackOption())
  .option('--oci <dir>', 'write an OCI image layout here (default: <stack>/out/oci)')
  .option('--docker-archive <file>', 'also write a `docker load` archive')
  .addOption(compressionOption())
  .action(async (o: { stack?: string; oci?: string; dockerArchive?: string; compression?: string }) => {
    const compression = compressionFrom(o.compression);
    const env = await setup(o.stack);
    requireNixTools();
    const started = performance.now();
    const { records, streamed } = await buildAllLayers(env.stack, { compression, blobs: env.blobs, progress: env.progress });
    const image = await assembleImage(env.stack, env);
    const oci = resolve(o.oci ?? resolve(env.stack.dir, 'out', 'oci'));
    await writeImageOutputs(image, env.blobs, { oci, dockerArchive: o.dockerArchive && resolve(o.dockerArchive) });
    console.log(layerTable(records, new Set(streamed)));
    console.log(`image ${image.ref.name}:${image.ref.tag} ${image.manifestDescriptor.digest}`);
    console.log(`oci layout: ${oci}${o.dockerArchive ? `\ndocker archive: ${resolve(o.dockerArchive)}` : ''}`);
    console.log(`${records.length} layers, ${streamed.length} streamed, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

program
  .command('layer')
  .description("build the layer whose folder is the working directory into its dist/layer.json (each layer package's `build`)")
  .addOption(stackOption('two folders up from the layer'))
  .addOption(compressionOption())
  .action(async (o: { stack?: string; compression?: string }) => {
    const compression = compressionFrom(o.compression);
    const { stack, layer } = await findLayerAt(process.cwd(), o.stack);
    requireNixTools();
    const started = performance.now();
    const r = await buildLayer(stack, layer, { compression, blobs: new BlobStore(), progress: progressFor() });
    console.log(layerTable([r.record], new Set(r.streamed ? [layer.name] : [])));
    console.log(`${layer.name} done in ${((performance.now() - started) / 1000).toFixed(2)} s${r.streamed ? '' : ' (no tar streamed)'}`);
  });

program
  .command('image')
  .description("assemble the image from the layers' dist/layer.json without building them (the `image` task)")
  .addOption(stackOption())
  .option('--oci <dir>', 'write an OCI image layout here (default: <stack>/out/oci)')
  .option('--docker-archive <file>', 'also write a `docker load` archive')
  .action(async (o: { stack?: string; oci?: string; dockerArchive?: string }) => {
    const env = await setup(o.stack);
    const image = await assembleImage(env.stack, env);
    const oci = resolve(o.oci ?? resolve(env.stack.dir, 'out', 'oci'));
    await writeImageOutputs(image, env.blobs, { oci, dockerArchive: o.dockerArchive && resolve(o.dockerArchive) });
    console.log(`image ${image.ref.name}:${image.ref.tag} ${image.manifestDescriptor.digest}\noci layout: ${oci}`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof MegapakError) {
    console.error(`megapak: ${err.message}`);
    process.exit(err.exitCode);
  }
  throw err;
}
