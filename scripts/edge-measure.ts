// Prints the edge's figures, measured in one run: Worker bundle size, workerd cold start, snapshot bytes, decode time and memory for two network sizes,
// and the same for the sharded snapshot (a core plus file shards on demand) that large networks need.
// Usage: npx tsx scripts/edge-measure.ts [--skip-large] [--skip-workerd]
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
import { composeShardSnapshot, decodeCore, decodeShard, ShardCache, shardOf, type ShardSet } from '../src/core/snapshotShards.js';
import { CORE_PATH, DEFAULT_SHARD_CACHE_BYTES, SHARD_PATH, ShardedSnapshotSource } from '../src/edge/shardedSource.js';
import { startWorkerd, wranglerCompatibilityDate } from '../test/edge/workerd.js';
import { buildWorker, kib } from './build-worker.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Cloudflare Workers: memory per isolate. */
const WORKER_MEMORY_LIMIT = 128 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
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
      for (let b = 0; b < 8; b++) hex += Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0');
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
  const builder = new SnapshotBuilder({ mirrors, files: index, originBaseUrl: 'https://origin.example.org/pub/', routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 21_600 } });
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
  splitMs: number;
  /** Re-split after one mirror's inventory changed (the cache keeps the layout and the other inventories). */
  inventorySplitMs: number;
  shards: number;
  coreBytes: number;
  shardBytesMedian: number;
  shardBytesMax: number;
  shardFilesMedian: number;
  /** decodeShard + composeShardSnapshot of one shard, median. */
  composeMs: number;
  /** Re-composing a held shard for a new core (a probe or staff change), median. */
  recomposeMs: number;
  /** The core as a file-less snapshot: heap after decode. */
  coreHeapBytes: number;
  /** Heap + array buffers held by an isolate's source with its shard cache full. */
  residentBytes: number;
  cachedShards: number;
  /** Measured heap per file beyond the shard bytes (what HEAP_BYTES_PER_FILE estimates). */
  heapPerFile: number;
}

const silent = { info() {}, warn() {}, error() {} };

/** A control plane as a fetch function over one split (core and shard routes, no auth, ETags). */
function splitFetch(core: Uint8Array, set: ShardSet): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const path = new URL(String(input)).pathname;
    if (path === CORE_PATH) return new Response(core as Uint8Array<ArrayBuffer>, { headers: { ETag: '"core"' } });
    const k = Number(path.slice(SHARD_PATH.length));
    return new Response(set.shards[k] as Uint8Array<ArrayBuffer>, { headers: { ETag: `"${set.info[k]!.hash}"` } });
  }) as typeof fetch;
}

async function measureSharded(snapshot: Snapshot): Promise<ShardedFigures & { set: ShardSet; core: Uint8Array }> {
  const cache = new ShardCache();
  let t = performance.now();
  const set = cache.shards(snapshot);
  const splitMs = performance.now() - t;
  // A scan's new inventory for one mirror: only its bits are split again, then every shard is re-encoded.
  const rescanned = snapshot.mirrors.find((m) => m.inventory);
  let inventorySplitMs = 0;
  if (rescanned) {
    const changed = { ...snapshot, mirrors: snapshot.mirrors.map((m) => (m === rescanned ? { ...m, inventory: m.inventory!.slice() } : m)) };
    const other = new ShardCache();
    other.shards(snapshot);
    t = performance.now();
    other.shards(changed);
    inventorySplitMs = performance.now() - t;
  }
  const core = cache.core(snapshot);
  const sizes = set.info.map((i) => i.bytes);
  const files = set.info.map((i) => i.files);
  const decodedCore = decodeCore(core);

  const compose: number[] = [];
  const recompose: number[] = [];
  for (let k = 0; k < Math.min(set.count, 9); k++) {
    t = performance.now();
    const shard = decodeShard(set.shards[k]!);
    composeShardSnapshot(decodedCore, shard, Date.now());
    compose.push(performance.now() - t);
    t = performance.now();
    composeShardSnapshot(decodedCore, shard, Date.now());
    recompose.push(performance.now() - t);
  }

  // Memory: an isolate's sharded source, its core loaded and its cache filled past the bound (32 MB).
  const fetchImpl = splitFetch(core, set);
  const firstPathOf = (k: number) => {
    for (let f = 0; f < snapshot.files.count; f++) if (shardOf(snapshot.files.paths[f]!, set.count) === k) return snapshot.files.paths[f]!;
    throw new Error(`shard ${k} is empty`);
  };
  const probes = Array.from({ length: set.count }, (_, k) => firstPathOf(k));
  let before = await settle();
  let source: ShardedSnapshotSource | undefined = new ShardedSnapshotSource({ controlUrl: 'http://control', ttlMs: 60_000, fetch: fetchImpl, log: silent });
  await source.ensure(() => {});
  source.current();
  let after = await settle();
  const coreHeapBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  for (const p of probes) await source.forPaths([p], () => {});
  after = await settle();
  const residentBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  const cachedShards = source.status().shardsCached;
  source = undefined;

  // Heap per file beyond the bytes, for one decoded and composed shard.
  before = await settle();
  const copy = set.shards[0]!.slice();
  let held: unknown = composeShardSnapshot(decodedCore, decodeShard(copy), Date.now());
  after = await settle();
  const heapPerFile = (after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers) - copy.byteLength) / set.info[0]!.files;
  held = undefined;
  void held;

  return {
    splitMs,
    inventorySplitMs,
    shards: set.count,
    coreBytes: core.byteLength,
    shardBytesMedian: median(sizes),
    shardBytesMax: Math.max(...sizes),
    shardFilesMedian: median(files),
    composeMs: median(compose),
    recomposeMs: median(recompose),
    coreHeapBytes,
    residentBytes,
    cachedShards,
    heapPerFile,
    set,
    core,
  };
}

