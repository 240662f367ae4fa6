import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/control/tokens.js';
import { EDGE_PLACE_HEADER, EDGE_TOKEN_HEADER, edgePlaceOf, edgePlaceValue } from '../../src/http/edgePlace.js';

const principals: Record<string, Principal> = {
  'edge-token': { name: 'edge', role: 'edge', mirrors: [], ref: 'config:edge' },
  'staff-token': { name: 'staff', role: 'staff', mirrors: [], ref: 'config:staff' },
  'provider-token': { name: 'p', role: 'provider', mirrors: ['m'], ref: 'config:p' },
};

async function placeFor(headers: Record<string, string>): Promise<unknown> {
  const app = new Hono();
  app.get('/', (c) => c.json(edgePlaceOf(c, (t) => principals[t]) ?? null));
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
