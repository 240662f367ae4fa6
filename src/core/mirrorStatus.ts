// The public summary of every mirror in a snapshot: status, sponsor, sync, share carried.
import type { FileIndex } from './fileIndex.js';
import { mirrorCarries, type FileSetFacts, type MirrorStatus, type Snapshot } from './snapshot.js';

/** A mirror's one-word state as pages and the API show it: the snapshot's, or `pending` for one added by hand and not yet probed up. */
export type SummaryStatus = MirrorStatus | 'pending';

export interface MirrorSummary {
  id: string;
  name: string;
  url: string;
  country: string;
  continent: string | null;
  status: SummaryStatus;
  reason: string | null;
  weight: number;
  bandwidthMbps: number | null;
  countryOnly: boolean;
  sponsor: { name: string; url: string | null; logo: string | null } | null;
  /** From the mirror's trace file; null when it has none we can read (trace files are optional) or before a probe. */
  lastSync: string | null;
  lagSeconds: number | null;
  /**
   * The lag as it reads: its seconds, or "unknown" when not measured, so a script never takes a
   * missing lag for zero. Always set here; optional only for summaries built by hand.
   */
  lag?: number | 'unknown';
  /** Median probe round trip in ms, when probes have measured it. */
  latencyMs: number | null;
  /** Share of the origin's files it carries now, 0..1. */
  share: number;
  files: number;
}

const cache = new WeakMap<Snapshot, MirrorSummary[]>();

/** Computed once per snapshot: counting carried files walks the whole index. */
export function mirrorSummaries(snapshot: Snapshot): MirrorSummary[] {
  const hit = cache.get(snapshot);
  if (hit) return hit;
  const whole = snapshot.fileSet;
  const total = whole ? whole.count : snapshot.files.count;
  const summaries = snapshot.mirrors.map((m): MirrorSummary => {
    let carried = 0;
    if (whole) carried = whole.carried[m.spec.id] ?? 0;
    else carried = carriedCount(snapshot, m);
    const s = m.spec;
    return {
      id: s.id,
      name: s.name,
      url: s.baseUrl,
      country: s.country,
      continent: m.continent ?? null,
      // A pending mirror is out of rotation like a syncing one, but for want of a first good probe.
      status: m.state.pending && m.status === 'syncing' ? 'pending' : m.status,
      reason: m.state.reason ?? null,
      weight: s.weight,
      bandwidthMbps: s.bandwidthMbps ?? null,
      countryOnly: s.countryOnly,
      sponsor: s.sponsor ? { name: s.sponsor.name, url: s.sponsor.url ?? null, logo: s.sponsor.logo ? `/logos/${s.id}` : null } : null,
      lastSync: m.state.lastSync !== undefined ? new Date(m.state.lastSync * 1000).toISOString() : null,
      lagSeconds: lagOf(m.state.lagSeconds),
      lag: lagOf(m.state.lagSeconds) ?? 'unknown',
      latencyMs: m.state.latencyMs !== undefined ? Math.round(m.state.latencyMs * 10) / 10 : null,
      share: total ? carried / total : 0,
      files: carried,
    };
  });
  cache.set(snapshot, summaries);
  return summaries;
}

/** A lag worth showing: a finite, non-negative number of seconds, else null (unknown). */
function lagOf(seconds: number | undefined): number | null {
  return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

const classSizes = new WeakMap<Uint32Array, Uint32Array>();

/** Files per rule class (computed once per rule-class table). */
function sizesOf(fileClass: Uint32Array, classes: number): Uint32Array {
  let sizes = classSizes.get(fileClass);
  if (!sizes) {
    sizes = new Uint32Array(classes);
    for (let f = 0; f < fileClass.length; f++) sizes[fileClass[f]!]!++;
    classSizes.set(fileClass, sizes);
  }
  return sizes;
}

/**
 * How many files a mirror carries now. By rule class where only rules count (no per-file
 * facts), over the inventory's set bits where one exists, file by file only otherwise:
 * a million files × 500 mirrors must not cost 500 million checks per status page.
 */
function carriedCount(snapshot: Snapshot, m: Snapshot['mirrors'][number]): number {
  const { rules } = snapshot;
  if (m.ruleBit < 0) return 0;
  if (!m.inventory && m.lastSync === undefined && !m.missing) {
    const sizes = sizesOf(rules.fileClass, rules.membership.length);
    let n = 0;
    for (let c = 0; c < rules.membership.length; c++) {
      const bits = rules.membership[c]!;
      if ((bits[m.ruleBit >>> 5]! & (1 << (m.ruleBit & 31))) !== 0) n += sizes[c]!;
    }
    return n;
  }
  let n = 0;
  if (m.inventory) {
    const inv = m.inventory;
    for (let w = 0; w < inv.length; w++) {
      let word = inv[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        word &= word - 1;
        const f = (w << 5) + bit;
        if (f < snapshot.files.count && mirrorCarries(snapshot, m, f)) n++;
      }
    }
    return n;
  }
  for (let f = 0; f < snapshot.files.count; f++) if (mirrorCarries(snapshot, m, f)) n++;
  return n;
}

/** The whole-set facts an edge shard cannot count itself: carried files per mirror, examples. */
export function fileSetFacts(snapshot: Snapshot): FileSetFacts {
  if (snapshot.fileSet) return snapshot.fileSet;
  const carried: Record<string, number> = {};
  for (const m of mirrorSummaries(snapshot)) carried[m.id] = m.files;
  return { count: snapshot.files.count, carried, examples: examplePaths(snapshot.files) };
}

const examples = new WeakMap<FileIndex, string[]>();

/** The largest file of each top-level folder: something worth trying on the landing page. */
export function examplePaths(files: FileIndex): string[] {
  const hit = examples.get(files);
  if (hit) return hit;
  const largest = new Map<string, number>();
  for (let f = 0; f < files.count; f++) {
    const top = files.paths[f]!.split('/')[0]!;
    const best = largest.get(top);
    if (best === undefined || files.size(f) > files.size(best)) largest.set(top, f);
  }
  const paths = [...largest.values()].slice(0, 12).map((f) => files.paths[f]!);
  examples.set(files, paths);
  return paths;
}
