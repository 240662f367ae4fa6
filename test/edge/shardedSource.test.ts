// The edge's sharded snapshot source against a stand-in control plane (and a KV stand-in): shards on demand, the LRU, stale shards, concurrency.
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec, OriginFile } from '../../src/core/model.js';
import { encodeSnapshot } from '../../src/core/snapshotCodec.js';
import { ShardCache, shardOf } from '../../src/core/snapshotShards.js';
import { createEdge } from '../../src/edge/edgeApp.js';
import { requestFilePaths } from '../../src/edge/requestFiles.js';
import { routedPath } from '../../src/http/target.js';
import type { KvNamespaceLike, WorkerContext } from '../../src/edge/runtime.js';
import { CORE_PATH, SHARD_PATH, ShardedSnapshotSource } from '../../src/edge/shardedSource.js';
import type { LogLike } from '../../src/http/services.js';
import { mirrorSpec } from '../support/specs.js';

const TOKEN = 'edge-snapshot-token';
const CONTROL = 'https://control.example';
const silent: LogLike = { info() {}, warn() {}, error() {} };
const TARGET = 4;

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { baseUrl: `https://${id}.example/pub/`, ...over });
}

/** 30 files, 4 a shard: 8 shards, and still 8 with one file more. */
const FILES: OriginFile[] = Array.from({ length: 30 }, (_, i) => ({ path: `pub/dir${i % 4}/file-${i}.iso`, size: 1000 + i, mtime: 1_700_000_000 }));

function builder(files = FILES): SnapshotBuilder {
  return new SnapshotBuilder({
    mirrors: [mirror('de-one'), mirror('fr-two', { country: 'FR' })],
    files: FileIndex.from(files),
    originBaseUrl: 'https://origin.example/pub/',
    routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    clock: () => 1_000,
  });
}

/** A control plane as a fetch function: the routes of src/http/admin.ts over a SnapshotBuilder, counting what is asked. */
function controlPlane(b: SnapshotBuilder, opts: { delayShardsMs?: number; holdShardsMs?: number } = {}) {
  const cache = new ShardCache();
  const seen: { path: string; status: number }[] = [];
  let down = false;
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const answer = (status: number, body: BodyInit | null, h: Record<string, string> = {}) => {
      seen.push({ path: url.pathname, status });
      return new Response(body, { status, headers: h });
    };
    if (down) throw new TypeError('fetch failed');
    if (headers.get('authorization') !== `Bearer ${TOKEN}`) return answer(401, null);
    const s = b.current();
    if (url.pathname === CORE_PATH) {
      const etag = `"mgc-${s.version}-${s.builtAtMs}"`;
      if (headers.get('if-none-match') === etag) return answer(304, null, { ETag: etag });
      return answer(200, cache.core(s, TARGET) as Uint8Array<ArrayBuffer>, { ETag: etag });
    }
    if (url.pathname.startsWith(SHARD_PATH)) {
      const set = cache.shards(s, TARGET);
      const k = Number(url.pathname.slice(SHARD_PATH.length));
      if (!(k >= 0 && k < set.count)) return answer(404, null);
      if (opts.delayShardsMs) await new Promise((r) => setTimeout(r, opts.delayShardsMs! * Math.random()));
      if (opts.holdShardsMs) await new Promise((r) => setTimeout(r, opts.holdShardsMs));
      const etag = `"${set.info[k]!.hash}"`;
      if (headers.get('if-none-match') === etag) return answer(304, null, { ETag: etag });
      return answer(200, set.shards[k] as Uint8Array<ArrayBuffer>, { ETag: etag });
    }
    return answer(404, null);
  }) as typeof fetch;
  return {
    fetch: fetchImpl,
    seen,
    shardLoads: () => seen.filter((x) => x.path.startsWith(SHARD_PATH) && x.status === 200).map((x) => Number(x.path.slice(SHARD_PATH.length))),
    setDown: (v: boolean) => void (down = v),
  };
}

function background() {
  const pending: Promise<unknown>[] = [];
  return { hand: (p: Promise<unknown>) => void pending.push(p), settle: () => Promise.all(pending.splice(0)) };
}

const ctx = (bg = background()) => ({ waitUntil: (p: Promise<unknown>) => bg.hand(p), passThroughOnException() {} }) as unknown as WorkerContext;

