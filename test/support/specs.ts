// One builder for the MirrorSpec a test needs: a plain German mirror carrying everything, with the fields a test cares about overridden.
import type { MirrorSpec } from '../../src/core/model.js';

export function mirrorSpec(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return {
    id,
    name: id,
    baseUrl: `https://${id}.example/`,
    country: 'DE',
    asn: [],
    weight: 100,
    countryOnly: false,
    enabled: true,
    content: { include: ['**'], exclude: [] },
    ...over,
  };
}
