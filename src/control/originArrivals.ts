// Keeps the origin index's arrivals (core/arrivals.ts) across refreshes, restarts and instances: noted in
// the store as they are seen, so every instance (and this one after a restart) compares the same times.
import { ARRIVALS_KEPT_SECONDS, arrivalRecord, arrivalsSince, goneSince, matchArrivals, type ArrivalRecord } from '../core/arrivals.js';
import type { Arrival, FileIndex } from '../core/fileIndex.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../store/store.js';
import type { OriginChange } from './origin.js';

/** Arrivals shared through the store at most per refresh; past it (a whole tree touched at once) they stay this instance's. */
const SHARED_AT_MOST = 100_000;
/** How often the store's old arrivals are forgotten. */
const FORGET_EVERY_MS = 3600_000;

export class OriginArrivals {
  private lastForget: number;

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

  /**
   * The new index of a change, with arrivals: those `before` knew for unchanged versions, and now its changes.
   * A path that left the index is noted gone (in the store too), so if it comes back it is a fresh arrival:
   * mirrors that synced while it was away deleted their copies.
   */
  async after(before: FileIndex, change: OriginChange): Promise<FileIndex> {
    const { files } = change;
    const cutoff = this.cutoff();
    const since = Math.ceil(change.since / 1000);
    const { carried, fresh } = arrivalsSince(before, files, since);
    const kept = carried.filter((a) => a.at >= cutoff);
    const gone = goneSince(before, files, since);
    if (fresh.length > 0 || gone.length > 0) kept.push(...(await this.agreed(files, fresh, gone)));
    if (fresh.length > 0) {
      const added = fresh.filter((a) => a.isNew).length;
      this.log.info({ added, changed: fresh.length - added }, 'origin files arrived: mirrors get them once their sync, scan or manifest shows them');
    }
    await this.forgetOld(cutoff);
    return kept.length > 0 ? files.withArrivals(kept) : files;
  }

  /**
   * Each fresh arrival as the store keeps it (another instance may have seen the version first); its own
   * where the store cannot say. The paths `gone` are noted with them.
   */
  private async agreed(files: FileIndex, fresh: Arrival[], gone: ArrivalRecord[]): Promise<Arrival[]> {
    const shared = fresh.slice(0, SHARED_AT_MOST);
    try {
      const records = [...shared.map((a) => arrivalRecord(files, a)), ...gone.slice(0, Math.max(0, SHARED_AT_MOST - shared.length))];
      const stored = matchArrivals(files, await this.store.noteArrivals(records));
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
