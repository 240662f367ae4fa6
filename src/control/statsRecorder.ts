// Counts downloads off the hot path: deduplicated per client and file for ten minutes, flushed to the store in batches.
import type { StatsBatch, Store } from '../store/store.js';

export interface DownloadEvent {
  ip: string;
  path: string;
  /** Mirror id, or "origin". */
  mirror: string;
  /** Client country, or "--" when unknown. */
  country: string;
  size: number;
  atMs: number;
}

export interface StatsRecorderOptions {
  store: Store;
  flushEveryMs?: number;
  /** A client fetching the same file again within this window is one download (segmented clients). */
  dedupeWindowMs?: number;
  /** Bound on remembered (client, file) pairs; the oldest are forgotten first. */
  maxRemembered?: number;
  log?: { warn(obj: object, msg?: string): void };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class StatsRecorder {
  private readonly store: Store;
  private readonly dedupeWindowMs: number;
  private readonly maxRemembered: number;
  private readonly log: StatsRecorderOptions['log'];
  /** key → epoch ms first counted; Map keeps insertion order, so the oldest come first. */
  private readonly seen = new Map<string, number>();
  private downloads = new Map<string, { day: string; mirror: string; country: string; count: number; bytes: number }>();
  private files = new Map<string, { day: string; mirror: string; path: string; count: number }>();
  private impressions = new Map<string, { day: string; mirror: string; count: number }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(opts: StatsRecorderOptions) {
    this.store = opts.store;
    this.dedupeWindowMs = opts.dedupeWindowMs ?? 10 * 60_000;
    this.maxRemembered = opts.maxRemembered ?? 1_000_000;
    this.log = opts.log;
    this.timer = setInterval(() => void this.flush(), opts.flushEveryMs ?? 5_000);
    this.timer.unref();
  }

  /** Synchronous and allocation-light: it runs on every redirect. */
  download(e: DownloadEvent): void {
    const key = `${e.ip}\n${e.path}`;
    const first = this.seen.get(key);
    if (first !== undefined && e.atMs - first < this.dedupeWindowMs) return;
    if (first !== undefined) this.seen.delete(key);
    this.seen.set(key, e.atMs);
    this.forgetOld(e.atMs);

    const d = day(e.atMs);
    const dk = `${d}|${e.mirror}|${e.country}`;
    const row = this.downloads.get(dk);
    if (row) {
      row.count++;
      row.bytes += e.size;
    } else {
      this.downloads.set(dk, { day: d, mirror: e.mirror, country: e.country, count: 1, bytes: e.size });
    }
    const fk = `${d}|${e.mirror}|${e.path}`;
    const frow = this.files.get(fk);
    if (frow) frow.count++;
    else this.files.set(fk, { day: d, mirror: e.mirror, path: e.path, count: 1 });
  }

  impression(mirror: string, atMs: number): void {
    const d = day(atMs);
    const k = `${d}|${mirror}`;
    const row = this.impressions.get(k);
    if (row) row.count++;
    else this.impressions.set(k, { day: d, mirror, count: 1 });
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.seen) {
      if (now - at < this.dedupeWindowMs && this.seen.size <= this.maxRemembered) break;
      this.seen.delete(key);
    }
  }

  /** Writes what is pending; on failure the batch is kept and merged into the next one, so nothing is lost. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.downloads.size === 0 && this.files.size === 0 && this.impressions.size === 0) return;
    const batch: StatsBatch = {
      downloads: [...this.downloads.values()],
      files: [...this.files.values()],
      impressions: [...this.impressions.values()],
    };
    this.downloads = new Map();
    this.files = new Map();
    this.impressions = new Map();
    this.flushing = this.store
      .addStats(batch)
      .catch((err: unknown) => {
        this.log?.warn({ err: (err as Error).message, rows: batch.downloads.length }, 'stats flush failed; will retry');
        this.requeue(batch);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private requeue(batch: StatsBatch): void {
    for (const r of batch.downloads) {
      const k = `${r.day}|${r.mirror}|${r.country}`;
      const cur = this.downloads.get(k);
      if (cur) {
        cur.count += r.count;
        cur.bytes += r.bytes;
      } else this.downloads.set(k, { ...r });
    }
    for (const r of batch.files) {
      const mirror = r.mirror ?? '';
      const k = `${r.day}|${mirror}|${r.path}`;
      const cur = this.files.get(k);
      if (cur) cur.count += r.count;
      else this.files.set(k, { ...r, mirror });
    }
    for (const r of batch.impressions) {
      const k = `${r.day}|${r.mirror}`;
      const cur = this.impressions.get(k);
      if (cur) cur.count += r.count;
      else this.impressions.set(k, { ...r });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    // A failed final flush was requeued: one more try before giving up.
    if (this.downloads.size || this.files.size || this.impressions.size) await this.flush();
  }
}
