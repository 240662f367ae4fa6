// Column copies of the per-mirror facts decide() reads, built once per mirror list, and each rule class's pool laid out by tier.
import type { SnapshotMirror } from './snapshotMirror.js';

/** The mirror serves https. */
export const HTTPS = 1;
/** The mirror needs more than a lastSync check per request: any of the next three, or a NaN lastSync. */
export const CHECKED = 2;
export const COUNTRY_ONLY = 4;
export const MISSING = 8;
export const INVENTORY = 16;
/** A drain ramps the weight down (see drainFactor). */
export const DRAINING = 32;

/**
 * Typed arrays indexed by mirror number, and countries and continents as small integers: the
 * hot loops then read a few kilobytes that stay in cache, not one object, string and array per mirror.
 */
export interface RoutingTables {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly z: Float64Array;
  /** Code of the mirror's country (≥ 0). */
  readonly country: Int32Array;
  /** Code of the mirror's continent, or -2 when unknown (never equal to a client's code). */
  readonly continent: Int32Array;
  readonly countryCode: ReadonlyMap<string, number>;
  readonly continentCode: ReadonlyMap<string, number>;
  readonly flags: Uint8Array;
  /** Epoch seconds of the last sync, +Infinity when unknown (so every file passes). */
  readonly lastSync: Float64Array;
  readonly inventory: readonly (Uint32Array | undefined)[];
  readonly missing: readonly (ReadonlySet<number> | undefined)[];
  readonly weight: Float64Array;
  readonly idHash: Uint32Array;
  /** Mirrors announcing each ASN, ascending. */
  readonly asnMirrors: ReadonlyMap<number, readonly number[]>;
  /** Scratch: asnMark[i] === stamp (see nextStamp) marks the mirrors in the current client's ASN. */
  readonly asnMark: Int32Array;
  stamp: number;
  /** Per rule class, its pool as decide() reads it (built on first use). */
  readonly groups: (PoolGroups | undefined)[];
  /** Per rule class, the last layout made: shared by successive tables while no mirror moves. */
  readonly layouts: (PoolLayout | undefined)[];
}

/** One class pool, as decide() reads it: its layout, and what this snapshot's live state adds. */
export interface PoolGroups extends PoolLayout {
  /** The latest lastSync among the members without the CHECKED flag, https ones and http-only ones (NaN: none, so no mtime passes). */
  readonly latestHttps: number;
  readonly latestHttp: number;
  /** The members with the CHECKED flag. */
  readonly checked: readonly number[];
}

/**
 * Where a class pool's mirrors are, which depends only on the pool and on the mirrors' places, so it
 * outlives a snapshot. Sorted by continent, then country, then number: each country's mirrors are one
 * run, inside its continent's run, so a tier is one or two runs with no test per mirror. Runs are
 * [from, to) by code. Plain arrays: typed ones cost more to make than they save here.
 */
export interface PoolLayout {
  readonly pool: Int32Array;
  /** The pool in ascending mirror number (the pool itself, as buildSnapshot makes it). */
  readonly members: ArrayLike<number>;
  readonly order: readonly number[];
  readonly countryFrom: readonly number[];
  readonly countryTo: readonly number[];
  readonly continentFrom: readonly number[];
  readonly continentTo: readonly number[];
}

// Keyed by the mirror list rather than the snapshot: `{ ...snapshot }` copies share it, and a copy
// with other mirrors gets tables of its own. Memory: the columns, plus one layout per rule class.
const tables = new WeakMap<readonly SnapshotMirror[], RoutingTables>();

/**
 * The tables of a mirror list, built on first call. buildSnapshot calls it with the tables of the
 * snapshot it replaces, whose class layouts carry over while no mirror changes place or scheme.
 */
export function routingTablesFor(mirrors: readonly SnapshotMirror[], previous?: readonly SnapshotMirror[]): RoutingTables {
  let t = tables.get(mirrors);
  if (t === undefined) tables.set(mirrors, (t = buildTables(mirrors, previous === undefined ? undefined : tables.get(previous))));
  return t;
}

function buildTables(mirrors: readonly SnapshotMirror[], previous: RoutingTables | undefined): RoutingTables {
  const n = mirrors.length;
  const t = {
    x: new Float64Array(n),
    y: new Float64Array(n),
    z: new Float64Array(n),
    country: new Int32Array(n),
    continent: new Int32Array(n),
    countryCode: new Map<string, number>(),
    continentCode: new Map<string, number>(),
    flags: new Uint8Array(n),
    lastSync: new Float64Array(n),
    inventory: new Array<Uint32Array | undefined>(n),
    missing: new Array<ReadonlySet<number> | undefined>(n),
    weight: new Float64Array(n),
    idHash: new Uint32Array(n),
    asnMirrors: new Map<number, number[]>(),
    asnMark: new Int32Array(n),
    stamp: 0,
    groups: [],
    layouts: [] as (PoolLayout | undefined)[],
  };
  for (let i = 0; i < n; i++) {
    const m = mirrors[i]!;
    t.x[i] = m.x;
    t.y[i] = m.y;
    t.z[i] = m.z;
    t.country[i] = codeOf(t.countryCode, m.country);
    t.continent[i] = m.continent === undefined ? -2 : codeOf(t.continentCode, m.continent);
    const lastSync = m.lastSync ?? Infinity;
    t.lastSync[i] = lastSync;
    t.inventory[i] = m.inventory;
    t.missing[i] = m.missing;
    t.weight[i] = m.weight;
    t.idHash[i] = m.idHash;
    const flags =
      (m.https ? HTTPS : 0) |
      (m.countryOnly ? COUNTRY_ONLY : 0) |
      (m.missing !== undefined ? MISSING : 0) |
      (m.inventory !== undefined ? INVENTORY : 0) |
      (m.drain ? DRAINING : 0);
    const checked = (flags & (COUNTRY_ONLY | MISSING | INVENTORY)) !== 0 || Number.isNaN(lastSync);
    t.flags[i] = flags | (checked ? CHECKED : 0);
    for (const asn of m.asn) {
      const list = t.asnMirrors.get(asn);
      if (list === undefined) t.asnMirrors.set(asn, [i]);
      else if (!list.includes(i)) list.push(i);
    }
  }
  return previous !== undefined && samePlaces(previous, t) ? { ...t, layouts: previous.layouts } : t;
}

