// TEST-ONLY REFERENCE: decide() as it was before the performance rework of issue #7, kept verbatim
// (imports adjusted) so test/core/decide.equivalence.test.ts can prove the fast version gives
// identical answers. Never import it from src/. Known flaw kept on purpose: with routing.bandKm 0
// pickSticky can loop forever (cos(acos(d)) > d leaves the nearest out of its own band).
import { hashString, unitFrom } from '../../src/core/hash.js';
import type { ClientFacts, ExclusionReason } from '../../src/core/model.js';
import { drainFactor, mirrorCarries, whyNotCarried, type Snapshot, type SnapshotMirror } from '../../src/core/snapshot.js';

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
}

const EARTH_RADIUS_KM = 6371;
const DEG = Math.PI / 180;
const SPILL_ID_HASH = 0x5bd1e995;

// Scratch space for the candidates of one call. decide() never yields, so one set is safe to
// share; it spares the hot path an object per candidate (only the ranked few become objects).
let capacity = 0;
let cMirror = new Int32Array(0);
let cTier = new Uint8Array(0);
/** Cosine of the angle to the client: larger is nearer, so ordering needs no acos. */
let cDot = new Float64Array(0);
let cWeight = new Float64Array(0);
let cUsed = new Uint8Array(0);

function ensureCapacity(n: number): void {
  if (n <= capacity) return;
  capacity = Math.max(n, capacity * 2, 64);
  cMirror = new Int32Array(capacity);
  cTier = new Uint8Array(capacity);
  cDot = new Float64Array(capacity);
  cWeight = new Float64Array(capacity);
  cUsed = new Uint8Array(capacity);
}

export function decide(snapshot: Snapshot, path: string, client: ClientFacts, opts: DecideOptions): Decision {
  const file = snapshot.files.lookup(path);
  if (file < 0) return { file, outcome: 'not-found', chosen: undefined, ranked: [], candidateCount: 0, excluded: [] };

  const explain = opts.explain === true;
  const mirrors = snapshot.mirrors;
  const excluded: Exclusion[] = [];
  // The fast pool is pre-filtered by rules and live state; explaining needs every mirror.
  const pool = explain ? undefined : snapshot.activeByClass[snapshot.rules.fileClass[file]!]!;
  const poolSize = pool ? pool.length : mirrors.length;
  ensureCapacity(poolSize);

  const located = client.lat !== undefined && client.lon !== undefined;
  const cx = located ? Math.cos(client.lat! * DEG) * Math.cos(client.lon! * DEG) : 0;
  const cy = located ? Math.cos(client.lat! * DEG) * Math.sin(client.lon! * DEG) : 0;
  const cz = located ? Math.sin(client.lat! * DEG) : 0;

  let n = 0;
  let secure = 0;
  const files = snapshot.files;
  // The later of its mtime and its arrival, where either is known (FileIndex.syncKey, written out here).
  const mtime = files.mtime(file);
  const arrived = files.arrival(file)?.at;
  const key = mtime === undefined ? arrived : arrived === undefined ? mtime : Math.max(mtime, arrived);
  for (let p = 0; p < poolSize; p++) {
    const m = mirrors[pool ? pool[p]! : p]!;
    // The pool already passed the rules and the live state; only per-request checks remain.
    const reason = pool ? poolExclusion(m, file, key, client) : exclusionFor(snapshot, m, file, client);
    if (reason) {
      if (explain) excluded.push({ mirror: m, reason });
      continue;
    }
    cMirror[n] = m.index;
    cTier[n] = tierOf(m, client);
    cDot[n] = located ? cx * m.x + cy * m.y + cz * m.z : 1;
    cWeight[n] = m.drain ? m.weight * drainFactor(m.drain, opts.nowMs) : m.weight;
    if (m.https) secure++;
    n++;
  }

  // An HTTPS client is only sent to https mirrors while one has the file.
  if (client.https && secure > 0 && secure < n) {
    let k = 0;
    for (let i = 0; i < n; i++) {
      const m = mirrors[cMirror[i]!]!;
      if (!m.https) {
        if (explain) excluded.push({ mirror: m, reason: 'http-only' });
        continue;
      }
      cMirror[k] = cMirror[i]!;
      cTier[k] = cTier[i]!;
      cDot[k] = cDot[i]!;
      cWeight[k] = cWeight[i]!;
      k++;
    }
    n = k;
  }

  if (n === 0) return { file, outcome: 'origin', chosen: undefined, ranked: [], candidateCount: 0, excluded };

  let chosen = -1;
  if (opts.preferMirror !== undefined) {
    const wanted = snapshot.byId.get(opts.preferMirror);
    for (let i = 0; i < n && wanted !== undefined; i++) if (cMirror[i] === wanted) chosen = i;
  }
  if (chosen < 0) chosen = pickSticky(n, hashString(`${client.ip}\n${path}`), snapshot.routing.bandKm, mirrors);

  const ranked = [candidateAt(chosen, mirrors, located)];
  const limit = Math.min(opts.limit ?? n, n);
  for (const i of nearestOthers(n, chosen, limit - 1)) ranked.push(candidateAt(i, mirrors, located));
  return { file, outcome: 'mirror', chosen: ranked[0], ranked, candidateCount: n, excluded };
}

