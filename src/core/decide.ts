// The redirect decision: a pure function of (snapshot, path, client facts) → pick and ranked alternatives.
//
// The hot path (issue #7) never looks at the whole class pool: candidates come out tier by tier from
// the pool's per-country and per-continent runs (see routingTables.ts), and only until the ranking
// has what it needs, since a later tier is farther than all of an earlier one. Every answer equals
// the full loop's; test/core/decide.equivalence.test.ts holds it to the earlier implementation.
import { fmix32, unitFrom } from './hash.js';
import type { ClientFacts, ExclusionReason } from './model.js';
import {
  CHECKED,
  COUNTRY_ONLY,
  DRAINING,
  HTTPS,
  inPool,
  INVENTORY,
  MISSING,
  nextStamp,
  poolGroups,
  routingTablesFor,
  type PoolGroups,
  type RoutingTables,
} from './routingTables.js';
import { drainFactor, mirrorCarries, whyNotCarried, type Snapshot, type SnapshotMirror } from './snapshot.js';

/** 0 same ASN, 1 same country, 2 same continent, 3 elsewhere (or unknown). */
export type Tier = 0 | 1 | 2 | 3;

export interface Candidate {
  readonly mirror: SnapshotMirror;
  readonly tier: Tier;
  /** Undefined when the client's location is unknown. */
  readonly distanceKm: number | undefined;
  /** The configured weight, scaled down while a drain ramps. */
  readonly weight: number;
}

export interface Exclusion {
  readonly mirror: SnapshotMirror;
  readonly reason: ExclusionReason;
}

export interface Decision {
  /** File number in snapshot.files, or -1. */
  readonly file: number;
  readonly outcome: 'mirror' | 'origin' | 'not-found';
  readonly chosen: Candidate | undefined;
  /** The pick first, then the other candidates nearest first (at most `limit` in all). */
  readonly ranked: readonly Candidate[];
  /** How many mirrors were candidates, whatever `limit` cut from `ranked`. */
  readonly candidateCount: number;
  /** Filled only with `explain`: why each other mirror was left out. */
  readonly excluded: readonly Exclusion[];
}

export interface DecideOptions {
  nowMs: number;
  /** ?mirror=id: honoured when that mirror is a candidate. */
  preferMirror?: string;
  /** Collect exclusion reasons (for ?mirrorlist); off on the plain redirect path. */
  explain?: boolean;
  /** Most entries wanted in `ranked` (the pick included); default all. */
  limit?: number;
  /** The path's file number in this snapshot, when the caller looked it up already (saves a second lookup). */
  file?: number;
}

const EARTH_RADIUS_KM = 6371;
const DEG = Math.PI / 180;
const SPILL_ID_HASH = 0x5bd1e995;
/** Up to this many ranked entries a bounded insertion beats sorting every candidate. */
const INSERTION_LIMIT = 24;
const TIERS = 4;
/** Far above the rounding of a key (2e-15): keys closer than this go to the exact comparison. */
const KEY_EPS = 1e-13;

/** The client as the hot loops compare it: a unit vector and the tables' integer codes. */
interface Place {
  readonly located: boolean;
  readonly x: number;
  readonly y: number;
  readonly z: number;
  /** Country and continent codes, -1 when unknown or where no mirror is. */
  readonly country: number;
  readonly continent: number;
  /** The mirrors in the client's ASN, marked in asnMark with asnStamp (-1 when none). */
  readonly asnList: readonly number[] | undefined;
  readonly asnStamp: number;
}

/**
 * One call's candidates as they are brought out. The redirect path fills the scratch arrays
 * tier by tier (same ASN, country, continent, elsewhere) and stops once it holds enough for the
 * ranking: every tier it leaves out is farther than every candidate it has.
 */
