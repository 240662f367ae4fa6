// Child process: the control plane at network scale. Probes 1,000 loopback mirrors with Prober.probeAll (beside
// plain undici requests doing the same HTTP work), and scans a 1,000,000-entry rsync listing through scanMirror
// with a stand-in rsync (beside reading the same listing with no parsing). Sends one JSON result over IPC.
//
//   node --import tsx scripts/bench/control.ts [--quick]
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { Prober, type ProbeTarget } from '../../src/control/prober.js';
import { scanMirror } from '../../src/control/scan.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import { encodePathForUrl } from '../../src/core/paths.js';
import { random } from '../../load/scenarios.js';
import { syntheticFiles } from './synthetic.js';
import { BENCH_DIR, forkChild, peakRss, resetPeakRss, send } from './util.js';

export interface ProbeFigures {
  mirrors: number;
  delayMs: number;
  concurrency: number;
  requests: number;
  wallMs: number;
  /** The same requests with undici and nothing else, at the same concurrency. */
  floorMs: number;
  ok: number;
  failed: number;
  withMissing: number;
}

export interface ScanFigures {
  entries: number;
  listingBytes: number;
  wallMs: number;
  /** Reading the same listing line by line through the same stand-in, no parsing. */
  floorMs: number;
  rssBefore: number;
  peakRss: number;
  current: number;
  stale: number;
  foreign: number;
  missing: number;
}

export interface ControlResult {
  probes: ProbeFigures[];
  scan: ScanFigures;
}

const SAMPLES = 3;

function targetsFor(base: string, count: number): ProbeTarget[] {
  return Array.from({ length: count }, (_, n) => {
    const id = `m${String(n).padStart(4, '0')}`;
    return {
      id,
      baseUrl: `${base}/${id}/`,
      tracePath: 'TIME',
      samples: Array.from({ length: SAMPLES }, (_, s) => {
        const size = 1_000 + ((n * 7919 + s * 104_729) % 5_000_000);
        return { path: `debian/pool/main/s${s}/pkg-${n}/pkg-${n}_1.${s}~${size}.deb`, size };
      }),
    };
  });
}

async function probeRun(count: number, delayMs: number): Promise<ProbeFigures> {
  const server = forkChild(path.join(BENCH_DIR, 'mirrors.ts'), [], { env: { MIRROR_DELAY_MS: String(delayMs) } });
  const { port } = await server.next('ready', 60_000);
  const base = `http://127.0.0.1:${port}`;
  try {
    const targets = targetsFor(base, count);
    // Warm-up on other mirrors' paths: JIT and the first connections, not counted.
    const warm = new Prober({ timeoutMs: 5_000, sampleFiles: SAMPLES });
    await warm.probeAll(targetsFor(base, 64), () => {});
    await warm.close();

    const prober = new Prober({ timeoutMs: 5_000, sampleFiles: SAMPLES });
    let ok = 0;
    let failed = 0;
    let withMissing = 0;
    const t = performance.now();
    await prober.probeAll(targets, (_target, outcome) => {
      if (!outcome.ok) failed++;
      else {
        ok++;
        if (outcome.missing) withMissing++;
      }
    });
    const wallMs = performance.now() - t;
    await prober.close();

    // The floor: the same GETs and HEADs in the same order per mirror, same concurrency, nothing checked.
    const agent = new Agent({ keepAliveTimeout: 4_000 });
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const target = targets[next++]!;
        const trace = await request(target.baseUrl + 'TIME', { dispatcher: agent });
        await trace.body.text();
        if (trace.statusCode !== 200) continue;
        for (const s of target.samples) {
          const res = await request(target.baseUrl + encodePathForUrl(s.path), { method: 'HEAD', dispatcher: agent });
          await res.body.dump();
        }
      }
    };
    const f = performance.now();
    await Promise.all(Array.from({ length: prober.concurrency }, worker));
    const floorMs = performance.now() - f;
    await agent.close();
    return { mirrors: count, delayMs, concurrency: prober.concurrency, requests: count * (1 + SAMPLES), wallMs, floorMs, ok, failed, withMissing };
  } finally {
    await server.stop();
  }
}

