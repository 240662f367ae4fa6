// Downloads answered at the edge, counted: dropped per isolate when a client repeats a file within ten minutes (as Node does), batched, posted to the control plane behind the response.
import type { DownloadEvent } from '../core/model.js';
import { FirstSightings } from '../core/firstSightings.js';
import { MAX_EDGE_BATCH_BYTES } from '../http/limits.js';
import type { DownloadEvents, LogLike } from '../http/services.js';
import type { AnalyticsEngineLike } from './runtime.js';

/** The control plane's endpoint (src/http/edgeIngest.ts). */
export const EDGE_DOWNLOADS_PATH = '/admin/v1/stats/downloads';
/** As src/http/edgeIngest.ts MAX_EDGE_EVENTS (not imported: that module is the control plane's). */
const MAX_EVENTS_PER_POST = 5_000;
/** A post's body stays under the control plane's limit for it; a control plane answering 413 anyway (an older one) gets halves. */
const MIN_POST_BYTES = 4 * 1024;
const utf8 = new TextEncoder();

export interface DownloadCounterOptions {
  /** Control plane base URL; without it counts go to the Analytics Engine dataset only (if bound). */
  controlUrl?: string;
  /** An edge (or staff) token. */
  token?: string;
  /** How long an isolate gathers counts before posting them (the first count starts the wait). */
  flushMs: number;
  dataset?: AnalyticsEngineLike;
  /** A client fetching the same file again within this window is one download; default ten minutes. */
  dedupeWindowMs?: number;
  /** (client, file) pairs remembered per isolate, oldest forgotten first; default 20,000. */
  maxRemembered?: number;
  /** Counts held while the control plane is away, oldest dropped first; default 20,000. */
  maxQueued?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  clock?: () => number;
  log: LogLike;
}

export interface DownloadCounterStatus {
  /** Counts waiting for the next post. */
  queued: number;
  /** Counts the control plane took (202). */
  sent: number;
  /** Counts dropped because too many waited while posts failed. */
  dropped: number;
  /** Repeats of a (client, file) within the window, not counted. */
  repeats: number;
  failures: number;
  lastError?: string;
  lastSentAtMs?: number;
}

/**
 * One per isolate. The app calls `events.download` and `events.impression` synchronously while it
 * answers; the Worker then calls `schedule(ctx.waitUntil)`, which posts what was gathered `flushMs`
 * later (Workers keep an isolate's waitUntil work alive for 30 s after the response), or at once
 * when a post's worth is waiting. A failed post keeps its counts for the next one. The control
 * plane applies its own rules again (StatsRecorder: first sighting in ten minutes, claimed in the
 * store across instances), so several isolates seeing one client count it once.
 */
export class DownloadCounter {
  private readonly seen: FirstSightings;
  /** (client, file) pairs whose logo impression this isolate counted within the window. */
  private readonly seenImpressions: FirstSightings;
  private queue: DownloadEvent[] = [];
  /** Impressions without a client (an older caller), added up per mirror and day. */
  private impressions = new Map<string, { mirror: string; atMs: number; count: number }>();
  /** Impressions with their client and file: the control plane counts each once across isolates and instances. */
  private sightings: { mirror: string; atMs: number; count: 1; ip: string; path: string }[] = [];
  private scheduled: Promise<void> | undefined;
  private posting: Promise<void> | undefined;
  private readonly state: DownloadCounterStatus = { queued: 0, sent: 0, dropped: 0, repeats: 0, failures: 0 };
  private readonly fetchImpl: typeof fetch;
  private readonly clock: () => number;
  private readonly maxQueued: number;
  private warnedNowhere = false;
  /** Largest body a post may have: the control plane's limit, halved each time it answers 413 all the same. */
  private postBytes = MAX_EDGE_BATCH_BYTES;

  constructor(private readonly opts: DownloadCounterOptions) {
    this.fetchImpl = opts.fetch ?? fetch.bind(globalThis);
    this.clock = opts.clock ?? Date.now;
    const window = opts.dedupeWindowMs ?? 10 * 60_000;
    const maxRemembered = opts.maxRemembered ?? 20_000;
    this.seen = new FirstSightings(window, maxRemembered);
    this.seenImpressions = new FirstSightings(window, maxRemembered);
    this.maxQueued = opts.maxQueued ?? 20_000;
  }

  /** The hooks for AppServices.events. */
  readonly events: DownloadEvents = {
    download: (e) => this.download(e),
    impression: (mirror, atMs, who) => this.impression(mirror, atMs, who),
  };

  status(): DownloadCounterStatus {
    return { ...this.state, queued: this.queue.length };
  }

  /** Whether (ip, path) was seen within the window; remembers it otherwise (bounded, oldest forgotten first). */
  private repeat(seen: FirstSightings, ip: string, path: string, atMs: number): boolean {
    return !seen.first(`${ip}\n${path}`, atMs);
  }

