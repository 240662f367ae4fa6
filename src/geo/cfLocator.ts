// Workers locator: the client's place from Cloudflare's request.cf, mapped like the MaxMind locator maps its records.

import { countryInfo } from '../core/countries.js';
import type { Continent } from '../core/model.js';
import type { Location, Locator } from './locator.js';

/** The request.cf fields we read (Cloudflare sends latitude/longitude as strings, asn as a number). */
export interface CfGeo {
  country?: unknown;
  continent?: unknown;
  latitude?: unknown;
  longitude?: unknown;
  asn?: unknown;
}

const CONTINENTS = new Set<string>(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);

/**
 * Place from request.cf; undefined when there is no cf object at all (then the app asks the locator).
 * "XX" (unknown) and "T1" (Tor) are not countries; a country without coordinates gets its centroid,
 * exactly as maxmindLocator does, so both runtimes rank the same client the same way.
 */
export function placeFromCf(cf: CfGeo | undefined | null): Location | undefined {
  if (!cf || typeof cf !== 'object') return undefined;
  const out: Location = {};
  const country = typeof cf.country === 'string' ? cf.country.toUpperCase() : undefined;
  const info = country ? countryInfo(country) : undefined;
  if (country && info) out.country = country;
  if (typeof cf.continent === 'string' && CONTINENTS.has(cf.continent.toUpperCase())) {
    out.continent = cf.continent.toUpperCase() as Continent;
  }
  const lat = coordinate(cf.latitude, 90);
  const lon = coordinate(cf.longitude, 180);
  if (lat !== undefined && lon !== undefined) {
    out.lat = lat;
    out.lon = lon;
  }
  if (info) {
    out.continent ??= info.continent;
    if (out.lat === undefined) {
      out.lat = info.lat;
      out.lon = info.lon;
    }
  }
  const asn = typeof cf.asn === 'string' ? Number(cf.asn) : cf.asn;
  if (typeof asn === 'number' && Number.isInteger(asn) && asn > 0 && asn <= 4_294_967_295) out.asn = asn;
  return out;
}

function coordinate(value: unknown, limit: number): number | undefined {
  const n = typeof value === 'string' ? (value.trim() === '' ? Number.NaN : Number(value)) : typeof value === 'number' ? value : Number.NaN;
  return Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}

/**
 * The edge has no GeoIP database: an address alone locates nowhere (so staff's ?fromip= shows
 * the answer for an unplaced client). Real clients are placed by placeFromCf instead.
 */
export const placelessLocator: Locator = { lookup: () => ({}) };
