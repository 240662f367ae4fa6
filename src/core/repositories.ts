// Repository mirror lists: which mirrors hold a whole repository folder current, ranked for one client (apt's mirror+http).
//
// apt reads one list per sources.list entry and then fetches every suite's InRelease and indexes from
// the base URLs in it, straight from the mirror. A base URL is only safe when every consistency group
// below the folder (each suite's Release, each repodata/) is whole on that mirror.
import { DEFAULT_CONSISTENCY_RULES } from './consistency.js';
import { decide, type Candidate, type Exclusion } from './decide.js';
import type { ClientFacts } from './model.js';
import type { Snapshot } from './snapshot.js';

export interface RepositoryRanking {
  /** Leader files (a Release, a repomd.xml) below the folder: what every listed mirror must hold. */
  readonly leaders: readonly number[];
  /** Mirrors holding every leader current, best first (the first leader's pick leads). */
  readonly ranked: readonly Candidate[];
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

/** Whether any origin file lies below `folder`. */
export function isFolder(snapshot: Snapshot, folder: string): boolean {
  if (folder === '') return snapshot.files.count > 0;
  const prefix = `${folder}/`;
  return snapshot.files.paths.some((p) => p.startsWith(prefix));
}

/** The mirrors that hold every repository index below `folder` current, ranked for this client. */
export function rankRepositoryMirrors(snapshot: Snapshot, folder: string, client: ClientFacts, nowMs: number): RepositoryRanking {
  const leaders = leadersBelow(snapshot, folder);
  if (leaders.length === 0) return { leaders, ranked: [], excluded: [] };
  const reasons = new Map<number, Exclusion>();
  let ranked: Candidate[] | undefined;
  for (const f of leaders) {
    const d = decide(snapshot, snapshot.files.paths[f]!, client, { nowMs, explain: true });
    for (const e of d.excluded) if (!reasons.has(e.mirror.index)) reasons.set(e.mirror.index, e);
    ranked ??= [...d.ranked];
  }
  return {
    leaders,
    ranked: ranked!.filter((c) => !reasons.has(c.mirror.index)),
    excluded: [...reasons.values()].sort((a, b) => a.mirror.index - b.mirror.index),
  };
}
