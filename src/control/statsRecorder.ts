// Counts downloads off the hot path: once per client and file per ten minutes across instances, flushed in batches.
import { createHash } from 'node:crypto';
import { FirstSightings } from '../core/firstSightings.js';
import { ipv4Number } from '../geo/clientAddress.js';
import type { DownloadEvent } from '../core/model.js';
import type { StatsBatch, Store } from '../store/store.js';

export interface StatsRecorderOptions {
  store: Store;
  flushEveryMs?: number;
  /** A client fetching the same file again within this window is one download (segmented clients). */
  dedupeWindowMs?: number;
  /** Bound on remembered (client, file) pairs, downloads and impressions together; the oldest are forgotten first. */
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
  private readonly log: StatsRecorderOptions['log'];
  /** (client, file) pairs seen here within the window, downloads and impressions together. */
  private readonly seen: FirstSightings;
  /** First sightings not yet claimed in the store. */
  private queued: (DownloadEvent & { key: string })[] = [];
  /** First logo impressions per (client, file) not yet claimed in the store. */
  private queuedImpressions: { key: string; mirror: string; atMs: number }[] = [];
  /** Claimed rows whose counter write failed: retried as they are, never claimed twice. */
  private unwritten: StatsBatch | undefined;
  private impressions = new Map<string, { day: string; mirror: string; count: number }>();
  /**
   * The index whose file numbers key the sightings in `seen` (see sightingKey). Held weakly: an index
   * replaced by a new manifest (a few hundred MB at a million files) must not live on here until the next download.
   */
  private fileIndex: WeakRef<object> | undefined;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(opts: StatsRecorderOptions) {
    this.store = opts.store;
    this.dedupeWindowMs = opts.dedupeWindowMs ?? 10 * 60_000;
    this.seen = new FirstSightings(this.dedupeWindowMs, opts.maxRemembered ?? 200_000);
    this.log = opts.log;
    this.timer = setInterval(() => void this.flush(), opts.flushEveryMs ?? 5_000);
    this.timer.unref();
  }

  /** Synchronous and cheap: it runs on every redirect. */
  download(e: DownloadEvent): void {
    // File numbers mean other files in another index: forget, and let the store's claim tell repeats.
    if (e.fileIndex !== undefined && e.fileIndex !== this.fileIndex?.deref()) {
      if (this.fileIndex !== undefined) this.seen.clear();
      this.fileIndex = new WeakRef(e.fileIndex);
    }
    if (!this.seen.first(sightingKey(e), e.atMs)) return;
    this.queued.push({ ip: e.ip, path: e.path, mirror: e.mirror, country: e.country, size: e.size, atMs: e.atMs, key: `${e.ip}\n${e.path}` });
  }

  /**
   * A page showed `mirror`'s logo. With the client and file, counted once per (client, file) per
   * window on every instance, like downloads (a reload, or an interstitial per segment, is one
   * impression); without them (an older caller), every time.
   */
  impression(mirror: string, atMs: number, who?: { ip: string; path: string }): void {
    if (who) {
      const key = `i\n${who.ip}\n${who.path}`;
      if (!this.seen.first(key, atMs)) return;
      this.queuedImpressions.push({ key, mirror, atMs });
      return;
    }
    const d = day(atMs);
    const k = `${d}|${mirror}`;
    const row = this.impressions.get(k);
    if (row) row.count++;
    else this.impressions.set(k, { day: d, mirror, count: 1 });
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
    const queuedImpressions = this.queuedImpressions;
    this.queuedImpressions = [];
    const impressions = [...this.impressions.values()];
    this.impressions = new Map();
    let batch: StatsBatch = this.unwritten ?? { downloads: [], files: [], impressions: [] };
    this.unwritten = undefined;
    try {
      if (queued.length || queuedImpressions.length) {
        // The claim expires with the window: the first instance to flush a (client, file) owns it.
        // Downloads and impressions in one round trip.
        const keys = [...queued.map((e) => claimKey(e.key)), ...queuedImpressions.map((e) => claimKey(e.key))];
        const claimed = await this.store.claimOnce(keys, this.dedupeWindowMs);
        batch = merge(batch, aggregate(queued.filter((_, i) => claimed[i])));
        const rows = new Map<string, { day: string; mirror: string; count: number }>();
        queuedImpressions.forEach((e, i) => {
          if (!claimed[queued.length + i]) return;
          const d = day(e.atMs);
          const row = rows.get(`${d}|${e.mirror}`);
          if (row) row.count++;
          else rows.set(`${d}|${e.mirror}`, { day: d, mirror: e.mirror, count: 1 });
        });
        impressions.push(...rows.values());
      }
    } catch (err) {
      this.queued = queued.concat(this.queued);
      this.queuedImpressions = queuedImpressions.concat(this.queuedImpressions);
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
    if (this.queued.length || this.queuedImpressions.length || this.unwritten || this.impressions.size) await this.flush();
  }
}

/** Files an index may hold for sightingKey's numbers to stay exact: 2^21 × 2^32 = 2^53. */
const NUMBERED_FILES = 2 ** 21;

/**
 * What a (client, file) pair is remembered by locally: for an IPv4 client and a numbered file, one number,
 * so a download builds, hashes and compares no string (that cost a few % of a 302's CPU); else the
 * client and path as text. Numbers hold within one index only (see download).
 */
function sightingKey(e: DownloadEvent): number | string {
  if (e.file !== undefined && e.file >= 0 && e.file < NUMBERED_FILES) {
    const v4 = ipv4Number(e.ip);
    if (v4 >= 0) return e.file * 2 ** 32 + v4;
  }
  return `${e.ip}\n${e.path}`;
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
