// Counts downloads off the hot path: once per client and file per ten minutes across instances, flushed in batches.
import { createHash } from 'node:crypto';
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

/**
 * Two stages. On the request: a local first-seen map drops repeats at once (a segmented
 * download is dozens of Range requests) and queues the first one. On flush: the queued
 * downloads are claimed in the store in one round trip (so a client spread over several
 * instances still counts once), and only the claimed ones are added to the counters.
 * A failed flush keeps its work and retries, so nothing is lost while the store is away.
 */
export class StatsRecorder {
  private readonly store: Store;
  private readonly dedupeWindowMs: number;
  private readonly maxRemembered: number;
  private readonly log: StatsRecorderOptions['log'];
  /** key → epoch ms first seen here; Map keeps insertion order, so the oldest come first. */
  private readonly seen = new Map<string, number>();
  /** First sightings not yet claimed in the store. */
  private queued: (DownloadEvent & { key: string })[] = [];
  /** Claimed rows whose counter write failed: retried as they are, never claimed twice. */
  private unwritten: StatsBatch | undefined;
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

  /** Synchronous and cheap: it runs on every redirect. */
  download(e: DownloadEvent): void {
    const key = `${e.ip}\n${e.path}`;
    const first = this.seen.get(key);
    if (first !== undefined && e.atMs - first < this.dedupeWindowMs) return;
    if (first !== undefined) this.seen.delete(key);
    this.seen.set(key, e.atMs);
    this.forgetOld(e.atMs);
    this.queued.push({ ...e, key });
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

  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const queued = this.queued;
    this.queued = [];
    const impressions = [...this.impressions.values()];
    this.impressions = new Map();
    let batch: StatsBatch = this.unwritten ?? { downloads: [], files: [], impressions: [] };
    this.unwritten = undefined;
    try {
      if (queued.length) {
        // The claim expires with the window: the first instance to flush a (client, file) owns it.
        const keys = queued.map((e) => claimKey(e.key));
        const claimed = await this.store.claimOnce(keys, this.dedupeWindowMs);
        batch = merge(batch, aggregate(queued.filter((_, i) => claimed[i])));
      }
    } catch (err) {
      this.queued = queued.concat(this.queued);
      this.log?.warn({ err: (err as Error).message, queued: queued.length }, 'stats claim failed; will retry');
    }
    batch = merge(batch, { downloads: [], files: [], impressions });
    if (!batch.downloads.length && !batch.files.length && !batch.impressions.length) return;
    try {
      await this.store.addStats(batch);
    } catch (err) {
      this.unwritten = batch;
      this.log?.warn({ err: (err as Error).message, rows: batch.downloads.length }, 'stats flush failed; will retry');
    }
  }

  /** Flushes what is pending (one retry for a failed write) and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.queued.length || this.unwritten || this.impressions.size) await this.flush();
  }
}

function claimKey(key: string): string {
  return `dl:${createHash('sha1').update(key).digest('base64url')}`;
}

function aggregate(events: readonly DownloadEvent[]): StatsBatch {
  const downloads = new Map<string, StatsBatch['downloads'][number]>();
  const files = new Map<string, StatsBatch['files'][number]>();
  for (const e of events) {
    const d = day(e.atMs);
    const dk = `${d}|${e.mirror}|${e.country}`;
    const row = downloads.get(dk);
    if (row) {
      row.count++;
      row.bytes += e.size;
    } else downloads.set(dk, { day: d, mirror: e.mirror, country: e.country, count: 1, bytes: e.size });
    const fk = `${d}|${e.mirror}|${e.path}`;
    const frow = files.get(fk);
    if (frow) frow.count++;
    else files.set(fk, { day: d, mirror: e.mirror, path: e.path, count: 1 });
  }
  return { downloads: [...downloads.values()], files: [...files.values()], impressions: [] };
}

function merge(a: StatsBatch, b: StatsBatch): StatsBatch {
  return {
    downloads: a.downloads.concat(b.downloads),
    files: a.files.concat(b.files),
    impressions: a.impressions.concat(b.impressions),
  };
}
