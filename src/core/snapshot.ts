// Compiles mirrors, their live state, the origin index and inventories into one immutable routing snapshot.
import { bitGet, ruleClassesFor, ruleKey, type RuleClasses } from './availability.js';
import { countryInfo } from './countries.js';
import type { FileIndex } from './fileIndex.js';
import { hashString } from './hash.js';
import type { Continent, ExclusionReason, MirrorSpec, MirrorState } from './model.js';
import { routingTablesFor } from './routingTables.js';

/** What /mirrors shows: the one-word state of a mirror. */
export type MirrorStatus = 'up' | 'down' | 'draining' | 'syncing' | 'disabled' | 'unknown';

export interface RoutingOptions {
  /** Mirrors within this many km of the nearest eligible one (same tier) share the traffic. */
  bandKm: number;
  /** How many alternatives the Link header and metalink carry besides the pick. */
  maxAlternatives: number;
  /** A mirror lagging more than this is `syncing` and gets no downloads. */
  maxLagSeconds: number;
}

export interface SnapshotMirror {
  readonly index: number;
  readonly spec: MirrorSpec;
  readonly state: MirrorState;
  readonly status: MirrorStatus;
  readonly https: boolean;
  readonly continent: Continent | undefined;
  readonly lat: number;
  readonly lon: number;
  /** Unit vector of the location, so a distance is one dot product on the hot path. */
  readonly x: number;
  readonly y: number;
  readonly z: number;
  /** Hash of the id: rendezvous scores stay stable across instances and config order. */
  readonly idHash: number;
  // Copies of nested facts the hot path reads for every candidate (one property load each).
  readonly country: string;
  readonly countryOnly: boolean;
  readonly weight: number;
  readonly drain: MirrorState['drain'];
  readonly lastSync: number | undefined;
  readonly asn: readonly number[];
  readonly ruleBit: number;
  /** Compiled inventory (bit per file), or undefined when only the rules are known. */
  readonly inventory: Uint32Array | undefined;
  /** File numbers a probe found missing since the last scan. */
  readonly missing: ReadonlySet<number> | undefined;
  /** Set when the mirror is out for every request (disabled, down, lagging, fully drained). */
  readonly exclusion: ExclusionReason | undefined;
}

export interface Snapshot {
  readonly version: number;
  readonly builtAtMs: number;
  readonly files: FileIndex;
  readonly mirrors: readonly SnapshotMirror[];
  readonly byId: ReadonlyMap<string, number>;
  readonly rules: RuleClasses;
  /**
   * For each rule class, the mirrors whose rules cover it and that are not out for every
   * request: the redirect path loops over these few instead of every mirror.
   */
  readonly activeByClass: readonly Int32Array[];
  readonly origin: { readonly baseUrl: string };
  readonly routing: RoutingOptions;
  /**
   * Facts about the whole file set when this snapshot holds only part of it (an edge shard):
   * what the status pages count, computed where the whole set is known.
   */
  readonly fileSet?: FileSetFacts;
}

export interface FileSetFacts {
  readonly count: number;
  /** Files each mirror (by id) carries now. */
  readonly carried: Readonly<Record<string, number>>;
  /** A few paths worth trying, for the landing page. */
  readonly examples: readonly string[];
}

export interface SnapshotInput {
  version: number;
  nowMs: number;
  files: FileIndex;
  mirrors: readonly MirrorSpec[];
  states: ReadonlyMap<string, MirrorState>;
  /** Inventories compiled against `files` (see compileInventory / rebaseInventory). */
  inventories: ReadonlyMap<string, Uint32Array>;
  origin: { baseUrl: string };
  routing: RoutingOptions;
  /** The snapshot being replaced; its rule classes are reused when still valid. */
  previous?: Snapshot;
  /** Rule classes computed elsewhere (a decoded snapshot at the edge), used as they are. */
  rules?: RuleClasses;
}

const DEG = Math.PI / 180;

