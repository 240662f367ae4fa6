// The port through which the HTTP layer learns where a client is; implemented by .mmdb files (Node) and request.cf (Workers).

import type { ClientFacts } from '../core/model.js';

/** What a locator can tell about an address; every field may be missing. */
export type Location = Omit<ClientFacts, 'ip' | 'https'>;

export interface Locator {
  /** Synchronous and cheap (hot path); unknown, private or malformed addresses give {}. Never throws. */
  lookup(ip: string): Location;
  /**
   * Changes whenever the data behind lookup() does (a replaced database file was reloaded), so
   * whoever memoises answers knows they are stale. Absent: the answers never change.
   */
  generation?(): number;
}

/** One kind of geography data in use, as /readyz states it. */
export interface GeoDataInfo {
  /** Who made the data and under which licence, or the configured file's database type. */
  source: string;
  /** When the data was built (ISO 8601): the .mmdb build epoch, or the release a CSV came in. */
  builtAt: string;
  /** When this process loaded it (ISO 8601); a replaced file is reloaded without a restart. */
  loadedAt: string;
  /** Why the last replacement could not be loaded; the data above is still in use. */
  reloadError?: string;
  /** The attribution the data's licence asks of pages that use it (DB-IP Lite, MaxMind GeoLite2); none for commercial data. */
  credit?: DataCredit;
}

/** A line of attribution: its words and the maker's site. */
export interface DataCredit {
  text: string;
  url: string;
}

export const DBIP_CREDIT: DataCredit = { text: 'IP geolocation by DB-IP', url: 'https://db-ip.com' };
export const GEOLITE2_CREDIT: DataCredit = { text: 'This product includes GeoLite2 data created by MaxMind', url: 'https://www.maxmind.com' };

/** The credit a database type (an .mmdb's metadata) calls for: GeoLite2 and DB-IP's free data ask for one. */
export function creditFor(databaseType: string): DataCredit | undefined {
  if (/geolite/i.test(databaseType)) return GEOLITE2_CREDIT;
  if (/db-?ip/i.test(databaseType)) return DBIP_CREDIT;
  return undefined;
}

/** The credits of the data in use, once each, city data first: what a page built from it shows. */
export function dataCredits(info: GeoInfo | undefined): DataCredit[] {
  const out: DataCredit[] = [];
  for (const credit of [info?.city?.credit, info?.asn?.credit]) {
    if (credit && !out.some((c) => c.url === credit.url)) out.push(credit);
  }
  return out;
}

/** The geography data behind a locator: city (country, continent, position) and ASN. */
export interface GeoInfo {
  city?: GeoDataInfo;
  asn?: GeoDataInfo;
}