interface Query {
  readonly t: RoutingTables;
  readonly place: Place;
  /** Undefined when every candidate is already in the scratch arrays (the explain path). */
  readonly groups: PoolGroups | undefined;
  readonly file: number;
  /** FileIndex.syncKey (-Infinity when unknown): a plain mirror carries the file when syncKey <= its lastSync. */
  readonly syncKey: number;
  /** An HTTPS client while https and http-only mirrors both have the file: https ones only. */
  readonly secureOnly: boolean;
  /** Tiers [0, tiers) are in slots [0, n); tier k in [tierStart[k], tierStart[k + 1]) when brought out. */
  tiers: number;
  n: number;
  readonly tierStart: Int32Array | undefined;
}

// Scratch space for the candidates of one call. decide() never yields, so one set is safe to
// share; it spares the hot path an object per candidate (only the ranked few become objects).
let capacity = 0;
let cMirror = new Int32Array(0);
let cTier = new Uint8Array(0);
/** Cosine of the angle to the client: larger is nearer, so ordering needs no acos. */
let cDot = new Float64Array(0);
/** tier * 4 - cDot: one subtraction orders two candidates (see nearer). */
let cKey = new Float64Array(0);
let cUsed = new Uint8Array(0);
/** The weighted slots of one band, and its draining mirrors. */
let band = new Int32Array(0);
let draining = new Int32Array(0);
/** Candidate slots, nearest first (the head `selectNearest` fills), and sorting space. */
let order = new Int32Array(0);
let spare = new Int32Array(0);
let bucketOf = new Int32Array(0);
let bucketStart = new Int32Array(0);
const tierStart = new Int32Array(TIERS + 1);

function ensureCapacity(n: number): void {
  if (n <= capacity) return;
  capacity = Math.max(n, capacity * 2, 64);
  cMirror = new Int32Array(capacity);
  cTier = new Uint8Array(capacity);
  cDot = new Float64Array(capacity);
  cKey = new Float64Array(capacity);
  cUsed = new Uint8Array(capacity);
  band = new Int32Array(capacity);
  draining = new Int32Array(capacity);
  order = new Int32Array(capacity);
  spare = new Int32Array(capacity);
  bucketOf = new Int32Array(capacity);
  bucketStart = new Int32Array(2 * TIERS * capacity + 1);
}

export function decide(snapshot: Snapshot, path: string, client: ClientFacts, opts: DecideOptions): Decision {
  const file = opts.file ?? snapshot.files.lookup(path);
  if (file < 0) return { file, outcome: 'not-found', chosen: undefined, ranked: [], candidateCount: 0, excluded: [] };

  const t = routingTablesFor(snapshot.mirrors);
  const place = placeOf(t, client, nextStamp(t));
  const excluded: Exclusion[] = [];
  const q = opts.explain === true ? explainQuery(snapshot, t, place, file, client, excluded) : redirectQuery(snapshot, t, place, file, client);
  // A full ranking needs every tier; a limited one stops early (at the pick, at least).
  const asked = opts.limit === undefined ? Infinity : Math.floor(opts.limit);
  const wanted = asked >= 1 ? asked : 1;
  while (q.n < wanted && q.tiers < TIERS) bringOutTier(q);
  if (q.n === 0) return { file, outcome: 'origin', chosen: undefined, ranked: [], candidateCount: 0, excluded };
  // With every tier out the count is known; else it is at least `wanted`, and counted only if read.
  const count = q.tiers === TIERS ? q.n : -1;
  const limit = count < 0 ? asked : Math.min(asked, count);
  const headSize = Math.max(limit, 1);

  let chosen = opts.preferMirror === undefined ? -1 : preferredSlot(q, snapshot.byId.get(opts.preferMirror));
  const head = selectNearest(q.n, headSize);
  // Spill may bring out farther tiers; the head, already full, has no room for them.
  if (chosen < 0) chosen = pickSticky(q, order[0]!, client.ip, path, snapshot, opts.nowMs);

  const mirrors = snapshot.mirrors;
  const ranked = [candidateAt(chosen, t, mirrors, place.located, opts.nowMs)];
  // The others nearest first: the head holds `limit` slots, the pick perhaps among them.
  for (let j = 0; j < head && ranked.length < limit; j++) {
    if (order[j] !== chosen) ranked.push(candidateAt(order[j]!, t, mirrors, place.located, opts.nowMs));
  }
  if (count >= 0) return { file, outcome: 'mirror', chosen: ranked[0], ranked, candidateCount: count, excluded };
  return new CountedOnRead(file, ranked, excluded, q);
}

