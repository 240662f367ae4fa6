// Prints the edge's figures, measured in one run: Worker bundle size, workerd cold start, snapshot bytes, decode time and memory for two network sizes,
// the same for the sharded snapshot (a core plus file shards on demand) that large networks need, shard sizes against decode time, the
// isolate's shard cache against the bench's request mix (isolate hits, Cache API reads, control-plane fetches), and a cold isolate's CPU.
// Usage: npx tsx scripts/edge-measure.ts [--skip-large] [--skip-workerd] [--skip-whole] [--requests=N] [--only=sizes,mix,cold]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SnapshotBuilder } from '../src/control/snapshotBuilder.js';
import { FileIndex } from '../src/core/fileIndex.js';
import type { InventoryEntry, MirrorSpec, OriginFile } from '../src/core/model.js';
import type { Snapshot } from '../src/core/snapshot.js';
import { decodeSnapshot, encodeSnapshot } from '../src/core/snapshotCodec.js';
import { decodeCore, decodeShard, SHARD_TARGET_FILES, ShardCache, shardOf, type ShardSet } from '../src/core/snapshotShards.js';
import { ShardComposer } from '../src/edge/composeShard.js';
import { requestFilePaths } from '../src/edge/requestFiles.js';
import type { CacheLike } from '../src/edge/runtime.js';
import { CORE_PATH, DEFAULT_SHARD_CACHE_BYTES, SHARD_PATH, shardCost, ShardedSnapshotSource } from '../src/edge/shardedSource.js';
import { buildRequests, MIX } from '../load/scenarios.js';
import { startWorkerd, wranglerCompatibilityDate } from '../test/edge/workerd.js';
import { buildWorker, kib } from './build-worker.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Cloudflare Workers: memory per isolate. */
const WORKER_MEMORY_LIMIT = 128 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
/**
 * Milliseconds of CPU this process spent (all its threads; V8's GC helpers add a little). The
 * shard figures use it rather than wall time: on a shared machine wall time mostly measures the
 * other processes.
 */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Memory after dropped objects are really gone: array buffers are freed after the collection that finds them. */
async function settle(): Promise<NodeJS.MemoryUsage> {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  return process.memoryUsage();
}

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same network. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTRIES = ['DE', 'FR', 'NL', 'GB', 'SE', 'US', 'CA', 'BR', 'JP', 'SG', 'IN', 'AU', 'ZA', 'KE', 'PL', 'IT', 'ES', 'CZ', 'FI', 'KR'];
const EXTENSIONS = ['tar.xz', 'tar.gz', 'iso', 'rpm', 'deb', 'zip', 'sig', 'txt'];

export interface Network {
  files: number;
  mirrors: number;
  /** Share of mirrors publishing a manifest (a per-file inventory bitset) rather than include/exclude rules only. */
  manifestShare: number;
}

/**
 * A synthetic network shaped like a real one: 200 projects, paths of 50–80 bytes, 80 % of files
 * with a sha-256; each mirror carries a random set of projects (a fifth carry everything), some
 * exclude ISOs, and manifestShare of them publish a manifest listing ~90 % of what their rules cover.
 */
export function syntheticSnapshot(n: Network): Snapshot {
  const rnd = random(n.files ^ (n.mirrors << 20));
  const projects = Array.from({ length: 200 }, (_, i) => `project-${String(i).padStart(3, '0')}`);
  const files: OriginFile[] = new Array(n.files);
  for (let i = 0; i < n.files; i++) {
    const p = projects[Math.floor(rnd() * projects.length)]!;
    const ext = EXTENSIONS[Math.floor(rnd() * EXTENSIONS.length)]!;
    const f: OriginFile = {
      path: `${p}/releases/${1 + Math.floor(rnd() * 40)}.${Math.floor(rnd() * 10)}/x86_64/${p}-pkg-${i}.${ext}`,
      size: Math.floor(rnd() * 4e9),
      mtime: 1_700_000_000 + Math.floor(rnd() * 6e7),
    };
    if (rnd() < 0.8) {
      let hex = '';
      for (let b = 0; b < 8; b++)
        hex += Math.floor(rnd() * 2 ** 32)
          .toString(16)
          .padStart(8, '0');
      f.sha256 = hex;
    }
    files[i] = f;
  }
  const index = FileIndex.from(files);
  const mirrors: MirrorSpec[] = Array.from({ length: n.mirrors }, (_, m) => {
    const all = rnd() < 0.2;
    const include = all ? ['**'] : projects.filter(() => rnd() < 0.15).map((p) => `${p}/**`);
    return {
      id: `mirror-${m}`,
      name: `Mirror ${m}`,
      baseUrl: `https://mirror-${m}.example.org/pub/`,
      country: COUNTRIES[m % COUNTRIES.length]!,
      asn: [64_512 + m],
      weight: 100,
      countryOnly: false,
      enabled: true,
      sponsor: { name: `Sponsor ${m}`, url: `https://sponsor-${m}.example.org/` },
      content: { include: include.length ? include : ['project-000/**'], exclude: rnd() < 0.3 ? ['**/*.iso'] : [] },
    };
  });
  const builder = new SnapshotBuilder({
    mirrors,
    files: index,
    originBaseUrl: 'https://origin.example.org/pub/',
    routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 21_600 },
  });
  const snapshot = builder.current();
  const withManifest = Math.round(n.mirrors * n.manifestShare);
  for (let m = 0; m < withManifest; m++) {
    const bit = snapshot.mirrors[m]!.ruleBit;
    builder.setInventory(mirrors[m]!.id, inventoryOf(snapshot, bit, rnd));
  }
  for (const m of mirrors) builder.setState(m.id, { health: 'up', lagSeconds: 60 });
  return builder.current();
}

