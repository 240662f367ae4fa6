import { beforeAll, describe, expect, it } from 'vitest';
import { countryInfo } from '../../src/core/countries.js';
import type { Locator } from '../../src/geo/locator.js';
import { bundledCityDatabase, openLocator } from '../../src/geo/maxmindLocator.js';
import { CLIENT_IPS, EUROPE_NO_COUNTRY_IP } from '../helpers/clientIps.js';

let locator: Locator;

beforeAll(async () => {
  locator = await openLocator({});
});

describe('openLocator with the bundled GeoLite2-City', () => {
  it('finds the bundled database', () => {
    expect(bundledCityDatabase()).toMatch(/GeoLite2-City\.mmdb$/);
  });

  it.each(Object.entries(CLIENT_IPS))('%s', (_key, c) => {
    expect(locator.lookup(c.ip)).toEqual({ country: c.country, continent: c.continent, lat: c.lat, lon: c.lon });
  });

  it('answers for IPv4-mapped and non-canonical spellings', () => {
    const de = CLIENT_IPS.DE;
    expect(locator.lookup(`::ffff:${de.ip}`)).toMatchObject({ country: 'DE' });
    expect(locator.lookup('2A00:1450:4001:0:0:0:0:1')).toMatchObject({ country: 'DE' });
  });

  it('keeps the continent when the database knows no country', () => {
    expect(locator.lookup(EUROPE_NO_COUNTRY_IP.ip)).toEqual({
      continent: EUROPE_NO_COUNTRY_IP.continent,
      lat: EUROPE_NO_COUNTRY_IP.lat,
      lon: EUROPE_NO_COUNTRY_IP.lon,
    });
  });

  it('agrees with countries.ts on every continent it returns', () => {
    for (const c of Object.values(CLIENT_IPS)) expect(countryInfo(c.country)?.continent).toBe(c.continent);
  });

  it.each(['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.1', '192.168.1.1', '172.16.5.4', '100.64.0.1', 'fe80::1', 'fd00::1', '0.0.0.0', '::', '192.0.2.1', '2001:db8::1', '224.0.0.1'])(
    'private or reserved %s → {}',
    (ip) => {
      expect(locator.lookup(ip)).toEqual({});
    },
  );

  it.each(['', 'garbage', '1.2.3', '1.2.3.4.5', '999.1.1.1', ':::', '1.2.3.4/24', 'x'.repeat(10_000)])('garbage %j → {}', (ip) => {
    expect(locator.lookup(ip)).toEqual({});
  });

  it('answers the same facts however often it is asked (its record cache changes nothing)', () => {
    const clients = Object.values(CLIENT_IPS);
    const first = clients.map((c) => locator.lookup(c.ip));
    for (let round = 0; round < 3; round++) expect(clients.map((c) => locator.lookup(c.ip))).toEqual(first);
  });
});

describe('openLocator with a Country database (records carry no location)', () => {
  it('falls back to the country centroid from countries.ts', async () => {
    const countryDb = bundledCityDatabase().replace(/GeoLite2-City\.mmdb$/, 'GeoLite2-Country.mmdb');
    const byCountry = await openLocator({ city: countryDb });
    for (const c of [CLIENT_IPS.DE, CLIENT_IPS.JP, CLIENT_IPS.NZ_V6]) {
      const info = countryInfo(c.country)!;
      expect(byCountry.lookup(c.ip)).toEqual({ country: c.country, continent: c.continent, lat: info.lat, lon: info.lon });
    }
  });
});

describe('openLocator errors', () => {
  it('rejects a missing database file', async () => {
    await expect(openLocator({ city: '/nonexistent/city.mmdb' })).rejects.toThrow();
  });
});