/**
 * A decision whose candidate count is taken on first read: the redirect path never reads it, and
 * counting looks at every inventory in the pool, a cache miss apiece. A class, as an object
 * literal with a getter costs V8 over a microsecond to create.
 */
class CountedOnRead implements Decision {
  readonly outcome = 'mirror';
  readonly chosen: Candidate;
  private counted = -1;

  constructor(
    readonly file: number,
    readonly ranked: readonly Candidate[],
    readonly excluded: readonly Exclusion[],
    private readonly query: Query,
  ) {
    this.chosen = ranked[0]!;
  }

  get candidateCount(): number {
    const q = this.query;
    if (this.counted < 0) this.counted = countCarriers(q.t, q.groups!, q.file, q.syncKey, q.place.country, q.secureOnly);
    return this.counted;
  }
}

function placeOf(t: RoutingTables, client: ClientFacts, stamp: number): Place {
  const located = client.lat !== undefined && client.lon !== undefined;
  const asnList = client.asn === undefined ? undefined : t.asnMirrors.get(client.asn);
  if (asnList !== undefined) for (const i of asnList) t.asnMark[i] = stamp;
  const cosLat = located ? Math.cos(client.lat! * DEG) : 0;
  return {
    located,
    x: located ? cosLat * Math.cos(client.lon! * DEG) : 0,
    y: located ? cosLat * Math.sin(client.lon! * DEG) : 0,
    z: located ? Math.sin(client.lat! * DEG) : 0,
    country: client.country === undefined ? -1 : (t.countryCode.get(client.country) ?? -1),
    continent: client.continent === undefined ? -1 : (t.continentCode.get(client.continent) ?? -1),
    asnList,
    asnStamp: asnList === undefined ? -1 : stamp,
  };
}

function tierAt(t: RoutingTables, i: number, place: Place): Tier {
  return t.asnMark[i] === place.asnStamp ? 0 : t.country[i] === place.country ? 1 : t.continent[i] === place.continent ? 2 : 3;
}

/** The redirect path: the file's class pool, pre-filtered by rules and live state, brought out tier by tier. */
function redirectQuery(snapshot: Snapshot, t: RoutingTables, place: Place, file: number, client: ClientFacts): Query {
  const cls = snapshot.rules.fileClass[file]!;
  const pool = snapshot.activeByClass[cls]!;
  ensureCapacity(pool.length);
  const groups = poolGroups(t, cls, pool);
  const syncKey = snapshot.files.syncKey(file);
  // An HTTPS client is only sent to https mirrors while one has the file.
  const secureOnly =
    client.https &&
    hasCarrier(t, groups, groups.latestHttps, HTTPS, file, syncKey, place.country) &&
    hasCarrier(t, groups, groups.latestHttp, 0, file, syncKey, place.country);
  return { t, place, groups, file, syncKey, secureOnly, tiers: 0, n: 0, tierStart };
}

/** The ?mirrorlist path: every mirror, each left out with its reason. */
function explainQuery(snapshot: Snapshot, t: RoutingTables, place: Place, file: number, client: ClientFacts, excluded: Exclusion[]): Query {
  const mirrors = snapshot.mirrors;
  ensureCapacity(mirrors.length);
  let n = 0;
  let secure = 0;
  for (let i = 0; i < mirrors.length; i++) {
    const m = mirrors[i]!;
    const reason = exclusionFor(snapshot, m, file, client);
    if (reason) {
      excluded.push({ mirror: m, reason });
      continue;
    }
    const tier = tierAt(t, i, place);
    const dot = place.located ? place.x * t.x[i]! + place.y * t.y[i]! + place.z * t.z[i]! : 1;
    cMirror[n] = i;
    cTier[n] = tier;
    cDot[n] = dot;
    cKey[n] = tier * 4 - dot;
    if (m.https) secure++;
    n++;
  }
  // An HTTPS client is only sent to https mirrors while one has the file.
  if (client.https && secure > 0 && secure < n) n = dropHttpOnly(n, mirrors, excluded);
  cUsed.fill(0, 0, n);
  return { t, place, groups: undefined, file, syncKey: snapshot.files.syncKey(file), secureOnly: false, tiers: TIERS, n, tierStart: undefined };
}

