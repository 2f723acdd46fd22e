// The SBOM formats megapak writes, each with the media type it travels under as a referrer.
import { CYCLONEDX_MEDIA_TYPE, renderCycloneDx } from './cyclonedx.ts';
import type { Inventory } from './inventory.ts';
import { renderSpdx, SPDX_MEDIA_TYPE } from './spdx.ts';

export const SBOM_FORMATS = ['cyclonedx', 'spdx'] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

export const SBOM_KINDS: Record<SbomFormat, { mediaType: string; title: string; render: (inv: Inventory) => string }> = {
  cyclonedx: { mediaType: CYCLONEDX_MEDIA_TYPE, title: 'sbom.cdx.json', render: renderCycloneDx },
  spdx: { mediaType: SPDX_MEDIA_TYPE, title: 'sbom.spdx.json', render: renderSpdx },
};