describe('ShardedSnapshotSource', () => {
  it('loads the core, then each shard on first use only', async () => {
    const b = builder();
    const cp = controlPlane(b);
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 10_000, fetch: cp.fetch, log: silent });
    const bg = background();
    expect(await source.ensure(bg.hand)).toBe(true);
    const n = source.core()!.shards.length;
    expect(n).toBe(8);
    expect(source.current()?.files.count).toBe(0);
    const [a, c] = [FILES[0]!.path, FILES.find((f) => shardOf(f.path, n) !== shardOf(FILES[0]!.path, n))!.path];
    const s1 = await source.forPaths([a], bg.hand);
    expect(s1?.files.lookup(a)).toBeGreaterThanOrEqual(0);
    expect(s1?.version).toBe(b.current().version);
    expect(await source.forPaths([a], bg.hand)).toBe(s1); // composed once per core
    await source.forPaths([c], bg.hand);
    expect(cp.shardLoads()).toEqual([shardOf(a, n), shardOf(c, n)]);
    expect(source.status()).toMatchObject({ mode: 'sharded', files: FILES.length, shards: 8, shardsCached: 2, shardLoads: 2 });
  });

  it('recomposes cached shards when the core changes, without fetching them again', async () => {
    const b = builder();
    const cp = controlPlane(b);
    let now = 0;
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 1000, fetch: cp.fetch, clock: () => now, log: silent });
    const bg = background();
    await source.ensure(bg.hand);
    const p = FILES[3]!.path;
    const before = await source.forPaths([p], bg.hand);
    expect(before!.mirrors.map((m) => m.status)).toEqual(['unknown', 'unknown']);
    b.setState('de-one', { health: 'down' });
    now = 1000;
    await source.ensure(bg.hand);
    await bg.settle();
    const after = await source.forPaths([p], bg.hand);
    expect(after).not.toBe(before);
    expect(after!.version).toBe(b.current().version);
    expect(after!.mirrors.map((m) => m.status)).toEqual(['down', 'unknown']);
    expect(cp.shardLoads()).toHaveLength(1);
  });

  it('waits for a newer shard within the wait budget, past it answers from the held copy, and waits for one that lacks the file', async () => {
    const b = builder();
    const slow: { holdShardsMs?: number } = {};
    const cp = controlPlane(b, slow);
    let now = 0;
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 1000, waitMs: 200, fetch: cp.fetch, clock: () => now, log: silent });
    const bg = background();
    await source.ensure(bg.hand);
    const n = source.core()!.shards.length;
    const p = FILES[5]!.path;
    const k = shardOf(p, n);
    await source.forPaths([p], bg.hand);

    // A new file in the same shard: the shard's hash changes, the shard count does not.
    let i = 0;
    let added = '';
    do added = `pub/new/release-${i++}.iso`;
    while (shardOf(added, n) !== k);
    b.setFiles(FileIndex.from([...FILES, { path: added, size: 5, mtime: 1_700_000_100 }]));
    now = 1000;
    await source.ensure(bg.hand);
    await bg.settle();
    expect(source.core()!.shards.length).toBe(n);

    // The new file is not in the held copy: this request waits for the new one.
    const s = await source.forPaths([added], bg.hand);
    expect(s?.files.lookup(added)).toBeGreaterThanOrEqual(0);
    expect(cp.shardLoads()).toEqual([k, k]);

    // An inventory change: the held copy has the file, but the core says it is outdated, and the new
    // copy comes within the budget: the request is answered from it.
    b.setInventory('de-one', FILES.slice(0, 10));
    now = 2000;
    await source.ensure(bg.hand);
    await bg.settle();
    const fresh = await source.forPaths([p], bg.hand);
    expect(fresh?.mirrors[0]!.inventory).toBeDefined();
    expect(cp.shardLoads()).toEqual([k, k, k]);

    // A new copy slower than the budget: the held copy answers, and the new one is used once it is in.
    slow.holdShardsMs = 600;
    // p (FILES[5]) leaves the inventory: its shard changes.
    b.setInventory('de-one', FILES.slice(0, 5));
    now = 3000;
    await source.ensure(bg.hand);
    await bg.settle();
    const started = Date.now();
    const held = await source.forPaths([p], bg.hand);
    expect(Date.now() - started).toBeLessThan(550);
    // The held shard's own files (recomposed with the new core).
    expect(held?.files).toBe(fresh?.files);
    await bg.settle();
    const next = await source.forPaths([p], bg.hand);
    expect(next?.files).not.toBe(fresh?.files);
    expect(next?.mirrors[0]!.inventory).toBeDefined();
    expect(cp.shardLoads()).toEqual([k, k, k, k]);
  });

  it('drops every cached shard when the shard count changes', async () => {
    const b = builder();
    const cp = controlPlane(b);
    let now = 0;
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 1000, fetch: cp.fetch, clock: () => now, log: silent });
    const bg = background();
    await source.ensure(bg.hand);
    await source.forPaths([FILES[0]!.path], bg.hand);
    expect(source.status().shardsCached).toBe(1);
    b.setFiles(FileIndex.from([...FILES, ...FILES.map((f) => ({ ...f, path: `${f.path}.sig` }))]));
    now = 1000;
    await source.ensure(bg.hand);
    await bg.settle();
    expect(source.core()!.shards.length).toBe(16);
    expect(source.status().shardsCached).toBe(0);
    const s = await source.forPaths([`${FILES[0]!.path}.sig`], bg.hand);
    expect(s?.files.lookup(`${FILES[0]!.path}.sig`)).toBeGreaterThanOrEqual(0);
  });

  it('keeps the cache under its byte bound, least recently used out first', async () => {
    const b = builder();
    const cp = controlPlane(b);
    const probe = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 1000, fetch: cp.fetch, log: silent });
    const bg = background();
    await probe.ensure(bg.hand);
    const n = probe.core()!.shards.length;
    // Room for about two shards.
    const byShard = new Map<number, string>();
    for (const f of FILES) byShard.set(shardOf(f.path, n), f.path);
    const paths = [...byShard.values()];
    await probe.forPaths([paths[0]!], bg.hand);
    const one = probe.status().shardCacheBytes;
    const source = new ShardedSnapshotSource({
      controlUrl: CONTROL,
      token: TOKEN,
      ttlMs: 1000,
      fetch: cp.fetch,
      cacheBytes: Math.floor(2.5 * one),
      log: silent,
    });
    await source.ensure(bg.hand);
    for (const p of paths.slice(0, 3)) await source.forPaths([p], bg.hand);
    await source.forPaths([paths[1]!], bg.hand); // used: now the most recent
    await source.forPaths([paths[3]!], bg.hand);
    const k = (p: string) => shardOf(p, n);
    // Most recently used last: 0, 2, 1, 3. What is kept is a tail of that order within the bound.
    const recency = [0, 2, 1, 3].map((i) => k(paths[i]!));
    const cached = source.cachedShards();
    expect(cached).toEqual(recency.slice(recency.length - cached.length));
    expect(cached.slice(-2)).toEqual([k(paths[1]!), k(paths[3]!)]);
    expect(cached).not.toContain(k(paths[0]!));
    expect(source.status().shardCacheBytes).toBeLessThanOrEqual(Math.floor(2.5 * one));
  });

  it('a core check that never answers is given up within 2 s (not the 10 s fetch timeout), so the next check can bring a change', async () => {
    const b = builder();
    const cp = controlPlane(b);
    let hang = false;
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (hang && new URL(String(input)).pathname === CORE_PATH) {
        hang = false;
        // Like a connection that never answers: only the request's own deadline ends it.
        return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
      }
      return cp.fetch(input, init);
    }) as typeof fetch;
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 100, fetch: fetchImpl, log: silent });
    const bg = background();
    await source.ensure(bg.hand);
    const version = source.core()!.version;
    hang = true;
    const started = performance.now();
    await source.refresh();
    const gaveUpAfter = performance.now() - started;
    expect(gaveUpAfter).toBeLessThan(5_000);
    expect(source.status().lastError).toBeTypeOf('string');
    // A change on the control plane reaches the next check.
    b.setMirrorsAndStates(
      b.current().mirrors.map((m) => m.spec),
      new Map([['de-one', { health: 'up', drain: { startMs: 0, overMs: 0 } }]]),
    );
    await source.refresh();
    expect(source.core()!.version).toBeGreaterThan(version);
  });

  it('without the control plane: a held shard still answers, a shard never loaded does not (retried at most once per retryMs)', async () => {
    const b = builder();
    const cp = controlPlane(b);
    let now = 0;
    const source = new ShardedSnapshotSource({ controlUrl: CONTROL, token: TOKEN, ttlMs: 1000, retryMs: 1000, fetch: cp.fetch, clock: () => now, log: silent });
    const bg = background();
    await source.ensure(bg.hand);
    const n = source.core()!.shards.length;
    const held = FILES[0]!.path;
    const other = FILES.find((f) => shardOf(f.path, n) !== shardOf(held, n))!.path;
    await source.forPaths([held], bg.hand);
    cp.setDown(true);
    now = 5000;
    expect(await source.ensure(bg.hand)).toBe(true);
    await bg.settle();
    expect(source.status().lastError).toBeTypeOf('string');
    expect((await source.forPaths([held], bg.hand))?.files.lookup(held)).toBeGreaterThanOrEqual(0);
    expect(await source.forPaths([other], bg.hand)).toBeUndefined();
    const asked = cp.seen.length;
    expect(await source.forPaths([other], bg.hand)).toBeUndefined();
    expect(cp.seen.length).toBe(asked); // down: nothing asked, and within retryMs of the failure
    cp.setDown(false);
    expect(await source.forPaths([other], bg.hand)).toBeUndefined(); // still within retryMs
    now = 6000;
    expect((await source.forPaths([other], bg.hand))?.files.lookup(other)).toBeGreaterThanOrEqual(0);
  });

  it('reads "core" and "shard/<hash>" from KV (cached at the location), decoding a shard only when its bytes changed', async () => {
    const b = builder();
    const cache = new ShardCache();
    const store = new Map<string, ArrayBuffer>();
    let byNumber = false;
    const publish = () => {
      const s = b.current();
      const set = cache.shards(s, TARGET);
      const buf = (u: Uint8Array) => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
      store.set('core', buf(cache.core(s, TARGET)));
      // As the README's KV script publishes them; before shards were keyed by hash, by number.
      set.shards.forEach((bytes, k) => store.set(byNumber ? `shard/${k}` : `shard/${set.info[k]!.hash}`, buf(bytes)));
    };
    const reads: { key: string; cacheTtl?: number }[] = [];
    const kv: KvNamespaceLike = { get: async (key, options) => (reads.push({ key, cacheTtl: options.cacheTtl }), store.get(key) ?? null) };
    let now = 0;
    const source = new ShardedSnapshotSource({ kv, ttlMs: 1000, clock: () => now, log: silent });
    const bg = background();
    expect(await source.ensure(bg.hand)).toBe(false);
    expect(source.noCore).toBe(true);
    publish();
    now = 1000;
    expect(await source.ensure(bg.hand)).toBe(true);
    const p = FILES[7]!.path;
    expect((await source.forPaths([p], bg.hand))?.files.lookup(p)).toBeGreaterThanOrEqual(0);
    expect(source.status()).toMatchObject({ source: 'kv', shardLoads: 1 });
    // A new inventory republished: the core names a new hash, the shard is read and decoded again.
    b.setInventory('fr-two', FILES.slice(0, 4));
    publish();
    now = 2000;
    await source.ensure(bg.hand);
    await bg.settle();
    await source.forPaths([p], bg.hand);
    await bg.settle();
    expect(source.status().shardLoads).toBe(2);
    const shardReads = reads.filter((r) => r.key.startsWith('shard/'));
    expect(shardReads).toHaveLength(2);
    const hashes = source.core()!.shards.map((x) => x.hash);
    // Read by hash, and kept at the location for long: the bytes under a hash never change.
    for (const r of shardReads) expect(hashes.map((h) => `shard/${h}`).concat(shardReads[0]!.key)).toContain(r.key);
    expect(shardReads.every((r) => (r.cacheTtl ?? 0) >= 86_400)).toBe(true);

    // An older publisher (keys by number): still read, after the miss by hash.
    store.clear();
    byNumber = true;
    b.setInventory('fr-two', FILES.slice(0, 8));
    publish();
    now = 3000;
    await source.ensure(bg.hand);
    await bg.settle();
    const q = FILES.find((f) => shardOf(f.path, source.core()!.shards.length) !== shardOf(p, source.core()!.shards.length))!.path;
    expect((await source.forPaths([q], bg.hand))?.files.lookup(q)).toBeGreaterThanOrEqual(0);
    expect(reads.slice(-2).map((r) => r.key)).toEqual([
      `shard/${source.core()!.shards[shardOf(q, source.core()!.shards.length)]!.hash}`,
      `shard/${shardOf(q, source.core()!.shards.length)}`,
    ]);
  });
});