function exclusionFor(snapshot: Snapshot, m: SnapshotMirror, file: number, client: ClientFacts): ExclusionReason | undefined {
  if (m.exclusion) return m.exclusion;
  if (m.spec.countryOnly && client.country !== m.spec.country) return 'country-only';
  if (!mirrorCarries(snapshot, m, file)) return whyNotCarried(snapshot, m, file);
  return undefined;
}

/** Leaves out the http-only candidates, each with its reason; returns how many remain. */
function dropHttpOnly(n: number, mirrors: readonly SnapshotMirror[], excluded: Exclusion[]): number {
  let k = 0;
  for (let s = 0; s < n; s++) {
    const m = mirrors[cMirror[s]!]!;
    if (!m.https) {
      excluded.push({ mirror: m, reason: 'http-only' });
      continue;
    }
    cMirror[k] = cMirror[s]!;
    cTier[k] = cTier[s]!;
    cDot[k] = cDot[s]!;
    cKey[k] = cKey[s]!;
    k++;
  }
  return k;
}

/**
 * The per-request checks for a pool mirror (rules and live state already hold) that needs more
 * than a lastSync check: a country limit, files found missing, or an inventory.
 */
function carriesChecked(t: RoutingTables, i: number, file: number, syncKey: number, country: number): boolean {
  const f = t.flags[i]!;
  if ((f & COUNTRY_ONLY) !== 0 && t.country[i] !== country) return false;
  if ((f & MISSING) !== 0 && t.missing[i]!.has(file)) return false;
  if ((f & INVENTORY) !== 0) return (t.inventory[i]![file >>> 5]! & (1 << (file & 31))) !== 0;
  return syncKey === -Infinity || syncKey <= t.lastSync[i]!;
}

/** Whether a pool mirror of the given https-ness carries the file: plain ones at a glance, by the latest sync among them. */
function hasCarrier(t: RoutingTables, groups: PoolGroups, latest: number, https: number, file: number, syncKey: number, country: number): boolean {
  if (syncKey <= latest) return true;
  for (const i of groups.checked) if ((t.flags[i]! & HTTPS) === https && carriesChecked(t, i, file, syncKey, country)) return true;
  return false;
}

/** How many pool mirrors carry the file (https ones only when secureOnly). */
function countCarriers(t: RoutingTables, groups: PoolGroups, file: number, syncKey: number, country: number, secureOnly: boolean): number {
  let n = 0;
  for (let j = 0; j < groups.members.length; j++) {
    const i = groups.members[j]!;
    const f = t.flags[i]!;
    if (secureOnly && (f & HTTPS) === 0) continue;
    if ((f & CHECKED) !== 0 ? carriesChecked(t, i, file, syncKey, country) : syncKey <= t.lastSync[i]!) n++;
  }
  return n;
}

/** Appends the next tier's candidates to the scratch arrays (a tier may have none). */
function bringOutTier(q: Query): void {
  const { groups, place } = q;
  const tier = q.tiers++;
  if (groups === undefined) return;
  const from = q.n;
  q.tierStart![tier] = from;
  const c = place.country;
  const k = place.continent;
  // The client's country's run and its continent's run (empty when unknown).
  const c0 = c >= 0 ? groups.countryFrom[c]! : 0;
  const c1 = c >= 0 ? groups.countryTo[c]! : 0;
  const k0 = k >= 0 ? groups.continentFrom[k]! : 0;
  const k1 = k >= 0 ? groups.continentTo[k]! : 0;
  if (tier === 0) bringOutAsn(q, groups);
  else if (tier === 1) bringOut(q, groups.order, c0, c1, 1);
  else if (tier === 2) bringOutAround(q, groups.order, k0, k1, c0, c1, c0, c1, 2);
  else if (tier === 3) bringOutAround(q, groups.order, 0, groups.order.length, k0, k1, c0, c1, 3);
  q.tierStart![tier + 1] = q.n;
  cUsed.fill(0, from, q.n);
}