function codeOf(codes: Map<string, number>, key: string): number {
  let code = codes.get(key);
  if (code === undefined) codes.set(key, (code = codes.size));
  return code;
}

/** Whether every mirror keeps its country and continent (and so every layout holds). */
function samePlaces(a: RoutingTables, b: RoutingTables): boolean {
  const n = a.country.length;
  if (n !== b.country.length || a.countryCode.size !== b.countryCode.size || a.continentCode.size !== b.continentCode.size) return false;
  for (let i = 0; i < n; i++) {
    if (a.country[i] !== b.country[i] || a.continent[i] !== b.continent[i]) return false;
  }
  return true;
}

/** A fresh mark for one call's asnMark (older marks never match it). */
export function nextStamp(t: RoutingTables): number {
  if (t.stamp === 0x7fffffff) {
    t.asnMark.fill(0);
    t.stamp = 0;
  }
  return ++t.stamp;
}

/** The groups of rule class `cls`, whose pool is `pool` (rebuilt should a snapshot copy swap pools). */
export function poolGroups(t: RoutingTables, cls: number, pool: Int32Array): PoolGroups {
  const held = t.groups[cls];
  if (held !== undefined && held.pool === pool) return held;
  let layout = t.layouts[cls];
  if (layout === undefined || !sameContents(layout.pool, pool)) t.layouts[cls] = layout = poolLayout(t, pool);
  const checked: number[] = [];
  let latestHttps = NaN;
  let latestHttp = NaN;
  for (let j = 0; j < layout.members.length; j++) {
    const i = layout.members[j]!;
    const f = t.flags[i]!;
    if ((f & CHECKED) !== 0) {
      checked.push(i);
      continue;
    }
    const lastSync = t.lastSync[i]!;
    if ((f & HTTPS) !== 0) latestHttps = latestHttps >= lastSync ? latestHttps : lastSync;
    else latestHttp = latestHttp >= lastSync ? latestHttp : lastSync;
  }
  const groups = { ...layout, pool, latestHttps, latestHttp, checked };
  t.groups[cls] = groups;
  return groups;
}

function sameContents(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/** The layout of a pool: two stable counting sorts of its (ascending) members, by country then by continent. */
function poolLayout(t: RoutingTables, pool: Int32Array): PoolLayout {
  const members = ascending(pool) ? pool : Int32Array.from(pool).sort();
  const countries = t.countryCode.size;
  // Unknown continents sort last, in a run no client asks for.
  const continents = t.continentCode.size + 1;
  const continentOf = (i: number) => (t.continent[i]! < 0 ? continents - 1 : t.continent[i]!);
  const order = countingSort(
    countingSort(Array.from(members), (i) => t.country[i]!, countries),
    continentOf,
    continents,
  );
  const countryFrom = new Array<number>(countries).fill(0);
  const countryTo = new Array<number>(countries).fill(0);
  const continentFrom = new Array<number>(continents).fill(0);
  const continentTo = new Array<number>(continents).fill(0);
  for (let j = order.length - 1; j >= 0; j--) {
    const i = order[j]!;
    const country = t.country[i]!;
    const continent = continentOf(i);
    if (countryTo[country] === 0) countryTo[country] = j + 1;
    countryFrom[country] = j;
    if (continentTo[continent] === 0) continentTo[continent] = j + 1;
    continentFrom[continent] = j;
  }
  return { pool, members, order, countryFrom, countryTo, continentFrom, continentTo };
}

function ascending(list: Int32Array): boolean {
  for (let j = 1; j < list.length; j++) if (list[j - 1]! >= list[j]!) return false;
  return true;
}

/** `list` sorted by code, stably. */
function countingSort(list: readonly number[], codeOf: (i: number) => number, codes: number): number[] {
  const next = new Array<number>(codes + 1).fill(0);
  for (const i of list) next[codeOf(i) + 1]!++;
  for (let c = 0; c < codes; c++) next[c + 1]! += next[c]!;
  const sorted = new Array<number>(list.length).fill(0);
  for (const i of list) sorted[next[codeOf(i)]!++] = i;
  return sorted;
}

/** Whether mirror i is in the pool. */
export function inPool(groups: PoolLayout, i: number): boolean {
  const { members } = groups;
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (members[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo < members.length && members[lo] === i;
}
