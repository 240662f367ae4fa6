// Consistency groups: a repository's signed index (Release, repomd.xml) goes to a mirror only when its whole folder is current there.
//
// apt fetches dists/<suite>/InRelease through us and then every index of that suite straight from the
// same mirror; dnf does the same with repodata/repomd.xml and repodata/*. A mirror caught mid-sync
// (new Release, old Packages.gz) would fail every client it gets ("File has unexpected size … Mirror
// sync in progress?"). So the leaders of a group are held back from a mirror until every member is.
import { bitGet, type RuleClasses } from './availability.js';
import type { FileIndex } from './fileIndex.js';
import { linearGlob } from './globMatch.js';

/** One kind of group, as configured: folders matching `folder` whose `leaders` stand for all files below. */
export interface ConsistencyRule {
  /** A glob over folder paths (no trailing slash), e.g. "**\/dists/*". */
  readonly folder: string;
  /** File names directly in such a folder that describe the whole folder. */
  readonly leaders: readonly string[];
}

/** What a real network needs without configuration: Debian/Ubuntu suites and rpm repositories. */
export const DEFAULT_CONSISTENCY_RULES: readonly ConsistencyRule[] = [
  { folder: '**/dists/*', leaders: ['Release', 'InRelease', 'Release.gpg'] },
  { folder: '**/repodata', leaders: ['repomd.xml', 'repomd.xml.asc', 'repomd.xml.key'] },
];

/** One folder of the origin that forms a group: its leader files and every file below it. */
export interface ConsistencyGroup {
  readonly folder: string;
  readonly leaders: Int32Array;
  /** Every file below the folder, leaders included. */
  readonly members: Int32Array;
  /** The newest FileIndex.syncKey among the members (-Infinity when none is known). */
  readonly newestSyncKey: number;
}

export interface ConsistencyGroups {
  readonly files: FileIndex;
  readonly groups: readonly ConsistencyGroup[];
  /** Group number of each member file (the deepest group when folders nest). */
  readonly groupOf: ReadonlyMap<number, number>;
}

const compiled = new WeakMap<FileIndex, { key: string; groups: ConsistencyGroups }>();

/** The groups of an origin index under `rules`, computed once per index (and rule set). */
export function consistencyGroupsFor(files: FileIndex, rules: readonly ConsistencyRule[]): ConsistencyGroups {
  const key = JSON.stringify(rules);
  const hit = compiled.get(files);
  if (hit && hit.key === key) return hit.groups;
  const groups = compileConsistencyGroups(files, rules);
  compiled.set(files, { key, groups });
  return groups;
}

export function compileConsistencyGroups(files: FileIndex, rules: readonly ConsistencyRule[]): ConsistencyGroups {
  // Folders holding a leader: found from the leaders' names, so the rest of the index is not globbed.
  // Linear-time matching, like the mirrors' content globs: no pattern can pin the CPU.
  const matchers = rules.map((r) => ({ names: new Set(r.leaders), isFolder: linearGlob(r.folder) }));
  const leaderNames = new Set(rules.flatMap((r) => r.leaders));
  const folders = new Map<string, { leaders: number[]; members: number[] }>();
  const paths = files.paths;
  for (let f = 0; f < files.count; f++) {
    const path = paths[f]!;
    const slash = path.lastIndexOf('/');
    if (!leaderNames.has(path.slice(slash + 1))) continue;
    const folder = slash < 0 ? '' : path.slice(0, slash);
    const name = path.slice(slash + 1);
    if (!matchers.some((m) => m.names.has(name) && m.isFolder(folder))) continue;
    let g = folders.get(folder);
    if (!g) folders.set(folder, (g = { leaders: [], members: [] }));
    g.leaders.push(f);
  }
  if (folders.size === 0) return { files, groups: [], groupOf: new Map() };

  // Members: every file whose ancestor is a group folder. Only the depths where group folders are
  // need a look, so a million files cost a few map lookups each.
  const depths = [...new Set([...folders.keys()].map(segments))].sort((a, b) => b - a);
  const order = [...folders.keys()];
  const number = new Map(order.map((folder, i) => [folder, i]));
  const groupOf = new Map<number, number>();
  for (let f = 0; f < files.count; f++) {
    const path = paths[f]!;
    for (const depth of depths) {
      const end = nthSlash(path, depth);
      if (end < 0) continue;
      const g = number.get(path.slice(0, end));
      if (g !== undefined) {
        folders.get(order[g]!)!.members.push(f);
        if (!groupOf.has(f)) groupOf.set(f, g);
      }
    }
  }
  const groups = order.map((folder): ConsistencyGroup => {
    const g = folders.get(folder)!;
    let newest = -Infinity;
    for (const f of g.members) {
      const k = files.syncKey(f);
      if (k > newest) newest = k;
    }
    return { folder, leaders: Int32Array.from(g.leaders), members: Int32Array.from(g.members), newestSyncKey: newest };
  });
  return { files, groups, groupOf };
}