export function buildSnapshot(input: SnapshotInput): Snapshot {
  const rules = input.rules ?? ruleClassesFor(input.files, input.mirrors, input.previous?.rules);
  const byId = new Map<string, number>();
  const mirrors = input.mirrors.map((spec, index): SnapshotMirror => {
    byId.set(spec.id, index);
    const state = input.states.get(spec.id) ?? { health: 'unknown' };
    const place = countryInfo(spec.country);
    const lat = spec.lat ?? place?.lat ?? 0;
    const lon = spec.lon ?? place?.lon ?? 0;
    const exclusion = baseExclusion(spec, state, input.routing, input.nowMs);
    return {
      index,
      spec,
      state,
      status: statusOf(spec, state, exclusion),
      https: spec.baseUrl.startsWith('https:'),
      continent: place?.continent,
      lat,
      lon,
      x: Math.cos(lat * DEG) * Math.cos(lon * DEG),
      y: Math.cos(lat * DEG) * Math.sin(lon * DEG),
      z: Math.sin(lat * DEG),
      idHash: hashString(spec.id),
      country: spec.country,
      countryOnly: spec.countryOnly,
      weight: spec.weight,
      drain: state.drain,
      lastSync: state.lastSync,
      asn: spec.asn,
      ruleBit: rules.ruleKeys.indexOf(ruleKey(spec.content)),
      inventory: input.inventories.get(spec.id),
      missing: missingSet(state.missing, input.files),
      exclusion,
    };
  });
  const activeByClass = rules.membership.map((classBits) =>
    Int32Array.from(
      mirrors.filter((m) => !m.exclusion && m.ruleBit >= 0 && bitGet(classBits, m.ruleBit)).map((m) => m.index),
    ),
  );
  // decide()'s column tables, made here rather than on the first request after a swap.
  routingTablesFor(mirrors, input.previous?.mirrors);
  return {
    version: input.version,
    builtAtMs: input.nowMs,
    files: input.files,
    mirrors,
    byId,
    rules,
    activeByClass,
    origin: input.origin,
    routing: input.routing,
  };
}

function baseExclusion(
  spec: MirrorSpec,
  state: MirrorState,
  routing: RoutingOptions,
  nowMs: number,
): ExclusionReason | undefined {
  if (!spec.enabled) return 'disabled';
  if (state.launching) return 'not-launched';
  if (state.drain && drainFactor(state.drain, nowMs) <= 0) return 'draining';
  if (state.health === 'down') return 'down';
  if (state.lagSeconds !== undefined && state.lagSeconds > routing.maxLagSeconds) return 'lagging';
  return undefined;
}

function statusOf(spec: MirrorSpec, state: MirrorState, exclusion: ExclusionReason | undefined): MirrorStatus {
  if (exclusion === 'disabled') return 'disabled';
  if (state.drain) return 'draining';
  if (exclusion === 'down') return 'down';
  if (exclusion === 'lagging' || exclusion === 'not-launched') return 'syncing';
  return state.health === 'unknown' ? 'unknown' : 'up';
}

function missingSet(paths: readonly string[] | undefined, files: FileIndex): ReadonlySet<number> | undefined {
  if (!paths || paths.length === 0) return undefined;
  const set = new Set<number>();
  for (const p of paths) {
    const f = files.lookup(p);
    if (f >= 0) set.add(f);
  }
  return set.size ? set : undefined;
}

/** Remaining share of a draining mirror: 1 → 0 linearly over the ramp, 0 at once without one. */
export function drainFactor(drain: { startMs: number; overMs: number }, nowMs: number): number {
  if (drain.overMs <= 0) return 0;
  const left = 1 - (nowMs - drain.startMs) / drain.overMs;
  return left <= 0 ? 0 : left > 1 ? 1 : left;
}

/**
 * Whether mirror m holds the current copy of file f, ignoring health: its rules cover the
 * file, and its inventory lists the current copy (or, before any inventory, its last sync
 * is not older than the file).
 */
export function mirrorCarries(snapshot: Snapshot, m: SnapshotMirror, f: number): boolean {
  const cls = snapshot.rules.fileClass[f]!;
  if (m.ruleBit < 0 || !bitGet(snapshot.rules.membership[cls]!, m.ruleBit)) return false;
  if (m.missing?.has(f)) return false;
  if (m.inventory) return bitGet(m.inventory, f);
  const lastSync = m.state.lastSync;
  if (lastSync === undefined) return true;
  const mtime = snapshot.files.mtime(f);
  return mtime === undefined || mtime <= lastSync;
}
