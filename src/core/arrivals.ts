// When each origin file's current version arrived, as far as we watched: a mirror's last sync is
// compared with it, not only with the file's mtime, since a file copied in with an older mtime kept
// (rsync -a, cp -p) is still new to every mirror that synced before it came.
import type { Arrival, FileIndex } from './fileIndex.js';

/**
 * An arrival as the store keeps it: by path and version, so any instance (or this one after a restart)
 * can match it to its own index. `at` is epoch seconds on this service's clock; `isNew`: the path
 * itself was new (not a changed file), so a mirror without it lacks it rather than holds an old copy.
 */
export interface ArrivalRecord {
  path: string;
  size: number;
  mtime: number | null;
  sha256: string | null;
  at: number;
  isNew: boolean;
  /** The path left the index at `at` (this version was its last): one that comes back is a fresh arrival. */
  gone?: boolean;
}

/** How long arrivals are kept in the store: past it, any mirror still that far behind is long out of rotation. */
export const ARRIVALS_KEPT_SECONDS = 7 * 24 * 3600;

/**
 * The arrivals of index `after`, read `since` (epoch seconds: the look at the origin that showed it, so a
 * mirror whose sync ended before then is not taken to hold it): `carried` are versions `before` already had (with their arrival, where it knew one),
 * `fresh` are versions it did not have, new paths or changed files. A fresh version whose mtime is
 * newer than every mtime `before` held is dated by that mtime, in the clock of the origin and its
 * traces (a changed one then needs no row at all); one that is not (an old mtime kept, or none)
 * arrived at `since`, so no mirror whose last sync is older than that holds it.
 */
export function arrivalsSince(before: FileIndex, after: FileIndex, since: number): { carried: Arrival[]; fresh: Arrival[] } {
  const carried: Arrival[] = [];
  const fresh: Arrival[] = [];
  const newest = newestMtime(before);
  for (let f = 0; f < after.count; f++) {
    const old = before.lookup(after.paths[f]!);
    if (old >= 0 && before.sameVersion(old, after, f)) {
      const known = before.arrival(old);
      if (known) carried.push({ file: f, at: known.at, isNew: known.isNew });
      continue;
    }
    const mtime = after.mtime(f);
    const datedByMtime = mtime !== undefined && mtime > newest;
    // A changed file its mtime dates says nothing its mtime does not: no row (a whole tree touched stays cheap).
    if (datedByMtime && old >= 0) continue;
    fresh.push({ file: f, at: datedByMtime ? mtime : since, isNew: old < 0 });
  }
  return { carried, fresh };
}

/** The newest mtime among the files (epoch seconds), or -Infinity when none is known. */
export function newestMtime(files: FileIndex): number {
  let newest = -Infinity;
  for (let i = 0; i < files.count; i++) {
    const m = files.mtime(i);
    if (m !== undefined && m > newest) newest = m;
  }
  return newest;
}

/** The paths of `before` that `after` lacks, as records of their going at `at`. */
export function goneSince(before: FileIndex, after: FileIndex, at: number): ArrivalRecord[] {
  const out: ArrivalRecord[] = [];
  for (let f = 0; f < before.count; f++) {
    if (after.lookup(before.paths[f]!) >= 0) continue;
    out.push({ ...arrivalRecord(before, { file: f, at, isNew: false }), gone: true });
  }
  return out;
}

export function arrivalRecord(files: FileIndex, a: Arrival): ArrivalRecord {
  return {
    path: files.paths[a.file]!,
    size: files.size(a.file),
    mtime: files.mtime(a.file) ?? null,
    sha256: files.sha256Hex(a.file) ?? null,
    at: a.at,
    isNew: a.isNew,
  };
}

/** The stored arrivals that are of the versions this index holds (others are of versions gone since, or not come yet). */
export function matchArrivals(files: FileIndex, records: Iterable<ArrivalRecord>): Arrival[] {
  const out: Arrival[] = [];
  for (const r of records) {
    if (r.gone) continue;
    const f = files.lookup(r.path);
    if (f >= 0 && sameArrivalVersion(arrivalRecord(files, { file: f, at: r.at, isNew: r.isNew }), r)) out.push({ file: f, at: r.at, isNew: r.isNew });
  }
  return out;
}

/** Whether two records name the same version of a path (size, and mtime and sha-256 where both know them), both there or both gone. */
export function sameArrivalVersion(a: ArrivalRecord, b: ArrivalRecord): boolean {
  return (
    a.path === b.path &&
    (a.gone ?? false) === (b.gone ?? false) &&
    a.size === b.size &&
    (a.mtime === null || b.mtime === null || a.mtime === b.mtime) &&
    (a.sha256 === null || b.sha256 === null || a.sha256 === b.sha256)
  );
}

/**
 * What the store keeps when `incoming` is noted over `stored` (either may be absent): the earlier
 * sighting of one version (every instance then agrees on it), else the later version's.
 */
export function keptArrival(stored: ArrivalRecord | undefined, incoming: ArrivalRecord): ArrivalRecord {
  if (!stored) return incoming;
  if (sameArrivalVersion(stored, incoming)) return stored.at <= incoming.at ? stored : incoming;
  return stored.at > incoming.at ? stored : incoming;
}
