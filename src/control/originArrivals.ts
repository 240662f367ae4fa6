// Keeps the origin index's arrivals (core/arrivals.ts) across refreshes, restarts and instances: noted in
// the store as they are seen, so every instance (and this one after a restart) compares the same times.
import { ARRIVALS_KEPT_SECONDS, arrivalRecord, arrivalsSince, matchArrivals, sameArrivalVersion, type ArrivalRecord } from '../core/arrivals.js';
import type { Arrival, FileIndex } from '../core/fileIndex.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../store/store.js';
import type { OriginChange } from './origin.js';

/** Arrivals shared through the store at most per refresh; past it (a whole tree touched at once) they stay this instance's. */
const SHARED_AT_MOST = 100_000;
/** How often the store's old arrivals are forgotten. */
const FORGET_EVERY_MS = 3600_000;
/** Versions gone from the index remembered at most, oldest forgotten first. */
const GONE_AT_MOST = 1_000_000;

/** A version that left the index: its record, `at` NaN where it had no arrival (there from the first load). */
interface GoneVersion {
  record: ArrivalRecord;
  goneAt: number;
}

export class OriginArrivals {
  private lastForget: number;
  /**
   * Versions that left the index, by path: one that comes back unchanged (a manifest read half-written,
   * a file unpublished for a while) is the version mirrors had, not a new arrival.
   */
  private readonly gone = new Map<string, GoneVersion>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.lastForget = clock();
  }

  /** The index as loaded at start, with the arrivals the store remembers for its versions. */
  async atStart(files: FileIndex): Promise<FileIndex> {
    try {
      const arrivals = matchArrivals(files, await this.store.getArrivals(this.cutoff()));
      return arrivals.length > 0 ? files.withArrivals(arrivals) : files;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'origin arrivals could not be read: files changed before this start are judged by their mtime');
      return files;
    }
  }

  /** The new index of a change, with arrivals: those `before` knew for unchanged versions, and now its changes. */
  async after(before: FileIndex, change: OriginChange): Promise<FileIndex> {
    const { files } = change;
    const cutoff = this.cutoff();
    const found = arrivalsSince(before, files, Math.ceil(change.since / 1000));
    const { back, fresh } = this.comeBack(files, found.fresh);
    this.noteGone(before, files, cutoff);
    const kept = [...found.carried, ...back].filter((a) => a.at >= cutoff);
    if (fresh.length > 0) {
      kept.push(...(await this.agreed(files, fresh)));
      const added = fresh.filter((a) => a.isNew).length;
      this.log.info({ added, changed: fresh.length - added }, 'origin files arrived: mirrors get them once their sync, scan or manifest shows them');
    }
    await this.forgetOld(cutoff);
    return kept.length > 0 ? files.withArrivals(kept) : files;
  }

  /** Fresh versions split into those that left the index and came back unchanged (with the arrival they had, if any) and the really new. */
  private comeBack(files: FileIndex, fresh: Arrival[]): { back: Arrival[]; fresh: Arrival[] } {
    if (this.gone.size === 0) return { back: [], fresh };
    const back: Arrival[] = [];
    const rest: Arrival[] = [];
    for (const a of fresh) {
      const path = files.paths[a.file]!;
      const gone = this.gone.get(path);
      if (!gone) {
        rest.push(a);
        continue;
      }
      // Back in another version: a changed file (mirrors may hold the old one), not a new path.
      if (!sameArrivalVersion(gone.record, arrivalRecord(files, a))) {
        rest.push({ ...a, isNew: false });
        continue;
      }
      this.gone.delete(path);
      if (!Number.isNaN(gone.record.at)) back.push({ file: a.file, at: gone.record.at, isNew: gone.record.isNew });
    }
    return { back, fresh: rest };
  }

  /** Remembers the versions of `before` that `after` lacks. */
  private noteGone(before: FileIndex, after: FileIndex, cutoff: number): void {
    const now = this.clock();
    for (let f = 0; f < before.count; f++) {
      const path = before.paths[f]!;
      if (after.lookup(path) >= 0) continue;
      const known = before.arrival(f);
      this.gone.delete(path);
      this.gone.set(path, { record: arrivalRecord(before, known ?? { file: f, at: Number.NaN, isNew: false }), goneAt: now });
    }
    // Oldest first (insertion order): past the cutoff or the cap, forgotten.
    for (const [path, g] of this.gone) {
      if (this.gone.size <= GONE_AT_MOST && g.goneAt / 1000 >= cutoff) break;
      this.gone.delete(path);
    }
  }

  /** Each fresh arrival as the store keeps it (another instance may have seen the version first); its own where the store cannot say. */
  private async agreed(files: FileIndex, fresh: Arrival[]): Promise<Arrival[]> {
    const shared = fresh.slice(0, SHARED_AT_MOST);
    try {
      const stored = matchArrivals(files, await this.store.noteArrivals(shared.map((a) => arrivalRecord(files, a))));
      const at = new Map(stored.map((a) => [a.file, a]));
      return fresh.map((a) => at.get(a.file) ?? a);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, files: fresh.length }, 'origin arrivals could not be noted in the store: this instance alone knows them');
      return fresh;
    }
  }

  private async forgetOld(cutoff: number): Promise<void> {
    if (this.clock() - this.lastForget < FORGET_EVERY_MS) return;
    this.lastForget = this.clock();
    await this.store.getArrivals(cutoff).catch(() => undefined);
  }

  private cutoff(): number {
    return Math.floor(this.clock() / 1000) - ARRIVALS_KEPT_SECONDS;
  }
}
