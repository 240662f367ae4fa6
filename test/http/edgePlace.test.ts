import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { placelessLocator } from '../../src/geo/cfLocator.js';
import { createTrustedProxies } from '../../src/geo/clientAddress.js';
import { EDGE_PLACE_HEADER, EDGE_TOKEN_HEADER, edgePlaceOf, edgePlaceValue } from '../../src/http/edgePlace.js';
import { wrongTokenLimit } from '../../src/http/guards.js';
import type { AccessToken, AppEnv, AppServices } from '../../src/http/services.js';

const tokens: AccessToken[] = [
  { token: 'edge-token', role: 'edge', name: 'edge', mirrors: [] },
  { token: 'staff-token', role: 'staff', name: 'staff', mirrors: [] },
  { token: 'provider-token', role: 'provider', name: 'p', mirrors: ['m'] },
];

/** What the place header reads as behind the wrong-token limit, which vouches for the token beside it (or not). */
async function placeFor(headers: Record<string, string>): Promise<unknown> {
  const services = {
    tokens,
    locator: placelessLocator,
    trustedProxies: createTrustedProxies([]),
    connection: () => ({ peer: '192.0.2.1', https: false }),
    requestPlace: edgePlaceOf,
  } as unknown as AppServices;
  const app = new Hono<AppEnv>();
  app.use('*', wrongTokenLimit(services));
  app.get('/', (c) => c.json(edgePlaceOf(c) ?? null));
  return (await app.request('/', { headers })).json();
}

describe('the place an edge sends with a request it passes on', () => {
  const tokyo = { country: 'JP', continent: 'AS' as const, lat: 35.69, lon: 139.69, asn: 2516 };

  it('reads back what the edge wrote, beside an edge or staff token only', async () => {
    const value = edgePlaceValue(tokyo);
    expect(await placeFor({ [EDGE_PLACE_HEADER]: value, [EDGE_TOKEN_HEADER]: 'edge-token' })).toEqual(tokyo);
    expect(await placeFor({ [EDGE_PLACE_HEADER]: value, [EDGE_TOKEN_HEADER]: 'staff-token' })).toEqual(tokyo);
    expect(await placeFor({ [EDGE_PLACE_HEADER]: value, [EDGE_TOKEN_HEADER]: 'provider-token' })).toBeNull();
    expect(await placeFor({ [EDGE_PLACE_HEADER]: value, [EDGE_TOKEN_HEADER]: 'guess' })).toBeNull();
    expect(await placeFor({ [EDGE_PLACE_HEADER]: value })).toBeNull();
  });

  it('takes nothing it cannot read, and checks the fields as request.cf is checked', async () => {
    const withToken = (v: string) => placeFor({ [EDGE_PLACE_HEADER]: v, [EDGE_TOKEN_HEADER]: 'edge-token' });
    for (const bad of ['', 'not json', '[]', 'null', '"JP"', '{'.repeat(600)]) expect(await withToken(bad), bad).toBeNull();
    expect(await withToken('{"country":"ZZ","latitude":"999","longitude":"0","asn":-1}')).toEqual({});
    expect(await withToken('{"country":"fr"}')).toMatchObject({ country: 'FR', continent: 'EU' });
  });
});
