// The edge's sharded routing snapshot: a small core refreshed every TTL, file shards fetched on demand and kept in an LRU bounded by bytes.
import { conditionalGet } from './controlPlaneFetch.js';
import type { Snapshot } from '../core/snapshot.js';
import {
  composeCoreSnapshot,
  composeShardSnapshot,
  contentHash,
  decodeCore,
  decodeShard,
  shardOf,
  type DecodedShard,
  type SnapshotCore,
} from '../core/snapshotShards.js';
import type { KvNamespaceLike } from './runtime.js';
import type { LogLike } from '../http/services.js';

export const CORE_PATH = '/admin/v1/snapshot/core';
export const SHARD_PATH = '/admin/v1/snapshot/shards/';
export const CORE_KV_KEY = 'core';
export const shardKvKey = (k: number) => `shard/${k}`;

/** Default bound of the shard cache: a dozen 20,000-file shards of a large network. */
export const DEFAULT_SHARD_CACHE_BYTES = 32 * 1024 * 1024;
/**
 * What a decoded file costs beyond its share of the shard bytes (the path as a JS string and its
 * entry in the path index): scripts/edge-measure.ts measures 170–180 bytes.
 */
const HEAP_BYTES_PER_FILE = 180;

export interface ShardedSourceOptions {
  controlUrl?: string;
  token?: string;
  kv?: KvNamespaceLike;
  /** How long the core is served before a background check for a newer one. */
  ttlMs: number;
  /** A failed first load (of the core, or of a shard we have no copy of) is retried at most this often. */
  retryMs?: number;
  timeoutMs?: number;
  /** Bound of the decoded shards kept (estimated: bytes + per-file heap). */
  cacheBytes?: number;
  fetch?: typeof fetch;
  clock?: () => number;
  log: LogLike;
}

export interface ShardedSourceStatus {
  source: 'control-plane' | 'kv';
  mode: 'sharded';
  version?: number;
  builtAtMs?: number;
  checkedAtMs?: number;
  lastError?: string;
  lastErrorAtMs?: number;
  /** Files in the whole snapshot. */
  files?: number;
  shards?: number;
  shardsCached: number;
  shardCacheBytes: number;
  /** Shard bodies fetched (200s and KV reads that decoded). */
  shardLoads: number;
  coreBytes?: number;
}

interface CoreHolding {
  core: SnapshotCore;
  /** Bumped on every installed core: composed shard snapshots are rebuilt when it moves. */
  generation: number;
  /** When the core was installed: drains are judged then, for every shard alike (as one decoded snapshot is). */
  installedAtMs: number;
  snapshot: Snapshot | undefined;
}

interface ShardEntry {
  k: number;
  /** Hash of the shard bytes we hold. */
  hash: string;
  shard: DecodedShard;
  cost: number;
  composed: Snapshot | undefined;
  composedFor: number;
  lastAttemptMs: number;
}

/** Thrown (and kept in status) when the source has no core: an older control plane, or KV without "core". */
export class NoCoreError extends Error {
  override readonly name = 'NoCoreError';
}

/**
 * One per isolate. `ensure()` loads the core (awaited only for the very first one, then refreshed in
 * the background past the TTL, stale on failure, as SnapshotSource does for a whole snapshot).
 * `forPaths()` returns the composed snapshot of the shard holding a path, loading it on a miss;
 * a cached shard whose hash the current core no longer names is served while a newer copy loads
 * behind it, unless the path is not in it (a file added since), which waits for the new copy.
 */
export class ShardedSnapshotSource {
  private holding: CoreHolding | undefined;
  private coreEtag: string | undefined;
  private inFlight: Promise<void> | undefined;
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private generation = 0;
  /** Shards by number, least recently used first. */
  private readonly lru = new Map<number, ShardEntry>();
  private lruBytes = 0;
  private readonly shardLoads = new Map<number, Promise<ShardEntry | undefined>>();
  private readonly shardFailedAt = new Map<number, number>();
  private readonly state: ShardedSourceStatus;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: () => number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private readonly cacheBytes: number;
  /** Set when the source answered that it has no core (404, or no KV key): auto mode then uses a whole snapshot. */
  noCore = false;

  constructor(private readonly opts: ShardedSourceOptions) {
    if (!opts.kv && !opts.controlUrl) throw new Error('a snapshot source needs a KV namespace or a control plane URL');
    this.fetchImpl = opts.fetch ?? fetch.bind(globalThis);
    this.clock = opts.clock ?? Date.now;
    this.retryMs = opts.retryMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.cacheBytes = opts.cacheBytes ?? DEFAULT_SHARD_CACHE_BYTES;
    this.state = { source: opts.kv ? 'kv' : 'control-plane', mode: 'sharded', shardsCached: 0, shardCacheBytes: 0, shardLoads: 0 };
  }