/** The sharded Worker in workerd against a stand-in control plane serving one split: first answer, a shard miss, a hit. */
async function measureShardedWorkerd(bundle: string, core: Uint8Array, set: ShardSet, paths: readonly string[]) {
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === CORE_PATH) return void res.writeHead(200, { ETag: '"core"' }).end(core);
    const k = Number(url.slice(SHARD_PATH.length));
    if (url.startsWith(SHARD_PATH) && set.shards[k]) return void res.writeHead(200, { ETag: `"${set.info[k]!.hash}"` }).end(set.shards[k]);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const date = await wranglerCompatibilityDate(ROOT);
  const started = performance.now();
  const w = await startWorkerd(bundle, [{ name: 'edge', bindings: { CONTROL_URL: controlUrl, SNAPSHOT_TOKEN: 't', LOG_LEVEL: 'error' } }], date);
  const ask = async (p: string) => {
    const t = performance.now();
    const res = await fetch(`${w.urls.edge}/download/${p}`, { redirect: 'manual', headers: { 'CF-Connecting-IP': '192.0.2.1' } });
    await res.arrayBuffer();
    if (res.status !== 302) throw new Error(`workerd answered ${res.status} for ${p}`);
    return performance.now() - t;
  };
  try {
    await ask(paths[0]!);
    const firstAnswer = performance.now() - started;
    const misses: number[] = [];
    for (const p of paths.slice(1, 8)) misses.push(await ask(p));
    const hits: number[] = [];
    for (let round = 0; round < 5; round++) for (const p of paths.slice(3, 8)) hits.push(await ask(p));
    const ready = (await (await fetch(`${w.urls.edge}/readyz`)).json()) as Record<string, unknown>;
    return { firstAnswer, miss: median(misses), hit: median(hits), ready };
  } finally {
    await w.close();
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
  const args = new Set(process.argv.slice(2));
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-measure-'));
  try {
    const bundle = await buildWorker({ outfile: path.join(dir, 'worker.js'), quiet: true });
    console.log(`Worker bundle (esbuild, minified): ${kib(bundle.bytes)} raw, ${kib(bundle.gzipBytes)} gzip`);

    const small: Network = { files: 10_000, mirrors: 100, manifestShare: 0.2 };
    const smallSnapshot = encodeSnapshot(syntheticSnapshot(small));
    if (!args.has('--skip-workerd')) {
      const w = await measureWorkerd(bundle.outfile, smallSnapshot, 5);
      console.log(`workerd cold start (median of 5): spawn → first 200 on /healthz ${ms(w.health)}; spawn → first download answer (fetch + decode of the 10k × 100 snapshot) ${ms(w.firstAnswer)}`);
    }

    const cases: Network[] = [small];
    if (!args.has('--skip-large')) cases.push({ files: 1_000_000, mirrors: 500, manifestShare: 0.2 });
    console.log('\nsnapshot                     | bytes      | encode  | decode (median) | heap after decode | bytes + heap | 2 × (refresh)');
    const sharded: { n: Network; f: Awaited<ReturnType<typeof measureSharded>>; paths: string[] }[] = [];
    for (const n of cases) {
      const snapshot = syntheticSnapshot(n);
      const f = await measureSnapshot(snapshot, n);
      const resident = f.bytes + f.decodeHeapBytes;
      const label = `${n.files.toLocaleString('en')} files × ${n.mirrors} mirrors`;
      console.log(
        `${label.padEnd(28)} | ${mib(f.bytes).padStart(10)} | ${ms(f.encodeMs).padStart(7)} | ${ms(f.decodeMs).padStart(15)} | ${mib(f.decodeHeapBytes).padStart(17)} | ${mib(resident).padStart(12)} | ${mib(2 * resident).padStart(12)}`,
      );
      const perInventory = Math.ceil(n.files / 32) * 4;
      console.log(
        `  (${f.inventories} manifest inventories of ${kib(perInventory)} each, ${f.ruleClasses} rule classes; every mirror with a manifest would add ${mib((n.mirrors - f.inventories) * perInventory)})`,
      );
      const fits = 2 * resident < WORKER_MEMORY_LIMIT * 0.75;
      console.log(`  fits a 128 MiB Worker with room for a refresh: ${fits ? 'yes' : 'NO'}`);
      const sf = await measureSharded(snapshot);
      // One file of each of the first shards, for the workerd run.
      const paths: string[] = [];
      const seen = new Set<number>();
      for (let i = 0; i < snapshot.files.count && paths.length < 8; i++) {
        const k = shardOf(snapshot.files.paths[i]!, sf.shards);
        if (seen.has(k)) continue;
        seen.add(k);
        paths.push(snapshot.files.paths[i]!);
      }
      sharded.push({ n, f: sf, paths });
    }

    console.log(`\nsharded snapshot (core + file shards on demand, shard cache ${mib(DEFAULT_SHARD_CACHE_BYTES)})`);
    console.log('network                      | shards | split   | core     | shard (median / max)  | decode+compose | recompose | core heap | core + full cache');
    for (const { n, f } of sharded) {
      const label = `${n.files.toLocaleString('en')} files × ${n.mirrors} mirrors`;
      console.log(
        `${label.padEnd(28)} | ${String(f.shards).padStart(6)} | ${ms(f.splitMs).padStart(7)} | ${kib(f.coreBytes).padStart(8)} | ${`${mib(f.shardBytesMedian)} / ${mib(f.shardBytesMax)}`.padStart(21)} | ${ms(f.composeMs).padStart(14)} | ${ms(f.recomposeMs).padStart(9)} | ${mib(f.coreHeapBytes).padStart(9)} | ${mib(f.residentBytes).padStart(17)}`,
      );
      // Peak: the resident set plus one shard being loaded (its bytes as fetched, and decoded).
      const peak = f.residentBytes + 2 * f.shardBytesMax;
      console.log(
        `  (${f.shardFilesMedian.toLocaleString('en')} files a shard; ${f.cachedShards} shards cached at the bound; ${f.heapPerFile.toFixed(0)} B heap per file beyond the shard bytes; peak while loading a shard ≈ ${mib(peak)})`,
      );
      console.log(`  control plane: first split ${ms(f.splitMs)}; after one mirror's new inventory ${ms(f.inventorySplitMs)}; a state change re-encodes the core only`);
      console.log(`  fits a 128 MiB Worker: ${peak < WORKER_MEMORY_LIMIT * 0.75 ? 'yes' : 'NO'}`);
    }
    const large = sharded.find((x) => x.n.files >= 1_000_000);
    if (large && !args.has('--skip-workerd')) {
      const w = await measureShardedWorkerd(bundle.outfile, large.f.core, large.f.set, large.paths);
      console.log(
        `workerd, sharded 1,000,000 × 500: spawn → first download answer (core + one shard) ${ms(w.firstAnswer)}; ` +
          `answer needing a new shard (median of 7) ${ms(w.miss)}; from a cached shard ${ms(w.hit)}; /readyz shards cached: ${String(w.ready.snapshotShardsCached)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run as a script (not when imported for syntheticSnapshot).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