/** Number of segments of a folder path ("" has none). */
function segments(folder: string): number {
  if (folder === '') return 0;
  let n = 1;
  for (let i = 0; i < folder.length; i++) if (folder.charCodeAt(i) === 0x2f) n++;
  return n;
}

/** Index of the slash that ends the first `n` segments (0 for n = 0), or -1 when the path is not that deep below. */
function nthSlash(path: string, n: number): number {
  if (n === 0) return 0;
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = path.indexOf('/', at + 1);
    if (at < 0) return -1;
  }
  return at;
}

/** What decides whether one mirror holds a file, before groups: as mirrorCarries reads it. */
export interface MirrorHolding {
  readonly ruleBit: number;
  readonly inventory: Uint32Array | undefined;
  /** Files a probe found missing or wrong. */
  readonly missing: ReadonlySet<number> | undefined;
  readonly lastSync: number | undefined;
}

// Per rule classes: for each group, the distinct classes of its members (rules-only mirrors need no member loop).
const groupClasses = new WeakMap<RuleClasses, { groups: ConsistencyGroups; classes: Uint32Array[] }>();
// Per inventory: the answer for the groups, rules and probe findings it was computed with.
const inventoryAnswers = new WeakMap<
  Uint32Array,
  { groups: ConsistencyGroups; rules: RuleClasses; ruleBit: number; missing: ReadonlySet<number> | undefined; heldBack: ReadonlySet<number> | undefined }
>();

/**
 * The leader files this mirror must not be sent for: those of every group not whole on it (a member
 * its rules leave out, its inventory lacks or lists with another size or mtime, that a probe found
 * missing, or that changed at the origin after its last sync). Undefined when none.
 */
export function heldBackLeaders(groups: ConsistencyGroups, rules: RuleClasses, m: MirrorHolding): ReadonlySet<number> | undefined {
  if (groups.groups.length === 0) return undefined;
  if (m.ruleBit < 0) return undefined; // it carries nothing, leaders included
  if (m.inventory) {
    const hit = inventoryAnswers.get(m.inventory);
    if (hit && hit.groups === groups && hit.rules === rules && hit.ruleBit === m.ruleBit && hit.missing === m.missing) return hit.heldBack;
    const heldBack = collect(groups, (g) => inventoryHolds(g, rules, m));
    inventoryAnswers.set(m.inventory, { groups, rules, ruleBit: m.ruleBit, missing: m.missing, heldBack });
    return heldBack;
  }
  const classes = classesOf(groups, rules);
  const brokenByProbe = new Set<number>();
  if (m.missing)
    for (const f of m.missing) {
      const g = groups.groupOf.get(f);
      if (g !== undefined) brokenByProbe.add(g);
    }
  return collect(groups, (g, i) => {
    if (brokenByProbe.has(i)) return false;
    if (m.lastSync !== undefined && g.newestSyncKey > m.lastSync) return false;
    for (const cls of classes[i]!) if (!bitGet(rules.membership[cls]!, m.ruleBit)) return false;
    return true;
  });
}

function inventoryHolds(g: ConsistencyGroup, rules: RuleClasses, m: MirrorHolding): boolean {
  const inventory = m.inventory!;
  for (const f of g.members) {
    if ((inventory[f >>> 5]! & (1 << (f & 31))) === 0) return false;
    if (m.missing?.has(f)) return false;
    if (!bitGet(rules.membership[rules.fileClass[f]!]!, m.ruleBit)) return false;
  }
  return true;
}

function collect(groups: ConsistencyGroups, whole: (g: ConsistencyGroup, i: number) => boolean): ReadonlySet<number> | undefined {
  let out: Set<number> | undefined;
  groups.groups.forEach((g, i) => {
    if (whole(g, i)) return;
    out ??= new Set();
    for (const f of g.leaders) out.add(f);
  });
  return out;
}

function classesOf(groups: ConsistencyGroups, rules: RuleClasses): Uint32Array[] {
  const hit = groupClasses.get(rules);
  if (hit && hit.groups === groups) return hit.classes;
  const classes = groups.groups.map((g) => Uint32Array.from(new Set(Array.from(g.members, (f) => rules.fileClass[f]!))));
  groupClasses.set(rules, { groups, classes });
  return classes;
}