/** The client's ASN's mirrors: they may be outside this pool (other rules, or out), or http-only. */
function bringOutAsn(q: Query, groups: PoolGroups): void {
  const { t, place, secureOnly } = q;
  for (const i of place.asnList ?? []) {
    if (!inPool(groups, i) || (secureOnly && (t.flags[i]! & HTTPS) === 0)) continue;
    if ((t.flags[i]! & CHECKED) !== 0 ? !carriesChecked(t, i, q.file, q.syncKey, place.country) : !(q.syncKey <= t.lastSync[i]!)) continue;
    const dot = place.located ? place.x * t.x[i]! + place.y * t.y[i]! + place.z * t.z[i]! : 1;
    cMirror[q.n] = i;
    cTier[q.n] = 0;
    cDot[q.n] = dot;
    cKey[q.n] = -dot;
    q.n++;
  }
}

/** bringOut over list[lo, hi) but the holes [a0, a1) and [b0, b1), which are empty, nested or apart. */
function bringOutAround(q: Query, list: readonly number[], lo: number, hi: number, a0: number, a1: number, b0: number, b1: number, tier: Tier): void {
  if (b0 < a0) [a0, a1, b0, b1] = [b0, b1, a0, a1];
  let at = lo;
  if (a1 > at && a0 < hi) {
    if (a0 > at) bringOut(q, list, at, a0, tier);
    at = a1;
  }
  if (b1 > at && b0 < hi) {
    if (b0 > at) bringOut(q, list, at, b0, tier);
    at = b1;
  }
  if (at < hi) bringOut(q, list, at, hi, tier);
}

/** The carriers among list[from, to), as candidates of tier `tier` (1 to 3). */
function bringOut(q: Query, list: readonly number[], from: number, to: number, tier: Tier): void {
  const { t, place, file, syncKey, secureOnly } = q;
  const { asnMark, flags, lastSync, x, y, z } = t;
  const { located, x: cx, y: cy, z: cz, asnStamp } = place;
  let n = q.n;
  for (let j = from; j < to; j++) {
    const i = list[j]!;
    const f = flags[i]!;
    // The client's ASN's mirrors came out as tier 0.
    if (asnMark[i] === asnStamp || (secureOnly && (f & HTTPS) === 0)) continue;
    if ((f & CHECKED) !== 0 ? !carriesChecked(t, i, file, syncKey, place.country) : !(syncKey <= lastSync[i]!)) continue;
    const dot = located ? cx * x[i]! + cy * y[i]! + cz * z[i]! : 1;
    cMirror[n] = i;
    cTier[n] = tier;
    cDot[n] = dot;
    cKey[n] = tier * 4 - dot;
    n++;
  }
  q.n = n;
}

/** The slot of mirror `wanted` when it is a candidate (bringing out its tier first), else -1. */
function preferredSlot(q: Query, wanted: number | undefined): number {
  if (wanted === undefined) return -1;
  const { t, groups } = q;
  if (groups !== undefined) {
    if (!inPool(groups, wanted) || (q.secureOnly && (t.flags[wanted]! & HTTPS) === 0)) return -1;
    const carries = (t.flags[wanted]! & CHECKED) !== 0 ? carriesChecked(t, wanted, q.file, q.syncKey, q.place.country) : q.syncKey <= t.lastSync[wanted]!;
    if (!carries) return -1;
    const tier = tierAt(t, wanted, q.place);
    while (q.tiers <= tier) bringOutTier(q);
  }
  for (let s = 0; s < q.n; s++) if (cMirror[s] === wanted) return s;
  return -1;
}

/** FNV-1a of `${ip}\n${path}` exactly as hashString computes it, without building the string. */
function keyHash(ip: string, path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ip.length; i++) h = Math.imul(h ^ ip.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 10, 0x01000193);
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

