// The SBOM formats megapak writes, each with the media type it travels under as a referrer.
// The renderers (and the CycloneDX library, licence lists, purl code behind them) load only
// when a document is made: every megapak process starts, a layer build among them, without them.
import type { Inventory } from './inventory.ts';

export const SBOM_FORMATS = ['cyclonedx', 'spdx'] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

export const SBOM_KINDS: Record<SbomFormat, { mediaType: string; title: string; render: (inv: Inventory) => Promise<string> }> = {
  cyclonedx: { mediaType: 'application/vnd.cyclonedx+json', title: 'sbom.cdx.json', render: async (inv) => (await import('./cyclonedx.ts')).renderCycloneDx(inv) },
  spdx: { mediaType: 'application/spdx+json', title: 'sbom.spdx.json', render: async (inv) => (await import('./spdx.ts')).renderSpdx(inv) },
};