describe('requestFilePaths', () => {
  it('reads the file path of downloads and file facts as the app does', () => {
    expect(requestFilePaths('GET', '/download/pub/a%20b.iso', '/download/pub/a%20b.iso?mirrorlist')).toEqual(['pub/a b.iso']);
    expect(requestFilePaths('HEAD', '/download/pub/a.iso.meta4', '/download/pub/a.iso.meta4')).toEqual(['pub/a.iso.meta4', 'pub/a.iso']);
    expect(requestFilePaths('GET', '/api/v1/files/pub/a.iso', '/api/v1/files/pub/a.iso')).toEqual(['pub/a.iso']);
    expect(requestFilePaths('GET', '/download/pub/../etc', '/download/pub/../etc')).toEqual([]);
    expect(requestFilePaths('POST', '/download/pub/a.iso', '/download/pub/a.iso')).toEqual([]);
    expect(requestFilePaths('GET', '/mirrors', '/mirrors')).toEqual([]);
    // The router's path for an escaped prefix (http/target.ts routedPath), the raw target as sent.
    expect(requestFilePaths('GET', routedPath('/%64ownload/pub/a.iso'), '/%64ownload/pub/a.iso')).toEqual(['pub/a.iso']);
  });
});

describe('createEdge in sharded mode', () => {
  it('answers concurrent requests for files in different shards each from its own shard', async () => {
    const b = builder();
    const cp = controlPlane(b, { delayShardsMs: 20 });
    const edge = createEdge({ CONTROL_URL: CONTROL, SNAPSHOT_TOKEN: TOKEN, LOG_LEVEL: 'silent' }, { fetch: cp.fetch, log: silent });
    const bg = background();
    const ask = (p: string) => edge.fetch(new Request(`https://edge.example/api/v1/files/${p}`, { headers: { 'CF-Connecting-IP': '192.0.2.1' } }), ctx(bg));
    // Twice over every file, all at once: shard loads finish in random order while other requests run.
    const paths = [...FILES, ...FILES].map((f) => f.path);
    // Then again with every shard cached: all requests resume in the same microtask turns.
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(paths.map(async (p) => [p, await ask(p)] as const));
      for (const [p, res] of answers) {
        expect(res.status, p).toBe(200);
        expect(((await res.json()) as { path: string }).path).toBe(p);
      }
    }
    expect(edge.mode()).toBe('sharded');
    expect(new Set(cp.shardLoads()).size).toBe(cp.shardLoads().length); // one load per shard
    const ready = (await (await edge.fetch(new Request('https://edge.example/readyz'), ctx(bg))).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ snapshotMode: 'sharded', files: FILES.length, snapshotShards: 8, snapshotShardsCached: 8 });
    await bg.settle();
  });

  it('auto mode falls back to the whole snapshot where there is no core (KV with "snapshot" only)', async () => {
    const s = builder().current();
    const bytes = encodeSnapshot(s);
    const kv: KvNamespaceLike = {
      get: async (key) => (key === 'snapshot' ? (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) : null),
    };
    const edge = createEdge({ SNAPSHOT: kv, LOG_LEVEL: 'silent' } as never, { log: silent });
    const res = await edge.fetch(new Request(`https://edge.example/api/v1/files/${FILES[2]!.path}`), ctx());
    expect(res.status).toBe(200);
    expect(edge.mode()).toBe('single');
    const ready = (await (await edge.fetch(new Request('https://edge.example/readyz'), ctx())).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ snapshotSource: 'kv', files: FILES.length });
    expect(ready.snapshotMode).toBeUndefined();
  });

  it("answers 503 with Retry-After when a file's shard cannot be loaded, and still serves pages from the core", async () => {
    const b = builder();
    const cp = controlPlane(b);
    const edge = createEdge({ CONTROL_URL: CONTROL, SNAPSHOT_TOKEN: TOKEN, SNAPSHOT_MODE: 'sharded', LOG_LEVEL: 'silent' }, { fetch: cp.fetch, log: silent });
    expect((await edge.fetch(new Request('https://edge.example/api/v1/mirrors'), ctx())).status).toBe(200);
    cp.setDown(true);
    const res = await edge.fetch(new Request(`https://edge.example/download/${FILES[1]!.path}`), ctx());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const mirrors = (await (await edge.fetch(new Request('https://edge.example/api/v1/mirrors'), ctx())).json()) as { mirrors: { id: string }[] };
    expect(mirrors.mirrors.map((m) => m.id)).toEqual(['de-one', 'fr-two']);
  });
});
