// The edge's sharded routing snapshot: a small core kept fresh (see freshness.ts), file shards fetched by content hash on demand and kept in an LRU bounded by bytes.
import { ShardComposer } from './composeShard.js';
import { conditionalGet } from './controlPlaneFetch.js';
import { DEFAULT_WAIT_MS, Freshness, type FreshnessStatus } from './freshness.js';
import type { Snapshot } from '../core/snapshot.js';
import { composeCoreSnapshot, contentHash, decodeCore, decodeShard, shardOf, type DecodedShard, type SnapshotCore } from '../core/snapshotShards.js';
import type { CacheLike, KvNamespaceLike } from './runtime.js';
import type { LogLike } from '../http/services.js';

export const CORE_PATH = '/admin/v1/snapshot/core';
export const SHARD_PATH = '/admin/v1/snapshot/shards/';
export const CORE_KV_KEY = 'core';
/** Shard k as the README's KV script published it before shards were keyed by hash (still read as a fallback). */
export const shardKvKey = (k: number) => `shard/${k}`;
/** A shard's bytes by content hash: immutable, so KV reads may be cached at the edge for long. */
export const shardHashKvKey = (hash: string) => `shard/${hash}`;
/** How long KV (cacheTtl) and the Cache API keep a shard by hash: its bytes never change under that key. */
export const SHARD_CACHE_TTL_SECONDS = 7 * 86_400;

/** Default bound of the shard cache (megabytes of measured heap, see shardCost). */
export const DEFAULT_SHARD_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * What a held shard costs in the isolate's heap, as scripts/edge-measure.ts measures it (V8's heap and
 * array-buffer counts around decoding and composing shards of a 1,000,000-file × 500-mirror network:
 * 140–150 bytes a file, 235 a mirror): its bytes (the typed arrays are views on them), each file's path
 * as a JS string and its path-table slot (paths of ~60 bytes), and the composed snapshot's copies of
 * the inventoried mirrors and its column tables.
 */
export const SHARD_HEAP = { perFile: 150, perMirror: 240, fixed: 4096 } as const;

export function shardCost(bytes: number, files: number, mirrors: number): number {
  return bytes + files * SHARD_HEAP.perFile + mirrors * SHARD_HEAP.perMirror + SHARD_HEAP.fixed;
}

export interface ShardedSourceOptions {
  controlUrl?: string;
  token?: string;
  kv?: KvNamespaceLike;
  /** A core confirmed longer ago than this is not used while a refresh answers within waitMs (freshness.ts). */
  ttlMs: number;
  /** How long a request waits for a refresh of a core older than the TTL; default 300 ms. */
  waitMs?: number;
  /**
   * A cache shared by the isolates of a location (the Workers Cache API, caches.default): shards
   * are put and found there by content hash, so a cold isolate seldom asks the control plane.
   */
  sharedCache?: CacheLike;
  /** Base URL of the shared cache's keys (the Worker's own origin); default https://mirrorgate.invalid */
  sharedCacheKeyBase?: () => string;
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
  /** Where shards not held came from: the shared cache (Cache API), the control plane, KV. */
  shardsFromSharedCache: number;
  shardsFromControlPlane: number;
  shardsFromKv: number;
  /** Requests answered from a shard held in the isolate. */
  shardHits: number;
  coreBytes?: number;
  freshness: FreshnessStatus;
}

interface CoreHolding {
  core: SnapshotCore;
  /** Bumped on every installed core: composed shard snapshots are rebuilt when it moves. */
  generation: number;
  /** When the core was installed: drains are judged then, for every shard alike (as one decoded snapshot is). */
  installedAtMs: number;
  snapshot: Snapshot | undefined;
  composer: ShardComposer;
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
 * One per isolate. `ensure()` loads the core (awaited for the very first one; afterwards kept fresh
 * as freshness.ts says: refreshed ahead in the background, waited for up to waitMs once past the TTL,
 * the old core kept on failure).
 * `forPaths()` returns the composed snapshot of the shard holding a path, loading it on a miss;
 * a cached shard whose hash the current core no longer names is served while a newer copy loads
 * behind it, unless the path is not in it (a file added since), which waits for the new copy.
 */
export class ShardedSnapshotSource {
  private holding: CoreHolding | undefined;
  private coreEtag: string | undefined;
  private readonly freshness: Freshness;
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
  private readonly coreTimeoutMs: number;
  private readonly cacheBytes: number;
  /** Set when the source answered that it has no core (404, or no KV key): auto mode then uses a whole snapshot. */
  noCore = false;

