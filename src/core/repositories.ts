// Repository mirror lists: which mirrors hold a whole repository folder current, ranked for one client (apt's mirror+http).
//
// apt reads one list per sources.list entry and then fetches every suite's InRelease and indexes from
// the base URLs in it, straight from the mirror. A base URL is only safe when every consistency group
// below the folder (each suite's Release, each repodata/) is whole on that mirror.
import { DEFAULT_CONSISTENCY_RULES } from './consistency.js';
import { decide, type Candidate, type Exclusion } from './decide.js';
import type { FileIndex } from './fileIndex.js';
import type { ClientFacts } from './model.js';
import { mirrorCarries, type Snapshot, type SnapshotMirror } from './snapshot.js';

export interface RepositoryRanking {
  /** Leader files (a Release, a repomd.xml) below the folder: what every listed mirror must hold. */
  readonly leaders: readonly number[];
  /**
   * Mirrors holding every leader current: first those holding every file below the folder current
   * (apt takes pool files from the list too), then the others; each part best first.
   */
  readonly ranked: readonly Candidate[];
  /** How many of `ranked` (from the start) hold every file below the folder current. */
  readonly complete: number;
  /** The others, each with the first reason found. */
  readonly excluded: readonly Exclusion[];
}

const LEADER_NAMES = new Set(DEFAULT_CONSISTENCY_RULES.flatMap((r) => r.leaders));

/**
 * The leader files below `folder` ("" for the whole file set, else a path without a trailing slash).
 * The control plane's snapshot knows its configured groups; a snapshot without them (the edge) falls
 * back to the default leader names among the files it has.
 */
export function leadersBelow(snapshot: Snapshot, folder: string): number[] {
  const prefix = folder === '' ? '' : `${folder}/`;
  const out: number[] = [];
  if (snapshot.consistency) {
    for (const g of snapshot.consistency.groups) {
      if (g.folder === folder || g.folder.startsWith(prefix)) for (const f of g.leaders) out.push(f);
    }
  } else {
    const paths = snapshot.files.paths;
    for (let f = 0; f < paths.length; f++) {
      const p = paths[f]!;
      if (p.startsWith(prefix) && LEADER_NAMES.has(p.slice(p.lastIndexOf('/') + 1))) out.push(f);
    }
  }
  return out.sort((a, b) => a - b);
}

/** The mirrors that hold every repository index below `folder` current, ranked for this client. */
export function rankRepositoryMirrors(snapshot: Snapshot, folder: string, client: ClientFacts, nowMs: number): RepositoryRanking {
  const leaders = leadersBelow(snapshot, folder);
  if (leaders.length === 0) return { leaders, ranked: [], complete: 0, excluded: [] };
  const reasons = new Map<number, Exclusion>();
  let ranked: Candidate[] | undefined;
  for (const f of leaders) {
    const d = decide(snapshot, snapshot.files.paths[f]!, client, { nowMs, explain: true });
    for (const e of d.excluded) if (!reasons.has(e.mirror.index)) reasons.set(e.mirror.index, e);
    ranked ??= [...d.ranked];
  }
  const holders = ranked!.filter((c) => !reasons.has(c.mirror.index));
  const below = filesBelow(snapshot.files, folder);
  const complete = holders.filter((c) => holdsAll(snapshot, c.mirror, below));
  return {
    leaders,
    ranked: [...complete, ...holders.filter((c) => !complete.includes(c))],
    complete: complete.length,
    excluded: [...reasons.values()].sort((a, b) => a.mirror.index - b.mirror.index),
  };
}

// The files below a folder, per origin index: a few folders are asked for again and again (one per sources.list line).
const belowCache = new WeakMap<FileIndex, Map<string, Int32Array>>();
const BELOW_CACHE_FOLDERS = 64;

function filesBelow(files: FileIndex, folder: string): Int32Array {
  let byFolder = belowCache.get(files);
  if (!byFolder) belowCache.set(files, (byFolder = new Map()));
  const hit = byFolder.get(folder);
  if (hit) return hit;
  const prefix = folder === '' ? '' : `${folder}/`;
  const out: number[] = [];
  for (let f = 0; f < files.count; f++) if (files.paths[f]!.startsWith(prefix)) out.push(f);
  if (byFolder.size >= BELOW_CACHE_FOLDERS) byFolder.delete(byFolder.keys().next().value!);
  const list = Int32Array.from(out);
  byFolder.set(folder, list);
  return list;
}

// Per snapshot mirror (its inventory, rules and findings are fixed in it): folder → holds every file below it.
const holdsAllCache = new WeakMap<SnapshotMirror, Map<Int32Array, boolean>>();

function holdsAll(snapshot: Snapshot, m: SnapshotMirror, below: Int32Array): boolean {
  let byFolder = holdsAllCache.get(m);
  if (!byFolder) holdsAllCache.set(m, (byFolder = new Map()));
  let answer = byFolder.get(below);
  if (answer === undefined) {
    answer = true;
    for (const f of below) {
      if (!mirrorCarries(snapshot, m, f)) {
        answer = false;
        break;
      }
    }
    byFolder.set(below, answer);
  }
  return answer;
}