/** rsync --list-only's look: mode, size with thousands separators, date and time (UTC), path. */
function listingLine(size: number, mtime: number, p: string): string {
  const d = new Date(mtime * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const when = `${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  return `-rw-r--r-- ${size.toLocaleString('en-US').padStart(14)} ${when} ${p}\n`;
}

async function scanRun(entries: number, dir: string): Promise<ScanFigures> {
  const files = FileIndex.from(syntheticFiles(entries, 21));
  // The listing: 96 % current copies, 2 % stale (another size), 2 % files the origin does not have, with folder lines between.
  const listing = path.join(dir, 'listing.txt');
  const out = createWriteStream(listing);
  const rnd = random(22);
  let bytes = 0;
  const write = (s: string) => {
    bytes += s.length;
    if (!out.write(s)) return new Promise<void>((resolve) => out.once('drain', resolve));
    return undefined;
  };
  let lastDir = '';
  for (let f = 0; f < files.count; f++) {
    const p = files.paths[f]!;
    const folder = p.slice(0, p.lastIndexOf('/'));
    if (folder !== lastDir) {
      lastDir = folder;
      await write(`drwxr-xr-x          4,096 2026/11/20 10:00:00 ${folder}\n`);
    }
    const r = rnd();
    const size = files.size(f);
    const line =
      r < 0.02
        ? listingLine(size + 1, files.mtime(f) ?? 1_700_000_000, p)
        : r < 0.04
          ? listingLine(size, 1_700_000_000, `${folder}/old-${f}.tmp`)
          : listingLine(size, files.mtime(f) ?? 1_700_000_000, p);
    await write(line);
  }
  await new Promise<void>((resolve) => out.end(resolve));

  // The stand-in: whatever rsync is asked, it prints the listing, as `rsync --list-only -r` would.
  const fakeRsync = path.join(dir, 'rsync');
  await writeFile(fakeRsync, `#!/bin/sh\nexec cat '${listing}'\n`);
  await chmod(fakeRsync, 0o755);

  // Floor: the same bytes through the same pipe and line splitter, nothing parsed or looked up.
  const f0 = performance.now();
  const child = spawn(fakeRsync, ['--list-only', '-r', 'rsync://bench.example/pub/'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lines = 0;
  for await (const _line of createInterface({ input: child.stdout, crlfDelay: Infinity })) lines++;
  const floorMs = performance.now() - f0;

  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  resetPeakRss();
  let sampled = rssBefore;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss());
  }, 20);
  const t = performance.now();
  const { report } = await scanMirror({ id: 'bench', rsyncUrl: 'rsync://bench.example/pub/', content: { include: ['**'], exclude: [] } }, files, {
    rsyncPath: fakeRsync,
    timeoutMs: 600_000,
  });
  const wallMs = performance.now() - t;
  clearInterval(sampler);
  const peak = Math.max(sampled, peakRss());
  void lines;
  return {
    entries: report.entries,
    listingBytes: bytes,
    wallMs,
    floorMs,
    rssBefore,
    peakRss: peak,
    current: report.current,
    stale: report.stale,
    foreign: report.foreign,
    missing: report.missing,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
  const quick = values.quick;
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-control-'));
  try {
    const probes: ProbeFigures[] = [];
    if (values.only !== 'scan') {
      probes.push(await probeRun(1_000, 0));
      // A mirror 50 ms away: probes are sequential per mirror, so round trips, not CPU, set the pace.
      probes.push(await probeRun(quick ? 200 : 1_000, 50));
    }
    const scan = values.only === 'probe' ? undefined : await scanRun(quick ? 200_000 : 1_000_000, dir);
    const result = { probes, scan } as ControlResult;
    send({ type: 'result', data: result });
    if (!process.send) console.log(JSON.stringify(result, null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    console.error(err);
    process.exit(1);
  },
);