function* inventoryOf(s: Snapshot, ruleBit: number, rnd: () => number): Generator<InventoryEntry> {
  const { files, rules } = s;
  for (let f = 0; f < files.count; f++) {
    const cls = rules.membership[rules.fileClass[f]!]!;
    if ((cls[ruleBit >>> 5]! & (1 << (ruleBit & 31))) === 0 || rnd() >= 0.9) continue;
    yield { path: files.paths[f]!, size: files.size(f), mtime: files.mtime(f) };
  }
}

interface SnapshotFigures {
  bytes: number;
  gzipBytes?: number;
  encodeMs: number;
  decodeMs: number;
  /** JS heap + array buffers held after decode, beyond the raw bytes. */
  decodeHeapBytes: number;
  inventories: number;
  ruleClasses: number;
}

async function measureSnapshot(snapshot: Snapshot, n: Network): Promise<SnapshotFigures> {
  let t = performance.now();
  const bytes = encodeSnapshot(snapshot);
  const encodeMs = performance.now() - t;
  const inventories = snapshot.mirrors.filter((m) => m.inventory).length;
  const ruleClasses = snapshot.rules.membership.length;
  const times: number[] = [];
  const runs = n.files > 100_000 ? 3 : 7;
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    decodeSnapshot(bytes, Date.now());
    times.push(performance.now() - t);
  }
  // Memory: what one decoded snapshot keeps beyond its bytes (the typed arrays are views on them).
  const before = await settle();
  let held: Snapshot | undefined = decodeSnapshot(bytes, Date.now());
  const after = await settle();
  const decodeHeapBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  held = undefined;
  void held;
  return { bytes: bytes.byteLength, encodeMs, decodeMs: median(times), decodeHeapBytes, inventories, ruleClasses };
}

interface ShardedFigures {
  target: number;
  splitMs: number;
  /** Re-split after one mirror's inventory changed (the cache keeps the layout and the other inventories). */
  inventorySplitMs: number;
  /** The same first split run as the control plane runs it (in 10 ms slices): its wall time, and the longest the event loop was held. */
  cooperativeSplitMs: number;
  longestHoldMs: number;
  shards: number;
  coreBytes: number;
  shardBytesMedian: number;
  shardBytesMax: number;
  shardFilesMedian: number;
  /** decodeShard of one shard: median and the slowest of those measured. */
  decodeMs: number;
  decodeMaxMs: number;
  /** ShardComposer.compose of one decoded shard (the per-core template already built), median. */
  composeMs: number;
  /** Building the per-core template (once per core, paid by the first shard composed after a new core). */
  templateMs: number;
  /** The core as a file-less snapshot: heap after decode. */
  coreHeapBytes: number;
  /** Heap + array buffers held by an isolate's source with its shard cache full, beyond the core. */
  residentBytes: number;
  /** What the source's cost estimate (shardCost) says the same cache holds. */
  estimatedBytes: number;
  cachedShards: number;
  /** Measured heap per file beyond the shard bytes, decoded (paths as strings, the path table). */
  heapPerFile: number;
  /** Measured heap of one composed shard beyond its decoded files (mirror copies, column tables), per mirror. */
  heapPerMirror: number;
}

const silent = { info() {}, warn() {}, error() {} };

/** A control plane as a fetch function over one split (core and shard routes, no auth, ETags), counting shard bodies sent. */
function splitFetch(core: Uint8Array, set: ShardSet, counter = { shards: 0 }): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const path = new URL(String(input)).pathname;
    if (path === CORE_PATH) return new Response(core as Uint8Array<ArrayBuffer>, { headers: { ETag: '"core"' } });
    const k = Number(path.slice(SHARD_PATH.length));
    counter.shards++;
    return new Response(set.shards[k] as Uint8Array<ArrayBuffer>, { headers: { ETag: `"${set.info[k]!.hash}"` } });
  }) as typeof fetch;
}