  /** The core as a snapshot with no files (mirror pages, logos, /readyz), or undefined before the first core. */
  current(): Snapshot | undefined {
    const h = this.holding;
    if (!h) return undefined;
    h.snapshot ??= composeCoreSnapshot(h.core, h.installedAtMs);
    return h.snapshot;
  }

  core(): SnapshotCore | undefined {
    return this.holding?.core;
  }

  status(): ShardedSourceStatus {
    return { ...this.state, shardsCached: this.lru.size, shardCacheBytes: this.lruBytes };
  }

  /** The shard numbers held, least recently used first (tests, /readyz). */
  cachedShards(): number[] {
    return [...this.lru.keys()];
  }

  /** True once a core is loaded (loading the first one if need be); refreshes in `background` past the TTL. */
  async ensure(background: (p: Promise<unknown>) => void): Promise<boolean> {
    if (!this.holding) {
      if (!this.inFlight && this.clock() - this.lastAttemptMs < this.retryMs) return false;
      await this.refresh();
      return this.holding !== undefined;
    }
    const age = this.clock() - Math.max(this.state.checkedAtMs ?? 0, this.lastAttemptMs);
    if (age >= this.opts.ttlMs && !this.inFlight) background(this.refresh());
    return true;
  }

  /** One check for a newer core; never rejects. */
  refresh(): Promise<void> {
    this.inFlight ??= this.checkCore()
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.state.lastError = message;
        this.state.lastErrorAtMs = this.clock();
        if (!(err instanceof NoCoreError)) {
          this.opts.log.warn({ err: message, source: this.state.source, stale: this.holding !== undefined }, 'snapshot core refresh failed');
        }
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /**
   * The snapshot to answer a request about `paths[0]` with: the composed snapshot of its shard. When
   * `paths[0]` is not in the file set and a fallback path follows (a ".meta4" request for the file
   * without the suffix), the shard of the first fallback that exists. Undefined when a needed
   * shard could not be loaded and no copy is held.
   */
  async forPaths(paths: readonly string[], background: (p: Promise<unknown>) => void): Promise<Snapshot | undefined> {
    let first: Snapshot | undefined;
    for (const path of paths) {
      const entry = await this.shardFor(path, background);
      if (!entry) return first;
      const snapshot = this.composed(entry);
      if (entry.shard.files.lookup(path) >= 0) return snapshot;
      first ??= snapshot;
    }
    return first;
  }

  private composed(entry: ShardEntry): Snapshot {
    const h = this.holding!;
    if (!entry.composed || entry.composedFor !== h.generation) {
      entry.composed = composeShardSnapshot(h.core, entry.shard, h.installedAtMs);
      entry.composedFor = h.generation;
    }
    return entry.composed;
  }

  private async shardFor(path: string, background: (p: Promise<unknown>) => void): Promise<ShardEntry | undefined> {
    const core = this.holding!.core;
    const k = shardOf(path, core.shards.length);
    const want = core.shards[k]!.hash;
    const entry = this.lru.get(k);
    if (entry) {
      // Most recently used last.
      this.lru.delete(k);
      this.lru.set(k, entry);
      if (entry.hash === want) return entry;
      // Out of date: at most one reload per shard per TTL (a core and a shard may disagree for a while).
      const mayReload = this.clock() - entry.lastAttemptMs >= this.opts.ttlMs;
      if (entry.shard.files.lookup(path) >= 0) {
        if (mayReload) background(this.loadShard(k, entry));
        return entry;
      }
      return mayReload ? ((await this.loadShard(k, entry)) ?? entry) : entry;
    }
    const failedAt = this.shardFailedAt.get(k);
    if (failedAt !== undefined && this.clock() - failedAt < this.retryMs && !this.shardLoads.has(k)) return undefined;
    return this.loadShard(k, undefined);
  }

  /** Loads shard k (one load per shard at a time); undefined on failure (logged). */
  private loadShard(k: number, held: ShardEntry | undefined): Promise<ShardEntry | undefined> {
    let p = this.shardLoads.get(k);
    if (!p) {
      if (held) held.lastAttemptMs = this.clock();
      const n = this.holding!.core.shards.length;
      p = this.fetchShard(k, held)
        .then((entry) => {
          this.shardFailedAt.delete(k);
          // A core with another shard count may have come in while this load ran: the shard still
          // answers the request that asked for it, but is not kept under a number that now means other files.
          if (this.holding!.core.shards.length === n) this.insert(entry);
          return entry;
        })
        .catch((err: unknown) => {
          this.shardFailedAt.set(k, this.clock());
          const message = err instanceof Error ? err.message : String(err);
          this.opts.log.warn({ err: message, shard: k, stale: held !== undefined }, 'snapshot shard load failed');
          return undefined;
        })
        .finally(() => this.shardLoads.delete(k));
      this.shardLoads.set(k, p);
    }
    return p;
  }

  private async fetchShard(k: number, held: ShardEntry | undefined): Promise<ShardEntry> {
    let bytes: Uint8Array;
    let hash: string;
    if (this.opts.kv) {
      const value = await this.opts.kv.get(shardKvKey(k), 'arrayBuffer');
      if (!value) throw new Error(`KV key "${shardKvKey(k)}" is empty`);
      bytes = new Uint8Array(value);
      hash = contentHash(bytes);
      // KV has no conditional read: skip the decode when the bytes are the ones we hold.
      if (held && held.hash === hash) return held;
    } else {
      const got = await conditionalGet(this.fetchImpl, `${this.opts.controlUrl}${SHARD_PATH}${k}`, {
        accept: 'application/vnd.mirrorgate.snapshot',
        token: this.opts.token,
        etag: held ? `"${held.hash}"` : undefined,
        timeoutMs: this.timeoutMs,
      });
      if (got.kind === 'not-modified' && held) {
        // The control plane's current copy is the one we hold (our core may be older or newer than it).
        held.hash = unquote(got.etag ?? null) ?? held.hash;
        return held;
      }
      if (got.kind !== 'bytes') throw new Error(`control plane answered ${got.kind === 'status' ? got.status : 304} for ${SHARD_PATH}${k}`);
      bytes = got.bytes;
      hash = unquote(got.etag ?? null) ?? contentHash(bytes);
    }
    const shard = decodeShard(bytes);
    this.state.shardLoads++;
    const entry: ShardEntry = {
      k,
      hash,
      shard,
      cost: bytes.byteLength + shard.files.count * HEAP_BYTES_PER_FILE,
      composed: undefined,
      composedFor: -1,
      lastAttemptMs: this.clock(),
    };
    return entry;
  }

  private insert(entry: ShardEntry): void {
    const old = this.lru.get(entry.k);
    if (old) {
      this.lru.delete(entry.k);
      this.lruBytes -= old.cost;
    }
    this.lru.set(entry.k, entry);
    this.lruBytes += entry.cost;
    // Evict least recently used first; the shard just loaded stays even when it alone is over the bound.
    for (const [k, e] of this.lru) {
      if (this.lruBytes <= this.cacheBytes || k === entry.k) break;
      this.lru.delete(k);
      this.lruBytes -= e.cost;
    }
  }

  private async checkCore(): Promise<void> {
    this.lastAttemptMs = this.clock();
    const bytes = this.opts.kv ? await this.readCoreKv(this.opts.kv) : await this.fetchCore();
    if (bytes) this.install(bytes);
    this.state.checkedAtMs = this.clock();
    delete this.state.lastError;
    delete this.state.lastErrorAtMs;
  }

  private async fetchCore(): Promise<Uint8Array | undefined> {
    const got = await conditionalGet(this.fetchImpl, `${this.opts.controlUrl}${CORE_PATH}`, {
      accept: 'application/vnd.mirrorgate.snapshot-core+json',
      token: this.opts.token,
      etag: this.holding ? this.coreEtag : undefined,
      timeoutMs: this.timeoutMs,
    });
    if (got.kind === 'not-modified') return undefined;
    if (got.kind === 'status' && got.status === 404 && !this.holding) {
      this.noCore = true;
      throw new NoCoreError(`control plane has no ${CORE_PATH} (an older Mirrorgate)`);
    }
    if (got.kind === 'status') throw new Error(`control plane answered ${got.status} for ${CORE_PATH}`);
    this.coreEtag = got.etag;
    return got.bytes;
  }

  private async readCoreKv(kv: KvNamespaceLike): Promise<Uint8Array | undefined> {
    const value = await kv.get(CORE_KV_KEY, 'arrayBuffer');
    if (!value) {
      if (!this.holding) this.noCore = true;
      throw new NoCoreError(`KV key "${CORE_KV_KEY}" is empty`);
    }
    const bytes = new Uint8Array(value);
    const tag = contentHash(bytes);
    if (tag === this.coreEtag && this.holding) return undefined;
    this.coreEtag = tag;
    return bytes;
  }

  private install(bytes: Uint8Array): void {
    const core = decodeCore(bytes);
    const previous = this.holding?.core;
    // Another shard count numbers every file anew: nothing held is of use.
    if (previous && previous.shards.length !== core.shards.length) {
      this.lru.clear();
      this.lruBytes = 0;
      this.shardFailedAt.clear();
    }
    this.noCore = false;
    this.holding = { core, generation: ++this.generation, installedAtMs: this.clock(), snapshot: undefined };
    this.state.version = core.version;
    this.state.builtAtMs = core.builtAtMs;
    this.state.files = core.fileCount;
    this.state.shards = core.shards.length;
    this.state.coreBytes = bytes.byteLength;
    this.opts.log.info({ version: core.version, shards: core.shards.length, bytes: bytes.byteLength }, 'snapshot core installed');
  }
}

function unquote(etag: string | null): string | undefined {
  if (!etag) return undefined;
  const m = /^(?:W\/)?"([^"]*)"$/.exec(etag);
  return m ? m[1] : etag;
}
