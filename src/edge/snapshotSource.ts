// Keeps the edge's routing snapshot: loaded from the control plane (or KV), decoded once, kept fresh (freshness.ts), served stale on failure.
import { conditionalGet } from './controlPlaneFetch.js';
import { DEFAULT_WAIT_MS, Freshness, type FreshnessStatus } from './freshness.js';
import type { Snapshot } from '../core/snapshot.js';
import { decodeSnapshot } from '../core/snapshotCodec.js';
import type { KvNamespaceLike } from './runtime.js';
import type { LogLike } from '../http/services.js';

export const SNAPSHOT_PATH = '/admin/v1/snapshot';
export const SNAPSHOT_KV_KEY = 'snapshot';

export interface SnapshotSourceOptions {
  /** Control plane base URL (no trailing slash); used when no KV namespace is given. */
  controlUrl?: string;
  /** Staff bearer token for GET /admin/v1/snapshot. */
  token?: string;
  /** When present, the snapshot is read from this namespace instead of the control plane. */
  kv?: KvNamespaceLike;
  /** A snapshot confirmed longer ago than this is not used while a refresh answers within waitMs. */
  ttlMs: number;
  /** How long a request waits for that refresh; default 300 ms. */
  waitMs?: number;
  /** A failed first load is retried at most this often (protects a control plane that is down). */
  retryMs?: number;
  /** Per attempt. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  clock?: () => number;
  log: LogLike;
}

export interface SnapshotSourceStatus {
  source: 'control-plane' | 'kv';
  version?: number;
  builtAtMs?: number;
  /** When the last check (200, 304 or unchanged KV value) succeeded. */
  checkedAtMs?: number;
  /** The last check's failure, cleared by the next success. */
  lastError?: string;
  lastErrorAtMs?: number;
  decodeMs?: number;
  bytes?: number;
  freshness?: FreshnessStatus;
}

/**
 * One per isolate (module scope). `current()` is synchronous for the hot path; `ensure()` loads the
 * very first snapshot, and afterwards keeps it fresh as freshness.ts says (a check ahead of the TTL
 * in the background; past the TTL, a wait of at most waitMs for one); a failed check keeps the
 * last good snapshot.
 */
export class SnapshotSource {
  private snapshot: Snapshot | undefined;
  private etag: string | undefined;
  private readonly freshness: Freshness;
  private readonly state: SnapshotSourceStatus;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: () => number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private readonly listeners = new Set<(s: Snapshot) => void>();

  constructor(private readonly opts: SnapshotSourceOptions) {
    if (!opts.kv && !opts.controlUrl) throw new Error('a snapshot source needs a KV namespace or a control plane URL');
    // Workers' fetch must be called unbound-safe; bind to the global once.
    this.fetchImpl = opts.fetch ?? fetch.bind(globalThis);
    this.clock = opts.clock ?? Date.now;
    this.retryMs = opts.retryMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.freshness = new Freshness({ ttlMs: opts.ttlMs, waitMs: opts.waitMs ?? DEFAULT_WAIT_MS, clock: this.clock });
    this.state = { source: opts.kv ? 'kv' : 'control-plane' };
  }

  current(): Snapshot | undefined {
    return this.snapshot;
  }

  status(): SnapshotSourceStatus {
    return { ...this.state, freshness: this.freshness.status() };
  }

  /** Milliseconds since the held snapshot was confirmed current (when that check was sent). */
  ageMs(): number | undefined {
    return this.freshness.ageMs();
  }

  /** Called with every newly decoded snapshot (not on 304s). */
  onChange(listener: (s: Snapshot) => void): void {
    this.listeners.add(listener);
  }

  /**
   * The snapshot to answer this request with, loading the first one if need be (undefined when none
   * could be loaded). Past the TTL it waits (up to waitMs) for a refresh; before, refreshes in `background`.
   */
  async ensure(background: (p: Promise<unknown>) => void): Promise<Snapshot | undefined> {
    if (!this.snapshot) {
      // Concurrent first requests share one load; after a failure, retry no more often than retryMs.
      if (!this.freshness.running() && this.clock() - this.freshness.lastAttemptMs() < this.retryMs) return undefined;
      await this.refresh();
      return this.snapshot;
    }
    await this.freshness.beforeAnswer(this.checkOnce, this.failed, background);
    return this.snapshot;
  }

  /** One check for a newer snapshot; never rejects (failures are logged and kept in status()). */
  refresh(): Promise<void> {
    return this.freshness.run(this.checkOnce, this.failed);
  }

  private readonly checkOnce = () => this.check();

  private readonly failed = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    this.state.lastError = message;
    this.state.lastErrorAtMs = this.clock();
    this.opts.log.warn({ err: message, source: this.state.source, stale: this.snapshot !== undefined }, 'snapshot refresh failed');
  };

  private async check(): Promise<void> {
    // When the check is sent: what it returns is at least this fresh (freshness.ts).
    const sentAt = this.clock();
    const bytes = this.opts.kv ? await this.readKv(this.opts.kv) : await this.fetchControlPlane();
    if (bytes) this.install(bytes);
    this.state.checkedAtMs = sentAt;
    delete this.state.lastError;
    delete this.state.lastErrorAtMs;
  }

  private async fetchControlPlane(): Promise<Uint8Array | undefined> {
    const got = await conditionalGet(this.fetchImpl, `${this.opts.controlUrl}${SNAPSHOT_PATH}`, {
      accept: 'application/vnd.mirrorgate.snapshot',
      token: this.opts.token,
      etag: this.snapshot ? this.etag : undefined,
      timeoutMs: this.timeoutMs,
    });
    if (got.kind === 'not-modified') return undefined;
    if (got.kind === 'status') throw new Error(`control plane answered ${got.status} for ${SNAPSHOT_PATH}`);
    this.etag = got.etag;
    return got.bytes;
  }

  private async readKv(kv: KvNamespaceLike): Promise<Uint8Array | undefined> {
    const value = await kv.get(SNAPSHOT_KV_KEY, { type: 'arrayBuffer' });
    if (!value) throw new Error(`KV key "${SNAPSHOT_KV_KEY}" is empty`);
    const bytes = new Uint8Array(value);
    // KV has no conditional read: skip the decode when the header names the snapshot we already hold.
    const tag = headerTag(bytes);
    if (tag !== undefined && tag === this.etag && this.snapshot) return undefined;
    this.etag = tag;
    return bytes;
  }

  private install(bytes: Uint8Array): void {
    const started = performance.now();
    const snapshot = decodeSnapshot(bytes, this.clock());
    this.state.decodeMs = Math.round((performance.now() - started) * 100) / 100;
    this.state.bytes = bytes.byteLength;
    this.state.version = snapshot.version;
    this.state.builtAtMs = snapshot.builtAtMs;
    this.snapshot = snapshot;
    this.opts.log.info({ version: snapshot.version, bytes: bytes.byteLength, decodeMs: this.state.decodeMs }, 'snapshot installed');
    for (const l of this.listeners) l(snapshot);
  }
}

/**
 * "version-builtAtMs" from an encoded snapshot's JSON header without decoding the sections
 * (layout: "MGS1", u32 header length, header; see core/snapshotCodec.ts). Undefined when unreadable;
 * decodeSnapshot then reports what is wrong.
 */
export function headerTag(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength < 8) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + length > bytes.byteLength) return undefined;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as { version?: unknown; builtAtMs?: unknown };
    return typeof header.version === 'number' && typeof header.builtAtMs === 'number' ? `${header.version}-${header.builtAtMs}` : undefined;
  } catch {
    return undefined;
  }
}