/** The Cache API of one location, in memory (what caches.default is to the isolates there). */
function memoryCache(): CacheLike & { entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    async match(key) {
      const hit = entries.get(key);
      return hit ? new Response(hit as Uint8Array<ArrayBuffer>) : undefined;
    },
    async put(key, res) {
      entries.set(key, new Uint8Array(await res.arrayBuffer()));
    },
  };
}

async function measureSharded(snapshot: Snapshot, target = SHARD_TARGET_FILES): Promise<ShardedFigures & { set: ShardSet; core: Uint8Array }> {
  const cache = new ShardCache();
  let t = performance.now();
  const set = cache.shards(snapshot, target);
  const splitMs = performance.now() - t;
  // A scan's new inventory for one mirror: only its bits are split again, then every shard is re-encoded.
  const rescanned = snapshot.mirrors.find((m) => m.inventory);
  let inventorySplitMs = 0;
  if (rescanned) {
    const changed = { ...snapshot, mirrors: snapshot.mirrors.map((m) => (m === rescanned ? { ...m, inventory: m.inventory!.slice() } : m)) };
    const other = new ShardCache();
    other.shards(snapshot, target);
    t = performance.now();
    other.shards(changed, target);
    inventorySplitMs = performance.now() - t;
  }
  // As GET /admin/v1/snapshot/shards runs it: the event loop gets a turn between slices.
  let longestHoldMs = 0;
  let heldSince = performance.now();
  t = heldSince;
  await new ShardCache().shardsCooperatively(snapshot, target, {
    now: () => performance.now(),
    pause: async () => {
      longestHoldMs = Math.max(longestHoldMs, performance.now() - heldSince);
      await new Promise((resolve) => setImmediate(resolve));
      heldSince = performance.now();
    },
  });
  longestHoldMs = Math.max(longestHoldMs, performance.now() - heldSince);
  const cooperativeSplitMs = performance.now() - t;
  const core = cache.core(snapshot, target);
  const sizes = set.info.map((i) => i.bytes);
  const files = set.info.map((i) => i.files);
  const decodedCore = decodeCore(core);

  // Time: decode, then compose as the edge does (a per-core template, then each shard on it).
  const composer = new ShardComposer(decodedCore, Date.now());
  t = cpuMs();
  composer.compose(decodeShard(set.shards[0]!));
  const firstMs = cpuMs() - t;
  const decode: number[] = [];
  const compose: number[] = [];
  const sample = Math.min(set.count, 24);
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < sample; k++) {
      const bytes = set.shards[(k * 7) % set.count]!;
      t = cpuMs();
      const shard = decodeShard(bytes);
      const decoded = cpuMs();
      composer.compose(shard);
      // The first round warms the JIT, as the isolate's first few requests do.
      if (round === 1) {
        decode.push(decoded - t);
        compose.push(cpuMs() - decoded);
      }
    }
  }
  const templateMs = Math.max(0, firstMs - median(decode) - median(compose));

  // Heap: K decoded shards held (paths as strings, path tables), then the same composed.
  const K = Math.min(set.count, 8);
  let before = await settle();
  const copies = Array.from({ length: K }, (_, k) => set.shards[k]!.slice());
  let decodedHeld: ReturnType<typeof decodeShard>[] | undefined = copies.map((b) => decodeShard(b));
  let after = await settle();
  const bytesHeld = copies.reduce((n, b) => n + b.byteLength, 0);
  const filesHeld = set.info.slice(0, K).reduce((n, i) => n + i.files, 0);
  const decodedHeap = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  const heapPerFile = (decodedHeap - bytesHeld) / filesHeld;
  before = after;
  let composedHeld: Snapshot[] | undefined = decodedHeld.map((d) => composer.compose(d));
  after = await settle();
  const heapPerMirror = (after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers)) / K / Math.max(1, decodedCore.mirrors.length);
  composedHeld = undefined;
  decodedHeld = undefined;
  void composedHeld;
  void decodedHeld;

  // Memory: an isolate's sharded source, its core loaded and its cache filled past the bound (32 MB).
  const fetchImpl = splitFetch(core, set);
  const firstPathOf = (k: number) => {
    for (let f = 0; f < snapshot.files.count; f++) if (shardOf(snapshot.files.paths[f]!, set.count) === k) return snapshot.files.paths[f]!;
    throw new Error(`shard ${k} is empty`);
  };
  const probes = Array.from({ length: Math.min(set.count, 96) }, (_, k) => firstPathOf(k));
  before = await settle();
  let source: ShardedSnapshotSource | undefined = new ShardedSnapshotSource({ controlUrl: 'http://control', ttlMs: 60_000, fetch: fetchImpl, log: silent });
  await source.ensure(() => {});
  source.current();
  after = await settle();
  const coreHeapBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  for (const p of probes) await source.forPaths([p], () => {});
  after = await settle();
  const residentBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers) - coreHeapBytes;
  const status = source.status();
  source = undefined;

  return {
    target,
    splitMs,
    inventorySplitMs,
    cooperativeSplitMs,
    longestHoldMs,
    shards: set.count,
    coreBytes: core.byteLength,
    shardBytesMedian: median(sizes),
    shardBytesMax: Math.max(...sizes),
    shardFilesMedian: median(files),
    decodeMs: median(decode),
    decodeMaxMs: Math.max(...decode),
    composeMs: median(compose),
    templateMs,
    coreHeapBytes,
    residentBytes,
    estimatedBytes: status.shardCacheBytes,
    cachedShards: status.shardsCached,
    heapPerFile,
    heapPerMirror,
    set,
    core,
  };
}