  constructor(private readonly opts: ShardedSourceOptions) {
    if (!opts.kv && !opts.controlUrl) throw new Error('a snapshot source needs a KV namespace or a control plane URL');
    this.fetchImpl = opts.fetch ?? fetch.bind(globalThis);
    this.clock = opts.clock ?? Date.now;
    this.retryMs = opts.retryMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    // One freshness check at a time: a core check that never answers must not hold every refresh for the
    // whole fetch timeout (a drain would wait that long at the edge). The core is small; shards keep timeoutMs.
    this.coreTimeoutMs = Math.min(this.timeoutMs, Math.max(2_000, 2 * opts.ttlMs));
    this.cacheBytes = opts.cacheBytes ?? DEFAULT_SHARD_CACHE_BYTES;
    this.freshness = new Freshness({ ttlMs: opts.ttlMs, waitMs: opts.waitMs ?? DEFAULT_WAIT_MS, clock: this.clock });
    this.state = {
      source: opts.kv ? 'kv' : 'control-plane',
      mode: 'sharded',
      shardsCached: 0,
      shardCacheBytes: 0,
      shardLoads: 0,
      shardsFromSharedCache: 0,
      shardsFromControlPlane: 0,
      shardsFromKv: 0,
      shardHits: 0,
      freshness: this.freshness.status(),
    };
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
    return { ...this.state, shardsCached: this.lru.size, shardCacheBytes: this.lruBytes, freshness: this.freshness.status() };
  }

  /** The shard numbers held, least recently used first (tests, /readyz). */
  cachedShards(): number[] {
    return [...this.lru.keys()];
  }

  /**
   * True once a core is loaded (loading the first one if need be). Past the TTL it waits (up to the
   * wait budget) for a refresh; before that, it refreshes ahead in `background`.
   */
  async ensure(background: (p: Promise<unknown>) => void): Promise<boolean> {
    if (!this.holding) {
      if (!this.freshness.running() && this.clock() - this.freshness.lastAttemptMs() < this.retryMs) return false;
      await this.refresh();
      return this.holding !== undefined;
    }
    await this.freshness.beforeAnswer(this.check, this.failed, background);
    return true;
  }

  /** Milliseconds since the held core was confirmed current (when that check was sent). */
  ageMs(): number | undefined {
    return this.freshness.ageMs();
  }

  /** One check for a newer core; never rejects. */
  refresh(): Promise<void> {
    return this.freshness.run(this.check, this.failed);
  }

  private readonly check = () => this.checkCore();

