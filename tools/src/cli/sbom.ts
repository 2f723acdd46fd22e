import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import type { LayerRecord } from '../model/vocabulary.ts';
import { evalRootsMeta, requireNixTools, type RootMeta } from '../nix/nix.ts';
import { composeImage, type ImageParts } from '../oci/image.ts';
import { composeReferrer, writeReferrersToLayout, type ReferrerParts } from '../oci/referrer.ts';
import { imageSpecOf } from '../pipeline/build-stack.ts';
import { formatRef, type ImageRef } from '../registry/reference.ts';
import { listReferrers, pushReferrers, type ReferrerPushOptions } from '../registry/referrers.ts';
import type { Inventory } from '../sbom/inventory.ts';
import { SBOM_FORMATS, SBOM_KINDS, type SbomFormat } from '../sbom/sbom.ts';
import type { Stack } from '../stack/stack.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { allRecords, setup } from './common.ts';

/**
 * The inventory of the image built from `records` (`meta`: the roots' nixpkgs meta when the
 * build already evaluated it; else one evaluation here); one warning line when store paths were absent.
 */
export async function imageInventory(stack: Stack, records: LayerRecord[], image: ImageParts, meta?: RootMeta[][]): Promise<Inventory> {
  meta ??= await evalRootsMeta(stack.dir, stack.layers);
  const created = (JSON.parse(image.config.toString()) as { created: string }).created;
  const { gatherInventory } = await import('../sbom/inventory.ts');
  const inv = await gatherInventory(records, { ...image.ref, digest: image.manifestDescriptor.digest, created }, meta);
  if (inv.unread.length)
    console.error(
      `warning: sbom: ${inv.unread.length} store paths are not in this store (first: ${inv.unread[0]}); listed from the records, their contents (Python distributions) not read`,
    );
  return inv;
}

/** Both SBOMs of the inventory's image as referrer artifacts whose subject is its manifest. */
async function referrersOf(inv: Inventory, image: ImageParts): Promise<ReferrerParts[]> {
  const out = [];
  for (const f of SBOM_FORMATS) {
    const { mediaType, title, render } = SBOM_KINDS[f];
    out.push(composeReferrer(image.manifestDescriptor, { artifactType: mediaType, data: Buffer.from(await render(inv)), title, created: inv.image.created }));
  }
  return out;
}

const failure = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** `build`/`image`: the SBOMs into the OCI layout beside the image. A failure is one warning: the image stands. */
export async function attachSbomToLayout(oci: string, stack: Stack, records: LayerRecord[], image: ImageParts, meta?: RootMeta[][]): Promise<void> {
  try {
    await writeReferrersToLayout(oci, image.manifestDescriptor, await referrersOf(await imageInventory(stack, records, image, meta), image));
    console.log(`sbom: CycloneDX and SPDX attached to ${image.manifestDescriptor.digest} in the layout`);
  } catch (err) {
    console.error(`warning: the SBOM was not written to the layout: ${failure(err)}`);
  }
}

/**
 * `push`, after the image manifest is in: the SBOMs as referrers. One made without reading
 * every store path (absent here) is not added beside an SBOM of the same format the image
 * already has in the registry. A failure is one warning: the image push stands.
 */
export async function pushSbom(ref: ImageRef, stack: Stack, records: LayerRecord[], image: ImageParts, opts: ReferrerPushOptions & { meta?: RootMeta[][] }): Promise<void> {
  try {
    const inv = await imageInventory(stack, records, image, opts.meta);
    let referrers = await referrersOf(inv, image);
    if (inv.unread.length) {
      const have = new Set((await listReferrers(ref, image.manifestDescriptor, opts)).map((m) => m.artifactType));
      referrers = referrers.filter((r) => !have.has(r.artifactType));
      if (!referrers.length)
        return console.log(`sbom: ${formatRef(ref)} already has both SBOMs of this image; these, made without ${inv.unread.length} absent store paths, were not added`);
    }
    const r = await pushReferrers(ref, image.manifestDescriptor, referrers, opts);
    console.log(
      `sbom: ${referrers.length === 2 ? 'CycloneDX and SPDX' : referrers.map((x) => x.artifactType).join(', ')} attached to ${formatRef(ref)} (${r.via}): ${r.manifests.join(', ')}`,
    );
  } catch (err) {
    console.error(`warning: the image is pushed, but its SBOM was not attached: ${failure(err)}`);
  }
}

export function registerSbomCommand(program: Command, stackOption: () => Option): void {
  program
    .command('sbom')
    .description('the SBOM of the built image: every store path it ships and every Python distribution inside them (CycloneDX 1.6 or SPDX 2.3 JSON)')
    .addOption(stackOption())
    .addOption(new Option('--format <format>', 'document format').choices(SBOM_FORMATS).default('cyclonedx'))
    .option('--output <file>', 'write the document here (default: standard output)')
    .addHelpText(
      'after',
      `
Reads the layers' dist/layer.json (build first: megapak build) and, for the layers' roots,
nixpkgs meta (licence, homepage, unfree) by one Nix evaluation. One component per shipped store
path: name and version as builtins.parseDrvName splits them, the NAR hash (SHA-256, hex), the
layer that ships it, its references as dependencies; each Python distribution found in a store
path (lib/python*/site-packages/*.dist-info/METADATA) as pkg:pypi/<name>@<version> inside it,
as the layer's record keeps them from its build (pythonDists): a runner with the records and none
of the store paths makes the same SBOM. Same image, same bytes: the serial number comes from the
image digest, the time from its created.

In a record of an older megapak (no pythonDists) a store path absent from this machine's store
is still listed, but its contents are not read: the component says so
(megapak:contents; SPDX: the package comment), the document counts such paths
(megapak:unread_store_paths; SPDX: creationInfo.comment), and one warning line names the first;
push does not add such an SBOM beside one of the same format the image already has.
megapak build, image and push attach both formats to the image (--no-sbom: not).`,
    )
    .action(async (o: { stack?: string; format: SbomFormat; output?: string }) => {
      const env = await setup(o.stack);
      const records = await allRecords(env.stack, 'sbom');
      requireNixTools();
      const image = composeImage(await imageSpecOf(env.stack, records));
      const text = await SBOM_KINDS[o.format].render(await imageInventory(env.stack, records, image));
      if (o.output) await writeFileAtomic(resolve(o.output), text);
      else process.stdout.write(text);
    });
}