function candidateAt(s: number, t: RoutingTables, mirrors: readonly SnapshotMirror[], located: boolean, nowMs: number): Candidate {
  const i = cMirror[s]!;
  return { mirror: mirrors[i]!, tier: cTier[s] as Tier, distanceKm: located ? kmFromDot(cDot[s]!) : undefined, weight: weightOf(t, mirrors, i, nowMs) };
}

/** The configured weight, scaled down while a drain ramps. */
function weightOf(t: RoutingTables, mirrors: readonly SnapshotMirror[], i: number, nowMs: number): number {
  return (t.flags[i]! & DRAINING) !== 0 ? t.weight[i]! * drainFactor(mirrors[i]!.drain!, nowMs) : t.weight[i]!;
}

function kmFromDot(dot: number): number {
  return EARTH_RADIUS_KM * Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot);
}

/**
 * a is nearer than b: lower tier, then shorter distance (larger cosine), then lower mirror number.
 * Keys hold tier * 4 - cosine to within 2e-15, so a gap over KEY_EPS settles it (tiers lie 2 apart
 * at least); closer keys, equal cosines above all, go to the exact comparison.
 */
function nearer(a: number, b: number): boolean {
  const gap = cKey[a]! - cKey[b]!;
  return gap < -KEY_EPS || (gap <= KEY_EPS && nearerExactly(a, b));
}

function nearerExactly(a: number, b: number): boolean {
  const ta = cTier[a]!;
  const tb = cTier[b]!;
  if (ta !== tb) return ta < tb;
  const da = cDot[a]!;
  const db = cDot[b]!;
  return da !== db ? da > db : cMirror[a]! < cMirror[b]!;
}

/**
 * Fills `order` with the `k` nearest slots of [0, n), nearest first; returns how many. A small k
 * keeps a sorted head that most candidates fail to enter with one comparison; a large one sorts all.
 */
function selectNearest(n: number, k: number): number {
  if (k > INSERTION_LIMIT) {
    for (let s = 0; s < n; s++) order[s] = s;
    sortSlots(n);
    return Math.min(k, n);
  }
  let m = 0;
  for (let s = 0; s < n; s++) {
    if (m === k && !nearer(s, order[k - 1]!)) continue;
    let at = m < k ? m++ : k - 1;
    // Shift the farther ones down to make room.
    while (at > 0 && nearer(s, order[at - 1]!)) {
      order[at] = order[at - 1]!;
      at--;
    }
    order[at] = s;
  }
  return m;
}

/**
 * Sorts order[0, m) nearest first (a full ranking): a counting sort on tier and distance, then an
 * insertion pass with the exact comparison. Buckets follow the order monotonically, so they leave
 * only the few slots that share one to move, and the insertion pass makes the order exact.
 */
function sortSlots(m: number): void {
  // Per tier, buckets even in sin(angle / 2) = sqrt((1 - cosine) / 2), so even near the client.
  const perTier = 2 * m;
  bucketStart.fill(0, 0, TIERS * perTier + 1);
  for (let j = 0; j < m; j++) {
    const s = order[j]!;
    const half = (1 - cDot[s]!) / 2;
    const b = cTier[s]! * perTier + Math.floor(Math.sqrt(half < 0 ? 0 : half > 1 ? 1 : half) * (perTier - 1));
    bucketOf[j] = b;
    bucketStart[b + 1]!++;
  }
  for (let b = 0; b < TIERS * perTier; b++) bucketStart[b + 1]! += bucketStart[b]!;
  for (let j = 0; j < m; j++) spare[bucketStart[bucketOf[j]!]!++] = order[j]!;
  for (let j = 0; j < m; j++) {
    const s = spare[j]!;
    let at = j;
    while (at > 0 && nearer(s, order[at - 1]!)) {
      order[at] = order[at - 1]!;
      at--;
    }
    order[at] = s;
  }
}