/** The per-request checks for a mirror from the class pool (rules and live state already hold). */
function poolExclusion(m: SnapshotMirror, file: number, key: number | undefined, client: ClientFacts): ExclusionReason | undefined {
  if (m.countryOnly && client.country !== m.country) return 'country-only';
  if (m.missing !== undefined && m.missing.has(file)) return 'missing-file';
  if (m.inventory !== undefined) return (m.inventory[file >>> 5]! & (1 << (file & 31))) !== 0 ? undefined : 'missing-file';
  const lastSync = m.lastSync;
  return lastSync === undefined || key === undefined || key <= lastSync ? undefined : 'missing-file';
}

function exclusionFor(snapshot: Snapshot, m: SnapshotMirror, file: number, client: ClientFacts): ExclusionReason | undefined {
  if (m.exclusion) return m.exclusion;
  if (m.spec.countryOnly && client.country !== m.spec.country) return 'country-only';
  // The reason's wording (stale-copy, incomplete-group) is snapshot.ts's, shared on purpose.
  if (!mirrorCarries(snapshot, m, file)) return whyNotCarried(snapshot, m, file);
  return undefined;
}

function tierOf(m: SnapshotMirror, client: ClientFacts): Tier {
  if (client.asn !== undefined && m.asn.length !== 0 && m.asn.includes(client.asn)) return 0;
  if (client.country !== undefined && client.country === m.country) return 1;
  if (client.continent !== undefined && client.continent === m.continent) return 2;
  return 3;
}

function candidateAt(i: number, mirrors: readonly SnapshotMirror[], located: boolean): Candidate {
  return {
    mirror: mirrors[cMirror[i]!]!,
    tier: cTier[i] as Tier,
    distanceKm: located ? kmFromDot(cDot[i]!) : undefined,
    weight: cWeight[i]!,
  };
}

function kmFromDot(dot: number): number {
  return EARTH_RADIUS_KM * Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot);
}

/** a is nearer than b: lower tier, then shorter distance (larger cosine), then lower mirror number (stable). */
function nearer(a: number, b: number): boolean {
  return cTier[a]! !== cTier[b]! ? cTier[a]! < cTier[b]! : cDot[a]! !== cDot[b]! ? cDot[a]! > cDot[b]! : cMirror[a]! < cMirror[b]!;
}

/** Up to `k` candidates other than `skip`, nearest first: one pass keeping a small sorted list (k is small). */
function nearestOthers(n: number, skip: number, k: number): number[] {
  const out: number[] = [];
  if (k <= 0) return out;
  for (let i = 0; i < n; i++) {
    if (i === skip) continue;
    if (out.length === k && !nearer(i, out[k - 1]!)) continue;
    let at: number;
    if (out.length < k) at = out.push(i) - 1;
    else out[(at = k - 1)] = i;
    // Bubble the newcomer up to its place.
    while (at > 0 && nearer(out[at]!, out[at - 1]!)) {
      const t = out[at - 1]!;
      out[at - 1] = out[at]!;
      out[at] = t;
      at--;
    }
  }
  return out;
}

/**
 * Weighted rendezvous hashing over the nearest band: each candidate scores -ln(u)/weight
 * with u from hash(client, path, mirror id), lowest wins. The same client and file keep
 * the same mirror on every instance without shared state, and shares follow the weights.
 * A band is the best tier's mirrors within bandKm of its nearest one. A ramping drain
 * gives up part of its weight as "spill", which sends that share on to the next band, so
 * traffic really moves away rather than staying on the only nearby mirror.
 */
function pickSticky(n: number, keyHash: number, bandKm: number, mirrors: readonly SnapshotMirror[]): number {
  cUsed.fill(0, 0, n);
  let left = n;
  let nearest = -1;
  while (left > 0) {
    let first = -1;
    for (let i = 0; i < n; i++) if (!cUsed[i] && (first < 0 || nearer(i, first))) first = i;
    if (nearest < 0) nearest = first;
    const tier = cTier[first]!;
    // The band edge as a cosine: within bandKm of the nearest, without an acos per candidate.
    const edge = Math.acos(Math.min(1, Math.max(-1, cDot[first]!))) + bandKm / EARTH_RADIUS_KM;
    const limit = edge >= Math.PI ? -2 : Math.cos(edge);

    let best = -1;
    let bestScore = Infinity;
    let spill = 0;
    for (let i = 0; i < n; i++) {
      if (cUsed[i] || cTier[i] !== tier || cDot[i]! < limit) continue;
      cUsed[i] = 1;
      left--;
      const m = mirrors[cMirror[i]!]!;
      spill += m.weight - cWeight[i]!;
      if (cWeight[i]! <= 0) continue;
      const score = -Math.log(unitFrom(keyHash, m.idHash)) / cWeight[i]!;
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (left > 0 && spill > 0 && -Math.log(unitFrom(keyHash, SPILL_ID_HASH)) / spill < bestScore) continue;
    if (best >= 0) return best;
  }
  // Every candidate has weight 0 (or is draining out): the nearest still beats the origin.
  return nearest;
}
