// The redirect decision: a pure function of (snapshot, path, client facts) → pick and ranked alternatives.
import { hashString, unitFrom } from './hash.js';
import type { ClientFacts, ExclusionReason } from './model.js';
import { drainFactor, mirrorCarries, type Snapshot, type SnapshotMirror } from './snapshot.js';

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
  /** The pick first, then every other candidate nearest first. */
  readonly ranked: readonly Candidate[];
  /** Filled only with `explain`: why each other mirror was left out. */
  readonly excluded: readonly Exclusion[];
}

export interface DecideOptions {
  nowMs: number;
  /** ?mirror=id: honoured when that mirror is a candidate. */
  preferMirror?: string;
  /** Collect exclusion reasons (for ?mirrorlist); off on the plain redirect path. */
  explain?: boolean;
}

const EARTH_RADIUS_KM = 6371;
const DEG = Math.PI / 180;

export function decide(snapshot: Snapshot, path: string, client: ClientFacts, opts: DecideOptions): Decision {
  const file = snapshot.files.lookup(path);
  if (file < 0) return { file, outcome: 'not-found', chosen: undefined, ranked: [], excluded: [] };

  const located = client.lat !== undefined && client.lon !== undefined;
  const cx = located ? Math.cos(client.lat! * DEG) * Math.cos(client.lon! * DEG) : 0;
  const cy = located ? Math.cos(client.lat! * DEG) * Math.sin(client.lon! * DEG) : 0;
  const cz = located ? Math.sin(client.lat! * DEG) : 0;

  let candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  const explain = opts.explain === true;
  for (const m of snapshot.mirrors) {
    const reason = exclusionFor(snapshot, m, file, client);
    if (reason) {
      if (explain) excluded.push({ mirror: m, reason });
      continue;
    }
    let distanceKm: number | undefined;
    if (located) {
      const dot = cx * m.x + cy * m.y + cz * m.z;
      distanceKm = EARTH_RADIUS_KM * Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot);
    }
    const weight = m.state.drain ? m.spec.weight * drainFactor(m.state.drain, opts.nowMs) : m.spec.weight;
    candidates.push({ mirror: m, tier: tierOf(m, client), distanceKm, weight });
  }

  // An HTTPS client is only sent to https mirrors while one has the file.
  if (client.https && candidates.some((c) => c.mirror.https)) {
    const secure: Candidate[] = [];
    for (const c of candidates) {
      if (c.mirror.https) secure.push(c);
      else if (explain) excluded.push({ mirror: c.mirror, reason: 'http-only' });
    }
    candidates = secure;
  }

  if (candidates.length === 0) return { file, outcome: 'origin', chosen: undefined, ranked: [], excluded };

  candidates.sort(byNearness);
  let chosen: Candidate | undefined;
  if (opts.preferMirror !== undefined) chosen = candidates.find((c) => c.mirror.spec.id === opts.preferMirror);
  chosen ??= pickSticky(candidates, hashString(`${client.ip}\n${path}`), snapshot.routing.bandKm);
  const ranked = [chosen, ...candidates.filter((c) => c !== chosen)];
  return { file, outcome: 'mirror', chosen, ranked, excluded };
}

function exclusionFor(snapshot: Snapshot, m: SnapshotMirror, file: number, client: ClientFacts): ExclusionReason | undefined {
  if (m.exclusion) return m.exclusion;
  if (m.spec.countryOnly && client.country !== m.spec.country) return 'country-only';
  if (!mirrorCarries(snapshot, m, file)) return 'missing-file';
  return undefined;
}

function tierOf(m: SnapshotMirror, client: ClientFacts): Tier {
  if (client.asn !== undefined && m.spec.asn.includes(client.asn)) return 0;
  if (client.country !== undefined && client.country === m.spec.country) return 1;
  if (client.continent !== undefined && client.continent === m.continent) return 2;
  return 3;
}

function byNearness(a: Candidate, b: Candidate): number {
  return a.tier - b.tier || (a.distanceKm ?? 0) - (b.distanceKm ?? 0);
}

/**
 * Weighted rendezvous hashing over the nearest band: each candidate scores -ln(u)/weight
 * with u from hash(client, path, mirror id), lowest wins. The same client and file keep
 * the same mirror on every instance without shared state, and shares follow the weights.
 * A ramping drain gives up part of its weight as "spill", which sends that share on to
 * the next band, so traffic really moves away rather than staying on the only near mirror.
 */
export function pickSticky(sorted: readonly Candidate[], keyHash: number, bandKm: number): Candidate {
  let start = 0;
  while (start < sorted.length) {
    const first = sorted[start]!;
    const limit = (first.distanceKm ?? 0) + bandKm;
    let end = start;
    while (
      end < sorted.length &&
      sorted[end]!.tier === first.tier &&
      (sorted[end]!.distanceKm ?? 0) <= limit
    ) end++;

    let best: Candidate | undefined;
    let bestScore = Infinity;
    let spill = 0;
    for (let i = start; i < end; i++) {
      const c = sorted[i]!;
      spill += c.mirror.spec.weight - c.weight;
      if (c.weight <= 0) continue;
      const score = -Math.log(unitFrom(keyHash, c.mirror.idHash)) / c.weight;
      if (score < bestScore) {
        bestScore = score;
        best = c;
      }
    }
    const more = end < sorted.length;
    if (more && spill > 0 && -Math.log(unitFrom(keyHash, 0x5bd1e995)) / spill < bestScore) best = undefined;
    if (best) return best;
    if (!more) break;
    start = end;
  }
  // Every candidate has weight 0 (or is draining out): the nearest still beats the origin.
  return sorted[0]!;
}