  download(e: DownloadEvent): void {
    if (this.repeat(this.seen, e.ip, e.path, e.atMs)) {
      this.state.repeats++;
      return;
    }
    this.opts.dataset?.writeDataPoint({ blobs: [e.mirror, e.country, e.path], doubles: [e.size], indexes: [e.mirror] });
    if (!this.opts.controlUrl) {
      if (!this.warnedNowhere && !this.opts.dataset) {
        this.warnedNowhere = true;
        this.opts.log.warn({}, 'edge downloads are not counted: no CONTROL_URL to post them to and no DOWNLOADS dataset bound');
      }
      return;
    }
    this.queue.push({ ip: e.ip, path: e.path, mirror: e.mirror, country: e.country, size: e.size, atMs: e.atMs });
    if (this.queue.length > this.maxQueued) {
      const over = this.queue.length - this.maxQueued;
      this.queue.splice(0, over);
      this.state.dropped += over;
    }
  }

  /** A page showed `mirror`'s logo: counted once per client and file in the window, like downloads (as Node does). */
  impression(mirror: string, atMs: number, who?: { ip: string; path: string }): void {
    if (!this.opts.controlUrl) return;
    if (who) {
      if (this.repeat(this.seenImpressions, who.ip, who.path, atMs)) return;
      this.sightings.push({ mirror, atMs, count: 1, ip: who.ip, path: who.path });
      if (this.sightings.length > this.maxQueued) this.sightings.splice(0, this.sightings.length - this.maxQueued);
      return;
    }
    const k = impressionKey(mirror, atMs);
    const row = this.impressions.get(k);
    if (row) row.count++;
    else this.impressions.set(k, { mirror, atMs, count: 1 });
  }

  /** After a request: makes sure what is gathered gets posted (now, or flushMs later), behind the response. */
  schedule(background: (p: Promise<unknown>) => void): void {
    if (this.queue.length === 0 && this.impressions.size === 0 && this.sightings.length === 0) return;
    if ((this.queue.length >= MAX_EVENTS_PER_POST || this.sightings.length >= MAX_EVENTS_PER_POST) && !this.posting) {
      background(this.flush());
      return;
    }
    if (this.scheduled) return;
    this.scheduled = new Promise<void>((resolve) => setTimeout(resolve, this.opts.flushMs))
      .then(() => this.flush())
      .finally(() => {
        this.scheduled = undefined;
      });
    background(this.scheduled);
  }

  /** Posts everything gathered (several posts when there is more than one's worth); never rejects. */
  flush(): Promise<void> {
    this.posting ??= this.postAll().finally(() => {
      this.posting = undefined;
    });
    return this.posting;
  }

  private async postAll(): Promise<void> {
    while (this.queue.length > 0 || this.impressions.size > 0 || this.sightings.length > 0) {
      const downloads = this.queue.splice(0, MAX_EVENTS_PER_POST);
      const sightings = this.sightings.splice(0, MAX_EVENTS_PER_POST);
      const totals = [...this.impressions.values()].slice(0, MAX_EVENTS_PER_POST - sightings.length);
      for (const i of totals) this.impressions.delete(impressionKey(i.mirror, i.atMs));
      let body = JSON.stringify({ downloads, impressions: [...sightings, ...totals] });
      // Over the body limit: the later half of the larger list waits for the next post of this flush.
      while (utf8.encode(body).byteLength > this.postBytes && downloads.length + sightings.length > 1) {
        if (downloads.length >= sightings.length) this.queue = downloads.splice(Math.ceil(downloads.length / 2)).concat(this.queue);
        else this.sightings = sightings.splice(Math.ceil(sightings.length / 2)).concat(this.sightings);
        body = JSON.stringify({ downloads, impressions: [...sightings, ...totals] });
      }
      try {
        const res = await this.fetchImpl(`${this.opts.controlUrl}${EDGE_DOWNLOADS_PATH}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}) },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        });
        await res.body?.cancel();
        if (res.status === 413 && downloads.length + sightings.length > 1 && this.postBytes > MIN_POST_BYTES) {
          // A control plane with a lower limit (an older one): the same counts again, in smaller posts.
          this.postBytes = Math.max(MIN_POST_BYTES, Math.floor(this.postBytes / 2));
          this.putBack(downloads, sightings, totals);
          continue;
        }
        // A 4xx other than 429 will not get better by sending the same counts again.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.state.dropped += downloads.length;
          throw new PermanentError(`control plane answered ${res.status} for ${EDGE_DOWNLOADS_PATH}`);
        }
        if (!res.ok) throw new Error(`control plane answered ${res.status} for ${EDGE_DOWNLOADS_PATH}`);
        this.state.sent += downloads.length;
        this.state.lastSentAtMs = this.clock();
        delete this.state.lastError;
      } catch (err) {
        this.state.failures++;
        this.state.lastError = err instanceof Error ? err.message : String(err);
        this.opts.log.warn({ err: this.state.lastError, downloads: downloads.length }, 'posting edge download counts failed');
        // Back in front, to go with the next post.
        if (!(err instanceof PermanentError)) this.putBack(downloads, sightings, totals);
        return;
      }
    }
  }

  private putBack(downloads: DownloadEvent[], sightings: typeof this.sightings, totals: { mirror: string; atMs: number; count: number }[]): void {
    this.queue = downloads.concat(this.queue);
    this.sightings = sightings.concat(this.sightings);
    for (const i of totals) {
      const k = impressionKey(i.mirror, i.atMs);
      const row = this.impressions.get(k);
      if (row) row.count += i.count;
      else this.impressions.set(k, i);
    }
  }
}

class PermanentError extends Error {}

/** Impressions add up per mirror and day, as the control plane keeps them. */
function impressionKey(mirror: string, atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 10)}|${mirror}`;
}