/**
 * Weighted rendezvous hashing over the nearest band: each candidate scores -ln(u)/weight
 * with u from hash(client, path, mirror id), lowest wins. The same client and file keep
 * the same mirror on every instance without shared state, and shares follow the weights.
 * A band is the best tier's mirrors within bandKm of its nearest one. A ramping drain
 * gives up part of its weight as "spill", which sends that share on to the next band, so
 * traffic really moves away rather than staying on the only nearby mirror.
 */
function pickSticky(q: Query, nearest: number, ip: string, path: string, snapshot: Snapshot, nowMs: number): number {
  const { t } = q;
  const mirrors = snapshot.mirrors;
  const bandKm = snapshot.routing.bandKm;
  // Hashed only when a score matters: a band of one, with nothing to spill, needs none.
  let key = -1;
  let used = 0;
  let first = nearest;
  while (first >= 0) {
    const tier = cTier[first]!;
    // The band edge as a cosine: within bandKm of the nearest, without an acos per candidate.
    const edge = Math.acos(Math.min(1, Math.max(-1, cDot[first]!))) + bandKm / EARTH_RADIUS_KM;
    const limit = edge >= Math.PI ? -2 : Math.cos(edge);

    // The band: its weighted members, and what its draining ones give up. A tier's slots are not in
    // mirror order, yet the answer must not depend on it: ties go to the lower mirror number, and the
    // spill is summed in mirror order (the reference order) as float sums depend on it.
    const from = q.tierStart === undefined ? 0 : q.tierStart[tier]!;
    const to = q.tierStart === undefined ? q.n : q.tierStart[tier + 1]!;
    let weighted = 0;
    let drains = 0;
    for (let s = from; s < to; s++) {
      if (cUsed[s] || (s !== first && (cTier[s] !== tier || cDot[s]! < limit))) continue;
      cUsed[s] = 1;
      used++;
      const i = cMirror[s]!;
      if ((t.flags[i]! & DRAINING) !== 0) draining[drains++] = i;
      if (weightOf(t, mirrors, i, nowMs) > 0) band[weighted++] = s;
    }
    const spill = drains === 0 ? 0 : spillOf(t, mirrors, drains, nowMs);
    const spills = spill > 0 && anyUnused(q, used);
    if (weighted === 1 && !spills) return band[0]!;

    let best = -1;
    let bestScore = Infinity;
    if (weighted > 0 && key < 0) key = keyHash(ip, path);
    for (let b = 0; b < weighted; b++) {
      const s = band[b]!;
      const i = cMirror[s]!;
      const score = -Math.log(unitFrom(key, t.idHash[i]!)) / weightOf(t, mirrors, i, nowMs);
      if (score < bestScore || (score === bestScore && best >= 0 && i < cMirror[best]!)) {
        bestScore = score;
        best = s;
      }
    }
    if (best >= 0 && !(spills && -Math.log(unitFrom(key, SPILL_ID_HASH)) / spill < bestScore)) return best;
    first = anyUnused(q, used) ? nearestUnused(q.n) : -1;
  }
  // Every candidate has weight 0 (or is draining out): the nearest still beats the origin.
  return nearest;
}

/** The weight the band's draining mirrors (draining[0, drains)) give up, summed in mirror order. */
function spillOf(t: RoutingTables, mirrors: readonly SnapshotMirror[], drains: number, nowMs: number): number {
  for (let d = 1; d < drains; d++) {
    const i = draining[d]!;
    let at = d;
    for (; at > 0 && draining[at - 1]! > i; at--) draining[at] = draining[at - 1]!;
    draining[at] = i;
  }
  let spill = 0;
  for (let d = 0; d < drains; d++) spill += t.weight[draining[d]!]! - weightOf(t, mirrors, draining[d]!, nowMs);
  return spill;
}

/** Whether a candidate is left outside the bands so far, bringing out the next tiers when every one out is used. */
function anyUnused(q: Query, used: number): boolean {
  while (used === q.n && q.tiers < TIERS) bringOutTier(q);
  return used < q.n;
}

function nearestUnused(n: number): number {
  let first = -1;
  for (let s = 0; s < n; s++) if (!cUsed[s] && (first < 0 || nearer(s, first))) first = s;
  return first;
}