interface MixFigures {
  label: string;
  requests: number;
  /** Requests that needed a shard the isolate did not hold (a decode, after a Cache API or control-plane read). */
  isolateMisses: number;
  /** Shards read from the location's Cache API. */
  fromCache: number;
  /** Shards fetched from the control plane. */
  fromControlPlane: number;
  /** CPU spent loading shards (fetch stand-in, decode, compose), per request needing one. */
  loadMsPerMiss: number;
}

/**
 * The bench's request mix (load/scenarios.ts: 80 % redirects, pages, lists, metalinks and stale
 * links, half of all downloads to the top 5 % of files) over a network's paths, through real
 * ShardedSnapshotSources sharing one in-memory Cache API: `isolates` isolates take the requests in
 * turn, and each is replaced by a cold one every `recycleEvery` requests it served.
 */
async function measureMix(
  snapshot: Snapshot,
  core: Uint8Array,
  set: ShardSet,
  opts: { label: string; requests: number; isolates: number; recycleEvery: number; sharedCache: boolean; cacheBytes?: number },
): Promise<MixFigures> {
  const paths = snapshot.files.paths;
  const requests = buildRequests({ paths, count: opts.requests, mix: MIX, seed: 42, clients: 2_000 });
  const counter = { shards: 0 };
  const fetchImpl = splitFetch(core, set, counter);
  const shared = opts.sharedCache ? memoryCache() : undefined;
  const make = () =>
    new ShardedSnapshotSource({
      controlUrl: 'http://control',
      ttlMs: 3_600_000,
      fetch: fetchImpl,
      sharedCache: shared,
      cacheBytes: opts.cacheBytes ?? DEFAULT_SHARD_CACHE_BYTES,
      log: silent,
    });
  const isolates = Array.from({ length: opts.isolates }, () => ({ source: make(), served: 0 }));
  for (const i of isolates) await i.source.ensure(() => {});
  let misses = 0;
  let missMs = 0;
  let fromCache = 0;
  const pendingPuts: Promise<unknown>[] = [];
  for (let r = 0; r < requests.length; r++) {
    const req = requests[r]!;
    const iso = isolates[r % isolates.length]!;
    if (iso.served >= opts.recycleEvery) {
      iso.source = make();
      iso.served = 0;
      await iso.source.ensure(() => {});
    }
    iso.served++;
    const target = req.path;
    const url = new URL(target, 'https://edge.example');
    const wanted = requestFilePaths('GET', url.pathname, target);
    if (!wanted.length) continue;
    const before = iso.source.status().shardLoads;
    const cacheBefore = iso.source.status().shardsFromSharedCache;
    const t = cpuMs();
    await iso.source.forPaths(wanted, (p) => void pendingPuts.push(p));
    // The cache write runs behind the response (ctx.waitUntil): done before the next request here.
    await Promise.all(pendingPuts.splice(0));
    if (iso.source.status().shardLoads > before) {
      misses++;
      missMs += cpuMs() - t;
      fromCache += iso.source.status().shardsFromSharedCache - cacheBefore;
    }
  }
  return {
    label: opts.label,
    requests: requests.length,
    isolateMisses: misses,
    fromCache,
    fromControlPlane: counter.shards,
    loadMsPerMiss: misses ? missMs / misses : 0,
  };
}

/**
 * A cold isolate's CPU, in a fresh Node process running the Worker bundle (the same V8 as workerd, whose
 * local runtime reports no CPU time): module load, then the first download (core, shard, app build,
 * answer), then a download from the same shard, then one from another shard. Control plane: in-process.
 */
