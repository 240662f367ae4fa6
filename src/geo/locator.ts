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
}

/** The geography data behind a locator: city (country, continent, position) and ASN. */
export interface GeoInfo {
  city?: GeoDataInfo;
  asn?: GeoDataInfo;
}
