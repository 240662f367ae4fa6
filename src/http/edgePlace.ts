// The client's place as the edge saw it (Workers' request.cf), carried on a request the edge passes to the
// control plane (folder lists, misses): so both rank mirrors for the same place. Honoured only beside the
// edge's own token, so a client cannot choose where it is placed.
import type { Context } from 'hono';
import { type CfGeo, placeFromCf } from '../geo/cfLocator.js';
import type { Location } from '../geo/locator.js';

export const EDGE_PLACE_HEADER = 'x-mirrorgate-edge-place';
export const EDGE_TOKEN_HEADER = 'x-mirrorgate-edge-token';

/**
 * Requests whose edge token the wrong-token limit (guards.ts) checked and found an edge's or staff's: the one
 * place a token beside a place is authenticated, and counted when wrong.
 */
export const edgePlaceVouched = new WeakSet<Request>();

/** The header value for a place: request.cf's own field names, which placeFromCf reads back. */
export function edgePlaceValue(place: Location): string {
  const cf: CfGeo = { country: place.country, continent: place.continent, latitude: place.lat, longitude: place.lon, asn: place.asn };
  return JSON.stringify(cf);
}

/**
 * The place an edge sent with this request, when the token beside it was vouched for; else undefined, and
 * the client's address is looked up as for any request.
 */
export function edgePlaceOf(c: Context): Location | undefined {
  const raw = c.req.header(EDGE_PLACE_HEADER);
  if (raw === undefined || raw.length > 512 || !edgePlaceVouched.has(c.req.raw)) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? placeFromCf(parsed as CfGeo) : undefined;
  } catch {
    return undefined;
  }
}