  private readonly failed = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    this.state.lastError = message;
    this.state.lastErrorAtMs = this.clock();
    if (!(err instanceof NoCoreError)) {
      this.opts.log.warn({ err: message, source: this.state.source, stale: this.holding !== undefined }, 'snapshot core refresh failed');
    }
  };

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
      entry.composed = h.composer.compose(entry.shard);
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
      if (entry.hash === want) {
        this.state.shardHits++;
        return entry;
      }
      // Out of date: at most one reload per shard per TTL (a core and a shard may disagree for a while).
      const mayReload = this.clock() - entry.lastAttemptMs >= this.opts.ttlMs;
      // A file added since is not in the held copy: only the new one can answer for it.
      if (entry.shard.files.lookup(path) < 0) return mayReload ? ((await this.loadShard(k, entry, want, background)) ?? entry) : entry;
      // The core says the held copy is outdated (a file changed, an inventory moved): as for a core past
      // its TTL, the request waits for the new copy up to the wait budget, counted from the load's start.
      const load = mayReload ? this.loadShard(k, entry, want, background) : this.shardLoads.get(k);
      if (!load) return entry;
      background(load);
      return (await this.within(load, entry.lastAttemptMs + this.freshness.waitMs)) ?? entry;
    }
    const failedAt = this.shardFailedAt.get(k);
    if (failedAt !== undefined && this.clock() - failedAt < this.retryMs && !this.shardLoads.has(k)) return undefined;
    return this.loadShard(k, undefined, want, background);
  }

  /** What `p` gives if it settles by `deadline` (clock ms), else undefined. */
  private async within<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
    const left = deadline - this.clock();
    if (left <= 0) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), left)));
    try {
      return await Promise.race([p, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads shard k (one load per shard at a time); undefined on failure (logged). */
  private loadShard(k: number, held: ShardEntry | undefined, want: string, background: (p: Promise<unknown>) => void): Promise<ShardEntry | undefined> {
    let p = this.shardLoads.get(k);
    if (!p) {
      if (held) held.lastAttemptMs = this.clock();
      const n = this.holding!.core.shards.length;
      p = this.fetchShard(k, held, want, background)
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

  /**
   * The bytes of shard k as the core names it (`want`, its content hash): from KV by hash (then by
   * number, for older publishers), else from the shared cache by hash, else from the control plane
   * (conditional on the copy held), whose answer is put in the shared cache under its own hash.
   */
  private async fetchShard(k: number, held: ShardEntry | undefined, want: string, background: (p: Promise<unknown>) => void): Promise<ShardEntry> {
    let bytes: Uint8Array | undefined;
    let hash: string;
    if (this.opts.kv) {
      const kv = this.opts.kv;
      const byHash = await kv.get(shardHashKvKey(want), { type: 'arrayBuffer', cacheTtl: SHARD_CACHE_TTL_SECONDS });
      if (byHash) {
        bytes = new Uint8Array(byHash);
        hash = want;
      } else {
        const value = await kv.get(shardKvKey(k), { type: 'arrayBuffer' });
        if (!value) throw new Error(`KV keys "${shardHashKvKey(want)}" and "${shardKvKey(k)}" are empty`);
        bytes = new Uint8Array(value);
        hash = contentHash(bytes);
      }
      // KV has no conditional read: skip the decode when the bytes are the ones we hold.
      if (held && held.hash === hash) return held;
      this.state.shardsFromKv++;
    } else {
      const cached = await this.fromSharedCache(want);
      if (cached) {
        bytes = cached;
        hash = want;
        this.state.shardsFromSharedCache++;
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
        this.state.shardsFromControlPlane++;
        this.toSharedCache(hash, bytes, background);
      }
    }
    const shard = decodeShard(bytes);
    this.state.shardLoads++;
    const entry: ShardEntry = {
      k,
      hash,
      shard,
      cost: shardCost(bytes.byteLength, shard.files.count, this.holding?.core.mirrors.length ?? 0),
      composed: undefined,
      composedFor: -1,
      lastAttemptMs: this.clock(),
    };
    return entry;
  }

  private sharedCacheKey(hash: string): string {
    const base = this.opts.sharedCacheKeyBase?.() ?? 'https://mirrorgate.invalid';
    return `${base}/__mirrorgate/shards/${hash}`;
  }

  /** A shard's bytes from the shared cache, or undefined (no cache, a miss, or a cache error: the control plane answers then). */
  private async fromSharedCache(hash: string): Promise<Uint8Array | undefined> {
    const cache = this.opts.sharedCache;
    if (!cache) return undefined;
    try {
      const res = await cache.match(this.sharedCacheKey(hash));
      if (!res || res.status !== 200) {
        await res?.body?.cancel();
        return undefined;
      }
      return new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), hash }, 'shared cache read failed');
      return undefined;
    }
  }

  private toSharedCache(hash: string, bytes: Uint8Array, background: (p: Promise<unknown>) => void): void {
    const cache = this.opts.sharedCache;
    if (!cache) return;
    // The Response copies the bytes (Fetch's body extraction), so the decoded shard keeps its own.
    const res = new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        'Content-Type': 'application/vnd.mirrorgate.snapshot',
        'Cache-Control': `public, max-age=${SHARD_CACHE_TTL_SECONDS}, immutable`,
        ETag: `"${hash}"`,
      },
    });
    background(
      cache.put(this.sharedCacheKey(hash), res).catch((err: unknown) => {
        this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), hash }, 'shared cache write failed');
      }),
    );
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
    // When the check is sent: what it returns is at least this fresh (freshness.ts).
    const sentAt = this.clock();
    const bytes = this.opts.kv ? await this.readCoreKv(this.opts.kv) : await this.fetchCore();
    if (bytes) this.install(bytes);
    this.state.checkedAtMs = sentAt;
    delete this.state.lastError;
    delete this.state.lastErrorAtMs;
  }

  private async fetchCore(): Promise<Uint8Array | undefined> {
    const got = await conditionalGet(this.fetchImpl, `${this.opts.controlUrl}${CORE_PATH}`, {
      accept: 'application/vnd.mirrorgate.snapshot-core+json',
      token: this.opts.token,
      etag: this.holding ? this.coreEtag : undefined,
      timeoutMs: this.coreTimeoutMs,
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
    const value = await kv.get(CORE_KV_KEY, { type: 'arrayBuffer' });
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
    const installedAtMs = this.clock();
    this.holding = { core, generation: ++this.generation, installedAtMs, snapshot: undefined, composer: new ShardComposer(core, installedAtMs) };
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
