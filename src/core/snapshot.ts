// Compiles mirrors, their live state, the origin index and inventories into one immutable routing snapshot.
import { bitGet, ruleClassesFor, ruleKey, type RuleClasses } from './availability.js';
import { consistencyGroupsFor, heldBackLeaders, type ConsistencyGroups, type ConsistencyRule } from './consistency.js';
import { countryInfo } from './countries.js';
import type { FileIndex } from './fileIndex.js';
import { hashString } from './hash.js';
import type { ExclusionReason, MirrorSpec, MirrorState } from './model.js';
import { routingTablesFor } from './routingTables.js';
import type { MirrorStatus, RoutingOptions, SnapshotMirror } from './snapshotMirror.js';

export type { MirrorStatus, RoutingOptions, SnapshotMirror } from './snapshotMirror.js';

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
  /** The consistency groups of the file set, where this snapshot computed them (the control plane). */
  readonly consistency?: ConsistencyGroups;
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
  /** Per inventory, the files it lists in any version, where some are not current (see compileListing). */
  listings?: ReadonlyMap<string, Uint32Array>;
  /**
   * Consistency groups to hold leaders back by. Given (the control plane), the held-back leaders are
   * computed and written into each mirror's state as `heldBack` paths; left out (an edge decoding a
   * snapshot or a shard, which may not have the whole file set), those paths are used as they are.
   */
  consistency?: readonly ConsistencyRule[];
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
  const groups = input.consistency ? consistencyGroupsFor(input.files, input.consistency) : undefined;
  const mirrors = input.mirrors.map((spec, index): SnapshotMirror => {
    byId.set(spec.id, index);
    let state = input.states.get(spec.id) ?? { health: 'unknown' };
    const place = countryInfo(spec.country);
    const lat = spec.lat ?? place?.lat ?? 0;
    const lon = spec.lon ?? place?.lon ?? 0;
    const exclusion = baseExclusion(spec, state, input.routing, input.nowMs);
    const ruleBit = rules.ruleKeys.indexOf(ruleKey(spec.content));
    const inventory = input.inventories.get(spec.id);
    const probeMissing = fileNumbers(state.missing, input.files);
    // Routing goes by the last sync, else by how far the rules are trusted (MirrorState.trustedTo).
    const lastSync = state.lastSync ?? state.trustedTo;
    let heldBack: ReadonlySet<number> | undefined;
    if (groups) {
      heldBack = heldBackLeaders(groups, rules, { ruleBit, inventory, missing: probeMissing, lastSync });
      // Written into the state so the snapshot codecs carry it to the edge as paths.
      const paths = heldBack ? [...heldBack].sort((a, b) => a - b).map((f) => input.files.paths[f]!) : undefined;
      if (paths || state.heldBack) state = { ...state, heldBack: paths };
      if (!paths) delete (state as { heldBack?: unknown }).heldBack;
    } else {
      heldBack = fileNumbers(state.heldBack, input.files);
    }
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
      lastSync,
      asn: spec.asn,
      ruleBit,
      inventory,
      listed: inventory ? input.listings?.get(spec.id) : undefined,
      missing: union(probeMissing, heldBack),
      heldBack,
      exclusion,
    };
  });
  const activeByClass = rules.membership.map((classBits) =>
    Int32Array.from(mirrors.filter((m) => !m.exclusion && m.ruleBit >= 0 && bitGet(classBits, m.ruleBit)).map((m) => m.index)),
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
    ...(groups ? { consistency: groups } : {}),
  };
}

function baseExclusion(spec: MirrorSpec, state: MirrorState, routing: RoutingOptions, nowMs: number): ExclusionReason | undefined {
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

/** Paths (a state's `missing` or `heldBack`) as file numbers of `files`; absent ones are left out. */
export function fileNumbers(paths: readonly string[] | undefined, files: FileIndex): ReadonlySet<number> | undefined {
  if (!paths || paths.length === 0) return undefined;
  const set = new Set<number>();
  for (const p of paths) {
    const f = files.lookup(p);
    if (f >= 0) set.add(f);
  }
  return set.size ? set : undefined;
}

/** What is off a mirror for every request: probe findings and held-back leaders together. */
export function union(a: ReadonlySet<number> | undefined, b: ReadonlySet<number> | undefined): ReadonlySet<number> | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Set([...a, ...b]);
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
  return m.missing?.has(f) !== true && holdsCurrent(snapshot, m, f);
}

/**
 * Why mirror m does not carry file f (it does not: see mirrorCarries). `stale-copy` when it holds
 * another version (its inventory lists the path, or the file changed at the origin after its last
 * sync); `incomplete-group` when it holds this one but not the rest of the file's consistency group.
 */
export function whyNotCarried(snapshot: Snapshot, m: SnapshotMirror, f: number): 'missing-file' | 'stale-copy' | 'incomplete-group' {
  const cls = snapshot.rules.fileClass[f]!;
  if (m.ruleBit < 0 || !bitGet(snapshot.rules.membership[cls]!, m.ruleBit)) return 'missing-file';
  if (m.heldBack?.has(f) && holdsCurrent(snapshot, m, f) && !probeFoundMissing(m, f)) return 'incomplete-group';
  if (probeFoundMissing(m, f)) return 'missing-file';
  if (m.inventory) return bitGet(m.inventory, f) ? 'missing-file' : m.listed && bitGet(m.listed, f) ? 'stale-copy' : 'missing-file';
  // Rules said it would be there: it is an older copy, unless the file is new at the origin since we watched.
  return snapshot.files.arrival(f)?.isNew ? 'missing-file' : 'stale-copy';
}

function probeFoundMissing(m: SnapshotMirror, f: number): boolean {
  return m.missing?.has(f) === true && m.heldBack?.has(f) !== true;
}

/** mirrorCarries before probe findings and groups: the rules and the inventory (or the last sync). */
function holdsCurrent(snapshot: Snapshot, m: SnapshotMirror, f: number): boolean {
  const cls = snapshot.rules.fileClass[f]!;
  if (m.ruleBit < 0 || !bitGet(snapshot.rules.membership[cls]!, m.ruleBit)) return false;
  if (m.inventory) return bitGet(m.inventory, f);
  const lastSync = m.lastSync;
  if (lastSync === undefined) return true;
  const key = snapshot.files.syncKey(f);
  return key === -Infinity || key <= lastSync;
}
