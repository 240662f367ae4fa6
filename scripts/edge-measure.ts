// Prints the edge's figures, measured in one run: Worker bundle size, workerd cold start, snapshot bytes, decode time and memory for two network sizes.
// Usage: npx tsx scripts/edge-measure.ts [--skip-large] [--skip-workerd]
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SnapshotBuilder } from '../src/control/snapshotBuilder.js';
import { FileIndex } from '../src/core/fileIndex.js';
import type { InventoryEntry, MirrorSpec, OriginFile } from '../src/core/model.js';
import type { Snapshot } from '../src/core/snapshot.js';
import { decodeSnapshot, encodeSnapshot } from '../src/core/snapshotCodec.js';
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

function measureSnapshot(n: Network): SnapshotFigures {
  const snapshot = syntheticSnapshot(n);
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
  gc();
  const before = process.memoryUsage();
  let held: Snapshot | undefined = decodeSnapshot(bytes, Date.now());
  gc();
  const after = process.memoryUsage();
  const decodeHeapBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  held = undefined;
  void held;
  return { bytes: bytes.byteLength, encodeMs, decodeMs: median(times), decodeHeapBytes, inventories, ruleClasses };
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
    for (const n of cases) {
      const f = measureSnapshot(n);
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
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