async function measureColdIsolate(bundle: string, core: Uint8Array, set: ShardSet, paths: readonly string[]): Promise<Record<string, number>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-cold-'));
  try {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'core.bin'), core);
    await writeFile(path.join(dir, 'hashes.json'), JSON.stringify(set.info.map((i) => i.hash)));
    for (const [k, bytes] of set.shards.entries()) await writeFile(path.join(dir, `shard-${k}.bin`), bytes);
    const child = `
      import { readFileSync } from 'node:fs';
      const dir = ${JSON.stringify(dir)};
      // CPU of this thread only would be ideal (a Worker's CPU limit is its thread's); process CPU also counts V8's helper threads (GC, compiling).
      const usage = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
      const steps = process.argv[2] === 'steps';
      const bodies = { core: readFileSync(dir + '/core.bin') };
      const hashes = JSON.parse(readFileSync(dir + '/hashes.json', 'utf8'));
      globalThis.fetch = async (input) => {
        const p = new URL(String(input)).pathname;
        if (p === ${JSON.stringify(CORE_PATH)}) return new Response(bodies.core, { headers: { ETag: '"core"' } });
        const k = Number(p.slice(${JSON.stringify(SHARD_PATH)}.length));
        return new Response(readFileSync(dir + '/shard-' + k + '.bin'), { headers: { ETag: '"' + hashes[k] + '"' } });
      };
      const ctx = { waitUntil() {}, passThroughOnException() {} };
      const env = { CONTROL_URL: 'http://control', SNAPSHOT_TOKEN: 't', LOG_LEVEL: 'error', SHARD_SHARED_CACHE: 'off' };
      const out = {};
      // Node loads its Fetch API (undici, streams) lazily on first use; workerd's is native. Load it before measuring.
      await new Response(new Uint8Array(8)).arrayBuffer();
      await new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(8)); c.close(); } })).text();
      new Request('https://edge.example/', { headers: { a: 'b' } });
      let c = usage();
      const mod = await import(${JSON.stringify(pathToFileURL(bundle).href)});
      out.moduleLoadMs = usage() - c;
      const get = async (target, status) => {
        const start = usage();
        const t = performance.now();
        const req = new Request('https://edge.example' + target, { headers: { 'CF-Connecting-IP': '192.0.2.1' } });
        // request.cf, as Cloudflare attaches it: the client is placed without a GeoIP lookup.
        Object.defineProperty(req, 'cf', { value: { country: 'DE', continent: 'EU', latitude: '52.52', longitude: '13.40', asn: 680 } });
        const res = await mod.default.fetch(req, env, ctx);
        await res.arrayBuffer();
        if (res.status !== status) throw new Error(target + ': status ' + res.status);
        return [usage() - start, performance.now() - t];
      };
      const ask = (p) => get('/download/' + p, 302);
      const paths = ${JSON.stringify(paths)};
      if (steps) {
        // The same work, one part at a time: the app alone, then the core, then the shard.
        [out.appBuildMs, out.appBuildWallMs] = await get('/healthz', 200);
        [out.coreMs, out.coreWallMs] = await get('/api/v1/mirrors', 200);
        [out.shardMs, out.shardWallMs] = await ask(paths[0]);
      } else {
        [out.firstDownloadMs, out.firstDownloadWallMs] = await ask(paths[0]);
        [out.sameShardMs] = await ask(paths[0]);
        [out.newShardMs, out.newShardWallMs] = await ask(paths[1]);
        [out.hitAfterWarmMs] = await ask(paths[1]);
      }
      console.log(JSON.stringify(out));
    `;
    const file = path.join(dir, 'cold.mjs');
    await writeFile(file, child);
    const runs: Record<string, number>[] = [];
    for (let i = 0; i < 10; i++) {
      const text = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, [file, i % 2 ? 'steps' : 'first'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cold isolate run exited ${code}`))));
      });
      runs.push(JSON.parse(text.trim().split('\n').pop()!) as Record<string, number>);
    }
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
    return Object.fromEntries(keys.map((k) => [k, median(runs.filter((r) => k in r).map((r) => r[k]!))]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The sharded Worker in workerd against a stand-in control plane serving one split: first answer, a shard miss, a hit. */
async function measureShardedWorkerd(bundle: string, core: Uint8Array, set: ShardSet, paths: readonly string[]) {
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === CORE_PATH) return void res.writeHead(200, { ETag: '"core"' }).end(core);
    // What the Worker passes through to its control plane: a poll that does not build the app.
    if (url === '/login') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('login');
    const k = Number(url.slice(SHARD_PATH.length));
    if (url.startsWith(SHARD_PATH) && set.shards[k]) return void res.writeHead(200, { ETag: `"${set.info[k]!.hash}"` }).end(set.shards[k]);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const date = await wranglerCompatibilityDate(ROOT);
  const bindings = { CONTROL_URL: controlUrl, SNAPSHOT_TOKEN: 't', LOG_LEVEL: 'error' };
  const ask = async (base: string, p: string) => {
    const t = performance.now();
    const res = await fetch(`${base}/download/${p}`, {
      redirect: 'manual',
      headers: {
        'CF-Connecting-IP': '192.0.2.1',
        'CF-Blob': JSON.stringify({ country: 'DE', continent: 'EU', latitude: '52.52', longitude: '13.40', asn: 680 }),
      },
    });
    await res.arrayBuffer();
    if (res.status !== 302) throw new Error(`workerd answered ${res.status} for ${p}`);
    return performance.now() - t;
  };
  const firstWithApp: number[] = [];
  const firstAppBuilt: number[] = [];
  const misses: number[] = [];
  const hits: number[] = [];
  let firstAnswer = 0;
  let ready: Record<string, unknown> = {};
  try {
    for (let round = 0; round < 3; round++) {
      // Cold isolate whose first request is a download (app, core and shard all on that request).
      const started = performance.now();
      let w = await startWorkerd(bundle, [{ name: 'edge', bindings }], date, { readyPath: '/login' });
      try {
        firstWithApp.push(await ask(w.urls.edge!, paths[0]!));
        if (round === 0) firstAnswer = performance.now() - started;
      } finally {
        await w.close();
      }
      // The same, the app already built (by /healthz): the core and the shard only.
      w = await startWorkerd(bundle, [{ name: 'edge', bindings }], date);
      try {
        firstAppBuilt.push(await ask(w.urls.edge!, paths[0]!));
        if (round === 0) {
          for (const p of paths.slice(1, 8)) misses.push(await ask(w.urls.edge!, p));
          for (let r = 0; r < 5; r++) for (const p of paths.slice(3, 8)) hits.push(await ask(w.urls.edge!, p));
          ready = (await (await fetch(`${w.urls.edge}/readyz`)).json()) as Record<string, unknown>;
        }
      } finally {
        await w.close();
      }
    }
    return { firstAnswer, firstWithApp: median(firstWithApp), firstAppBuilt: median(firstAppBuilt), miss: median(misses), hit: median(hits), ready };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function measureWorkerd(bundle: string, snapshotBytes: Uint8Array, rounds: number) {
  const etag = '"measure-1"';
  const server = createServer((req, res) => {
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end();
    res.writeHead(200, { ETag: etag }).end(snapshotBytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const date = await wranglerCompatibilityDate(ROOT);
  const health: number[] = [];
  const firstRedirect: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const w = await startWorkerd(bundle, [{ name: 'edge', bindings: { CONTROL_URL: controlUrl, SNAPSHOT_TOKEN: 't', LOG_LEVEL: 'error' } }], date);
      health.push(w.coldStartMs);
      const res = await fetch(`${w.urls.edge}/download/project-000/nope`, { redirect: 'manual', headers: { 'CF-Connecting-IP': '192.0.2.1' } });
      await res.arrayBuffer();
      firstRedirect.push(performance.now() - started);
      await w.close();
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { health: median(health), firstAnswer: median(firstRedirect) };
}

async function main() {
  const argv = process.argv.slice(2);
  const args = new Set(argv);
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const only = value('only')?.split(',');
  const want = (part: string) => !only || only.includes(part);
  const requestCount = Number(value('requests') ?? 20_000);
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-measure-'));
  try {
    const bundle = await buildWorker({ outfile: path.join(dir, 'worker.js'), quiet: true });
    console.log(`Worker bundle (esbuild, minified): ${kib(bundle.bytes)} raw, ${kib(bundle.gzipBytes)} gzip`);

    const small: Network = { files: 10_000, mirrors: 100, manifestShare: 0.2 };
    if (!args.has('--skip-workerd') && want('whole')) {
      const smallSnapshot = encodeSnapshot(syntheticSnapshot(small));
      const w = await measureWorkerd(bundle.outfile, smallSnapshot, 5);
      console.log(
        `workerd cold start (median of 5): spawn → first 200 on /healthz ${ms(w.health)}; spawn → first download answer (fetch + decode of the 10k × 100 snapshot) ${ms(w.firstAnswer)}`,
      );
    }

    const cases: Network[] = [small];
    // --large-files=N: a smaller "large" network, to try the script quickly.
    if (!args.has('--skip-large')) cases.push({ files: Number(value('large-files') ?? 1_000_000), mirrors: 500, manifestShare: 0.2 });
    const sharded: { n: Network; f: Awaited<ReturnType<typeof measureSharded>>; paths: string[]; snapshot: Snapshot }[] = [];
    for (const n of cases) {
      const label = `${n.files.toLocaleString('en')} files × ${n.mirrors} mirrors`;
      const snapshot = syntheticSnapshot(n);
      if (!args.has('--skip-whole') && want('whole')) {
        if (n === cases[0])
          console.log('\nsnapshot                     | bytes      | encode  | decode (median) | heap after decode | bytes + heap | 2 × (refresh)');
        const f = await measureSnapshot(snapshot, n);
        const resident = f.bytes + f.decodeHeapBytes;
        console.log(
          `${label.padEnd(28)} | ${mib(f.bytes).padStart(10)} | ${ms(f.encodeMs).padStart(7)} | ${ms(f.decodeMs).padStart(15)} | ${mib(f.decodeHeapBytes).padStart(17)} | ${mib(resident).padStart(12)} | ${mib(2 * resident).padStart(12)}`,
        );
        const perInventory = Math.ceil(n.files / 32) * 4;
        console.log(
          `  (${f.inventories} manifest inventories of ${kib(perInventory)} each, ${f.ruleClasses} rule classes; every mirror with a manifest would add ${mib((n.mirrors - f.inventories) * perInventory)})`,
        );
        console.log(`  fits a 128 MiB Worker with room for a refresh: ${2 * resident < WORKER_MEMORY_LIMIT * 0.75 ? 'yes' : 'NO'}`);
      }
      if (n === cases[0] && !want('small')) continue;
      // Shard sizes against decode time, for the large network: the default and a few others.
      const targets =
        n !== cases[0] && want('sizes') ? [...new Set([SHARD_TARGET_FILES, 20_000, 5_000, 2_500, 1_250])].sort((a, b) => b - a) : [SHARD_TARGET_FILES];
      let chosen: Awaited<ReturnType<typeof measureSharded>> | undefined;
      if (targets.length > 1) {
        console.log(`\nshard size at ${label} (CPU to decode and compose a shard: medians of 24, and the slowest)`);
        console.log(
          'files a shard (target / median) | shards | shard bytes (median) | decode (median / max) | compose | cold download (decode + compose) | per-core template',
        );
      }
      for (const target of targets) {
        const f = await measureSharded(snapshot, target);
        if (target === SHARD_TARGET_FILES) chosen = f;
        if (targets.length > 1) {
          console.log(
            `${`${target.toLocaleString('en')} / ${f.shardFilesMedian.toLocaleString('en')}`.padEnd(31)} | ${String(f.shards).padStart(6)} | ${kib(f.shardBytesMedian).padStart(20)} | ${`${ms(f.decodeMs)} / ${ms(f.decodeMaxMs)}`.padStart(21)} | ${ms(f.composeMs).padStart(7)} | ${ms(f.decodeMs + f.composeMs).padStart(32)} | ${ms(f.templateMs)}${target === SHARD_TARGET_FILES ? '  ← default' : ''}`,
          );
        }
      }
      const f = chosen!;
      const paths: string[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < snapshot.files.count && paths.length < 8; i++) {
        const k = shardOf(snapshot.files.paths[i]!, f.shards);
        if (seen.has(k)) continue;
        seen.add(k);
        paths.push(snapshot.files.paths[i]!);
      }
      sharded.push({ n, f, paths, snapshot });
    }

    console.log(
      `\nsharded snapshot (core + file shards on demand, shard target ${SHARD_TARGET_FILES.toLocaleString('en')} files, isolate shard cache ${mib(DEFAULT_SHARD_CACHE_BYTES)})`,
    );
    console.log(
      'network                      | shards | split   | core     | shard (median / max)  | decode + compose | core heap | full cache: measured / estimated',
    );
    for (const { n, f } of sharded) {
      const label = `${n.files.toLocaleString('en')} files × ${n.mirrors} mirrors`;
      console.log(
        `${label.padEnd(28)} | ${String(f.shards).padStart(6)} | ${ms(f.splitMs).padStart(7)} | ${kib(f.coreBytes).padStart(8)} | ${`${kib(f.shardBytesMedian)} / ${kib(f.shardBytesMax)}`.padStart(21)} | ${ms(f.decodeMs + f.composeMs).padStart(16)} | ${mib(f.coreHeapBytes).padStart(9)} | ${mib(f.residentBytes)} / ${mib(f.estimatedBytes)} (${(((f.estimatedBytes - f.residentBytes) / f.residentBytes) * 100).toFixed(0)} %)`,
      );
      const peak = f.coreHeapBytes + f.residentBytes + 2 * f.shardBytesMax;
      console.log(
        `  (${f.shardFilesMedian.toLocaleString('en')} files a shard; ${f.cachedShards} shards cached at the bound; measured ${f.heapPerFile.toFixed(0)} B heap per file beyond the shard bytes and ${f.heapPerMirror.toFixed(0)} B per mirror per composed shard; peak while loading a shard ≈ ${mib(peak)})`,
      );
      console.log(
        `  check: shardCost(${kib(f.shardBytesMedian)}, ${f.shardFilesMedian} files, ${n.mirrors} mirrors) = ${kib(shardCost(f.shardBytesMedian, f.shardFilesMedian, n.mirrors))}; measured ≈ ${kib(f.shardBytesMedian + f.shardFilesMedian * f.heapPerFile + n.mirrors * f.heapPerMirror)}`,
      );
      console.log(
        `  control plane: first split ${ms(f.splitMs)}; after one mirror's new inventory ${ms(f.inventorySplitMs)}; a state change re-encodes the core only; the first split in 10 ms slices as the server runs it ${ms(f.cooperativeSplitMs)}, the event loop held at most ${ms(f.longestHoldMs)} at a time`,
      );
      console.log(`  fits a 128 MiB Worker: ${peak < WORKER_MEMORY_LIMIT * 0.75 ? 'yes' : 'NO'}`);
    }

    const large = sharded.find((x) => x.n !== cases[0]);
    if (large && want('mix')) {
      const { f, snapshot } = large;
      console.log(
        `\nthe bench's request mix (load/scenarios.ts MIX, ${requestCount.toLocaleString('en')} requests, 2,000 clients) at ${large.n.files.toLocaleString('en')} × ${large.n.mirrors}, default isolate cache (${mib(DEFAULT_SHARD_CACHE_BYTES)})`,
      );
      console.log('location                                                     | isolate misses | from the Cache API | from the control plane | CPU per miss');
      const scenarios = [
        { label: 'one isolate, Cache API', isolates: 1, recycleEvery: Number.POSITIVE_INFINITY, sharedCache: true },
        { label: '4 isolates, each replaced after 2,500 requests, Cache API', isolates: 4, recycleEvery: 2_500, sharedCache: true },
        { label: 'one isolate, no Cache API (workers.dev, SHARD_SHARED_CACHE=off)', isolates: 1, recycleEvery: Number.POSITIVE_INFINITY, sharedCache: false },
      ];
      for (const sc of scenarios) {
        const m = await measureMix(snapshot, f.core, f.set, { ...sc, requests: requestCount });
        const pct = (x: number) => `${((x / m.requests) * 100).toFixed(1)} %`;
        console.log(
          `${m.label.padEnd(60)} | ${pct(m.isolateMisses).padStart(14)} | ${`${pct(m.fromCache)} (${m.fromCache})`.padStart(18)} | ${`${pct(m.fromControlPlane)} (${m.fromControlPlane})`.padStart(22)} | ${ms(m.loadMsPerMiss)}`,
        );
      }
    }

    if (large && want('cold')) {
      const c = await measureColdIsolate(bundle.outfile, large.f.core, large.f.set, large.paths);
      console.log(
        `\ncold isolate (Node running the Worker bundle, medians of 5 fresh processes each way, ${large.n.files.toLocaleString('en')} × ${large.n.mirrors}; process CPU, V8's helper threads included, and wall):\n` +
          `  module load ${ms(c.moduleLoadMs!)} CPU; first request a download (core decode, app build, shard decode + compose, answer): ${ms(c.firstDownloadMs!)} CPU, ${ms(c.firstDownloadWallMs!)} wall; ` +
          `same shard again ${ms(c.sameShardMs!)}; a new shard ${ms(c.newShardMs!)} CPU (${ms(c.newShardWallMs!)} wall); then from it ${ms(c.hitAfterWarmMs!)}\n` +
          `  the same in parts: app build (GET /healthz) ${ms(c.appBuildMs!)} CPU / ${ms(c.appBuildWallMs!)} wall; core (GET /api/v1/mirrors) ${ms(c.coreMs!)} / ${ms(c.coreWallMs!)}; ` +
          `then the download (shard decode + compose, decide, answer) ${ms(c.shardMs!)} / ${ms(c.shardWallMs!)}`,
      );
    }

    if (large && !args.has('--skip-workerd') && want('workerd')) {
      const w = await measureShardedWorkerd(bundle.outfile, large.f.core, large.f.set, large.paths);
      console.log(
        `workerd, sharded ${large.n.files.toLocaleString('en')} × ${large.n.mirrors} (wall time on loopback, medians of 3 fresh processes): spawn → first download answer ${ms(w.firstAnswer)}; ` +
          `a cold isolate's first request, a download: ${ms(w.firstWithApp)} (app build, core, shard, answer), ${ms(w.firstAppBuilt)} with the app already built (core, shard, answer); ` +
          `later, an answer needing a new shard (median of 7) ${ms(w.miss)}; from a held shard ${ms(w.hit)}; /readyz shards cached: ${String(w.ready.snapshotShardsCached)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run as a script (not when imported for syntheticSnapshot).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
