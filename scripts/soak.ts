// Chaos soak: two Mirrorgate instances (child processes) on one Redis of our own, loopback mirrors
// that die and come back at random, one that stalls, one that serves stale copies, an origin file
// that changes, and Redis restarted mid-run — under a bounded request load. Counts what must never
// happen and prints the tally; exits non-zero when a must-be-zero count is not.
//
//   npm run soak                      # ~3 minutes
//   npm run soak -- --seconds 60 --rate 200 --concurrency 8 --seed 7 --keep --json
//   npm run soak -- --redis-crash     # Redis killed (SIGKILL, AOF fsync always) instead of SHUTDOWN SAVE
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { encodePathForUrl } from '../src/core/paths.js';
import { serve } from '../src/node.js';
import { freePort, LoopbackFileServer, type MirrorMode } from '../test/support/network.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAFF_TOKEN = 'soak-staff-token-0123456789abcdef';
/** Every file's mtime at the start, and the trace time of every mirror (one sync after it). */
const MTIME = 1_767_225_600;
const TRACE = MTIME + 60;
/** How often each instance re-reads the origin manifest (the origin-refresh loop, src/control/controlPlane.ts). */
const ORIGIN_REFRESH_MS = 5_000;

export interface SoakOptions {
  seconds?: number;
  /** Requests per second across all load loops (a bound, not a promise). */
  rate?: number;
  concurrency?: number;
  seed?: number;
  /** Probe settings of both instances. */
  intervalMs?: number;
  timeoutMs?: number;
  failuresToDown?: number;
  /** Added to interval × failuresToDown + timeout: change propagation, coalescing, timer jitter. */
  slackMs?: number;
  /** Kill Redis (SIGKILL; AOF with fsync always) instead of a graceful SHUTDOWN SAVE. */
  redisCrash?: boolean;
  /** Keep the working folder (logs, configs) for inspection. */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface SoakTally {
  seconds: number;
  seed: number;
  detectionWindowMs: number;
  requests: number;
  gets: number;
  heads: number;
  toMirrors: number;
  toOrigin: number;
  mirrorOutages: number;
  redisOutageMs: number;
  adminAccepted: number;
  adminRefused: number;
  downloadsExpected: number;
  downloadsCounted: number;
  /** Must be 0. */
  redirectsToKnownDown: number;
  redirectsLackingFile: number;
  fiveXX: number;
  failedRequests: number;
  foreignLocations: number;
  unexpectedStatuses: number;
  statsLost: number;
  auditLost: number;
  uncleanExits: number;
  /** Informational: the part of redirectsToKnownDown sent while Redis was away (or just back). */
  knownDownDuringRedisOutage: number;
  statsExtra: number;
  maxLateMs: number;
  /** The latest redirect to a dead mirror while Redis was up: how much of the window was used. */
  maxLateOutsideOutageMs: number;
  samples: string[];
  workDir: string;
}

/** The counts that must be zero. */
export const MUST_BE_ZERO = [
  'redirectsToKnownDown',
  'redirectsLackingFile',
  'fiveXX',
  'failedRequests',
  'foreignLocations',
  'unexpectedStatuses',
  'statsLost',
  'auditLost',
  'uncleanExits',
] as const satisfies readonly (keyof SoakTally)[];

export function failures(t: SoakTally): string[] {
  return MUST_BE_ZERO.filter((k) => t[k] !== 0).map((k) => `${k}=${t[k]}`);
}

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FileVersion {
  size: number;
  mtime: number;
  /** performance.now() when it became the origin's (0: from the start). */
  from: number;
  /** When the next version replaced it. */
  until: number;
}

interface MirrorPlan {
  id: string;
  role: 'flap' | 'stall' | 'stale' | 'steady';
  server: LoopbackFileServer;
  root: string;
  manifest?: string;
  /** path → size of the copy on its disk, with when it got there. */
  holds: Map<string, { size: number; since: number }[]>;
  /** Mode changes: [performance.now(), mode]. */
  modes: [number, MirrorMode][];
  /** The chaos loop leaves it alone while set. */
  pinned: boolean;
}

function sizeAt(m: MirrorPlan, file: string, t: number): number | undefined {
  const copies = m.holds.get(file);
  if (!copies) return undefined;
  let size: number | undefined;
  for (const c of copies) if (c.since <= t) size = c.size;
  return size;
}

/** When the mirror's current bad spell (any mode but 'ok') began, or undefined when it was ok at t. */
function badSince(m: MirrorPlan, t: number): number | undefined {
  let since: number | undefined;
  for (const [at, mode] of m.modes) {
    if (at > t) break;
    if (mode === 'ok') since = undefined;
    else since ??= at;
  }
  return since;
}

async function writeSized(root: string, rel: string, size: number, mtime: number, seed: string): Promise<void> {
  const file = path.join(root, ...rel.split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, Buffer.alloc(size, seed));
  await utimes(tmp, mtime, mtime);
  await rename(tmp, file);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // try again
    }
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

let statusSeq = 0;
/** A mirror's status as an instance's public /mirrors shows it (each call from another address: no rate limit). */
async function mirrorStatus(base: string, id: string): Promise<string | undefined> {
  const n = statusSeq++;
  const res = await fetch(`${base}/mirrors`, { headers: { Accept: 'application/json', 'X-Forwarded-For': `198.18.${(n >> 8) & 255}.${n & 255}` } });
  const body = (await res.json()) as { mirrors: { id: string; status: string }[] };
  return body.mirrors.find((m) => m.id === id)?.status;
}

// ---------------------------------------------------------------------------------------------
// Redis of our own

interface OwnRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Takes Redis away (graceful SHUTDOWN SAVE, or SIGKILL in crash mode). */
  takeDown(): Promise<void>;
  bringUp(): Promise<void>;
}

async function startRedis(dir: string, crash: boolean): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // --save "" --appendonly no as asked; a graceful restart keeps the data with SHUTDOWN SAVE (one RDB
  // write at shutdown). In crash mode nothing is saved at shutdown, so AOF with fsync always keeps it.
  const persistence = crash ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc = p;
    let stderr = '';
    p.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = performance.now() + 10_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}: ${stderr}`);
      const r = new Redis(url, { lazyConnect: true, connectTimeout: 300, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        if ((await r.ping()) === 'PONG') return;
      } catch {
        // not yet
      } finally {
        r.disconnect();
      }
      if (performance.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${stderr}`);
      await sleep(25);
    }
  };
  const gone = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => p.once('exit', () => resolve()));
  };
  await launch();
  return {
    url,
    port,
    bringUp: launch,
    async takeDown() {
      const p = proc;
      if (!p) return;
      if (crash) {
        p.kill('SIGKILL');
      } else {
        const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        await r.call('SHUTDOWN', 'SAVE').catch(() => undefined);
        r.disconnect();
      }
      await gone();
    },
    async stop() {
      proc?.kill('SIGKILL');
      await gone();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Mirrorgate instances as child processes

interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startInstance(name: string, configPath: string, port: number, env: Record<string, string>, logFile: string): Promise<Instance> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'node.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', MIRRORGATE_CONFIG: configPath, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  let head = '';
  proc.stdout!.on('data', (c: Buffer) => {
    log.write(c);
    if (head.length < 100_000) head += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => log.write(c));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      log.end();
      resolve({ code, signal });
    }),
  );
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited before listening; see ${logFile}`);
    if (head.includes('"mirrorgate listening"')) break;
    if (performance.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start listening; see ${logFile}`);
    }
    await sleep(50);
  }
  return { name, url: `http://127.0.0.1:${port}`, proc, exit };
}

// ---------------------------------------------------------------------------------------------

export async function runSoak(opts: SoakOptions = {}): Promise<SoakTally> {
  const seconds = opts.seconds ?? 180;
  const durationMs = seconds * 1000;
  const seed = opts.seed ?? Date.now() % 100_000;
  const rand = mulberry32(seed);
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const log = opts.log ?? ((line: string) => console.log(line));
  const intervalMs = opts.intervalMs ?? 300;
  const timeoutMs = opts.timeoutMs ?? 200;
  const failuresToDown = opts.failuresToDown ?? 2;
  const slackMs = opts.slackMs ?? 700;
  const windowMs = intervalMs * failuresToDown + timeoutMs + slackMs;
  const concurrency = opts.concurrency ?? 6;
  const rate = opts.rate ?? 150;
  // Chaos periods scale with the run, within bounds that keep every mirror flapping several times.
  const scale = Math.min(1, Math.max(0.35, seconds / 120));

  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-soak-'));
  const cleanup: (() => Promise<void>)[] = [];
  const samples: string[] = [];
  const sample = (s: string) => {
    if (samples.length < 25) samples.push(s);
  };
  const t0 = performance.now();
  const at = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(6);

  try {
    // ---- files, origin, mirrors ----
    const files = Array.from({ length: 16 }, (_, i) => `pub/${i % 2 ? 'releases' : 'images'}/file-${String(i).padStart(2, '0')}.bin`);
    const origin: Map<string, FileVersion[]> = new Map();
    const originRoot = path.join(dir, 'origin');
    for (const [i, f] of files.entries()) {
      const size = 1_000 + i * 97;
      await writeSized(originRoot, f, size, MTIME, String.fromCharCode(97 + i));
      origin.set(f, [{ size, mtime: MTIME, from: 0, until: Infinity }]);
    }
    await writeFile(path.join(originRoot, 'TIME'), `${TRACE}\n`);
    const originManifest = path.join(dir, 'origin.jsonl');
    const writeOriginManifest = async () => {
      const lines = files.map((f) => {
        const v = origin.get(f)!.at(-1)!;
        return `${JSON.stringify({ path: f, size: v.size, mtime: v.mtime })}\n`;
      });
      await writeFile(`${originManifest}.new`, lines.join(''));
      await rename(`${originManifest}.new`, originManifest);
    };
    await writeOriginManifest();
    const originServer = new LoopbackFileServer('origin', originRoot);
    await originServer.start();
    cleanup.push(() => originServer.close());

    const staleFiles = new Set(files.filter((_, i) => i % 3 === 0));
    const roles: [string, MirrorPlan['role']][] = [
      ['flap-a', 'flap'],
      ['flap-b', 'flap'],
      ['flap-c', 'flap'],
      ['stall-d', 'stall'],
      ['stale-e', 'stale'],
      ['steady-f', 'steady'],
    ];
    const mirrors: MirrorPlan[] = [];
    for (const [id, role] of roles) {
      const root = path.join(dir, 'mirrors', id);
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, 'TIME'), `${TRACE}\n`);
      const holds = new Map<string, { size: number; since: number }[]>();
      const inventory: string[] = [];
      for (const [i, f] of files.entries()) {
        const v = origin.get(f)!.at(-1)!;
        // The stale mirror holds an older copy (another size, an older mtime) of every third file.
        const stale = role === 'stale' && staleFiles.has(f);
        const size = stale ? v.size - 333 : v.size;
        const mtime = stale ? MTIME - 86_400 : MTIME;
        await writeSized(root, f, size, mtime, String.fromCharCode(97 + i));
        holds.set(f, [{ size, since: 0 }]);
        inventory.push(`${JSON.stringify({ path: f, size, mtime })}\n`);
      }
      let manifest: string | undefined;
      if (role === 'stale') {
        manifest = path.join(dir, `${id}.jsonl`);
        await writeFile(manifest, inventory.join(''));
      }
      const server = new LoopbackFileServer(id, root);
      await server.start();
      cleanup.push(() => server.close());
      mirrors.push({ id, role, server, root, manifest, holds, modes: [[0, 'ok']], pinned: false });
    }
    const byId = new Map(mirrors.map((m) => [m.id, m]));
    const setMode = async (m: MirrorPlan, mode: MirrorMode) => {
      if (m.server.currentMode === mode) return;
      await m.server.setMode(mode);
      m.modes.push([performance.now(), mode]);
    };

    // ---- Redis and the two instances ----
    await mkdir(path.join(dir, 'redis'), { recursive: true });
    const redis = await startRedis(path.join(dir, 'redis'), opts.redisCrash === true);
    cleanup.push(() => redis.stop());

    const writeConfig = async (name: string, port: number) => {
      const config = {
        publicUrl: `http://127.0.0.1:${port}`,
        dataDir: path.join(dir, `var-${name}`),
        // Loopback mirrors probed every few hundred ms: a lab, said so (check-config refuses both otherwise).
        allowPrivateMirrorAddresses: true,
        allowFastProbes: true,
        origin: { baseUrl: originServer.baseUrl, manifest: originManifest },
        tokens: [{ token: STAFF_TOKEN, role: 'staff', name: 'soak' }],
        health: { interval: `${intervalMs}ms`, timeout: `${timeoutMs}ms`, failuresToDown, successesToUp: 2, maxLag: '1h', sampleFiles: 2 },
        scan: { interval: '1h', timeout: '20s' },
        // One band for the whole planet: every eligible mirror shares the traffic, so each is exercised.
        routing: { bandKm: 20_000, maxAlternatives: 3 },
        mirrors: mirrors.map((m) => ({
          id: m.id,
          name: `Soak ${m.id}`,
          baseUrl: m.server.baseUrl,
          country: 'DE',
          lat: 50.11,
          lon: 8.68,
          weight: 100,
          content: { include: ['pub/**'], ...(m.manifest ? { manifest: m.manifest } : {}) },
        })),
      };
      const file = path.join(dir, `${name}.yaml`);
      await writeFile(file, stringify(config));
      return file;
    };
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info', MIRRORGATE_SHUTDOWN_GRACE_MS: '5000' };
    const ports = [await freePort(), await freePort()];
    const instances = await Promise.all(
      ports.map(async (port, i) => {
        const name = `instance-${'ab'[i]}`;
        return startInstance(name, await writeConfig(name, port), port, env, path.join(dir, `${name}.log`));
      }),
    );
    cleanup.push(async () => {
      for (const inst of instances) if (inst.proc.exitCode === null && inst.proc.signalCode === null) inst.proc.kill('SIGKILL');
    });
    log(`[${at()}] soak: ${seconds} s, seed ${seed}, 2 instances (${instances.map((i) => i.url).join(', ')}), Redis ${redis.url}, work dir ${dir}`);

    // ---- tallies ----
    const t: SoakTally = {
      seconds,
      seed,
      detectionWindowMs: windowMs,
      requests: 0,
      gets: 0,
      heads: 0,
      toMirrors: 0,
      toOrigin: 0,
      mirrorOutages: 0,
      redisOutageMs: 0,
      adminAccepted: 0,
      adminRefused: 0,
      downloadsExpected: 0,
      downloadsCounted: 0,
      redirectsToKnownDown: 0,
      redirectsLackingFile: 0,
      fiveXX: 0,
      failedRequests: 0,
      foreignLocations: 0,
      unexpectedStatuses: 0,
      statsLost: 0,
      auditLost: 0,
      uncleanExits: 0,
      knownDownDuringRedisOutage: 0,
      statsExtra: 0,
      maxLateMs: 0,
      maxLateOutsideOutageMs: 0,
      samples,
      workDir: dir,
    };

    let running = true;
    let chaosOn = false;
    const redisAway = { from: Infinity, until: Infinity };
    const loadStart = performance.now();
    const endAt = loadStart + durationMs;
    const frac = (f: number) => loadStart + durationMs * f;

    // ---- load ----
    let clientSeq = 0;
    let requestSeq = 0;
    const pauseMs = (concurrency * 1000) / rate;
    // A changed origin file may still go to old copies until the refresh loop sees it: one poll, plus
    // reading the manifest and rebuilding, which take seconds on a machine loaded by the rest of the suite.
    const originGraceMs = ORIGIN_REFRESH_MS + 3_000;
    const acceptableSizes = (file: string, sentAt: number): number[] =>
      origin
        .get(file)!
        .filter((v) => v.from <= sentAt && v.until >= sentAt - originGraceMs)
        .map((v) => v.size);

    const loadLoop = async () => {
      while (running && performance.now() < endAt) {
        const started = performance.now();
        const n = clientSeq++;
        const ip = `24.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
        const file = files[Math.floor(rand() * files.length)]!;
        const method = rand() < 0.85 ? 'GET' : 'HEAD';
        const inst = instances[requestSeq++ % instances.length]!;
        const sentAt = performance.now();
        t.requests++;
        if (method === 'GET') t.gets++;
        else t.heads++;
        try {
          const res = await fetch(`${inst.url}/download/${encodePathForUrl(file)}`, {
            method,
            headers: { Accept: '*/*', 'X-Forwarded-For': ip },
            redirect: 'manual',
            signal: AbortSignal.timeout(5_000),
          });
          await res.arrayBuffer();
          if (res.status >= 500) {
            t.fiveXX++;
            sample(`${inst.name} ${method} ${file}: ${res.status}`);
          } else if (res.status !== 302) {
            t.unexpectedStatuses++;
            sample(`${inst.name} ${method} ${file}: unexpected ${res.status}`);
          } else {
            if (method === 'GET') t.downloadsExpected++;
            const location = res.headers.get('location') ?? '';
            const id = res.headers.get('x-mirrorgate-mirror') ?? '';
            const m = byId.get(id);
            if (id === 'origin') {
              t.toOrigin++;
              if (location !== originServer.baseUrl + encodePathForUrl(file)) {
                t.foreignLocations++;
                sample(`${inst.name} ${file}: origin Location ${location}`);
              }
            } else if (!m || location !== m.server.baseUrl + encodePathForUrl(file)) {
              t.foreignLocations++;
              sample(`${inst.name} ${file}: Location ${location} (mirror ${id})`);
            } else {
              t.toMirrors++;
              const since = badSince(m, sentAt);
              if (since !== undefined) {
                const late = sentAt - since;
                const duringOutage = redisAway.from <= sentAt && sentAt <= redisAway.until + windowMs;
                t.maxLateMs = Math.max(t.maxLateMs, late);
                if (!duringOutage) t.maxLateOutsideOutageMs = Math.max(t.maxLateOutsideOutageMs, late);
                if (late > windowMs) {
                  t.redirectsToKnownDown++;
                  if (duringOutage) t.knownDownDuringRedisOutage++;
                  sample(
                    `[${((sentAt - t0) / 1000).toFixed(1)}s] ${inst.name} sent ${file} to ${id}, ${Math.round(late)} ms after it went ${m.modes.at(-1)![1]} (window ${windowMs} ms)`,
                  );
                }
              }
              const size = sizeAt(m, file, sentAt);
              if (size === undefined || !acceptableSizes(file, sentAt).includes(size)) {
                t.redirectsLackingFile++;
                sample(
                  `[${((sentAt - t0) / 1000).toFixed(1)}s] ${inst.name} sent ${file} to ${id}, which holds ${size ?? 'nothing'} bytes; origin ${acceptableSizes(file, sentAt).join('/')}`,
                );
              }
            }
          }
        } catch (err) {
          t.failedRequests++;
          sample(`${inst.name} ${method} ${file}: ${(err as Error).message}`);
        }
        const wait = pauseMs - (performance.now() - started);
        if (wait > 0) await sleep(wait);
      }
    };

    // ---- admin changes, including while Redis is down ----
    const accepted = new Set<number>();
    let changeSeq = 0;
    const adminLoop = async () => {
      while (running && performance.now() < endAt) {
        const n = 1_000 + changeSeq++;
        const inst = instances[n % instances.length]!;
        try {
          const res = await fetch(`${inst.url}/admin/v1/mirrors/steady-f`, {
            method: 'PATCH',
            headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify({ weight: n }),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          if (res.status === 200) {
            accepted.add(n);
            t.adminAccepted++;
          } else if (res.status === 503) {
            t.adminRefused++;
          } else {
            if (res.status >= 500) t.fiveXX++;
            else t.unexpectedStatuses++;
            sample(`${inst.name} PATCH weight ${n}: ${res.status} ${text.slice(0, 120)}`);
          }
        } catch (err) {
          t.failedRequests++;
          sample(`${inst.name} PATCH weight ${n}: ${(err as Error).message}`);
        }
        await sleep(between(150, 400));
      }
    };

    // ---- chaos ----
    const chaosLoop = async (m: MirrorPlan) => {
      while (running && performance.now() < endAt) {
        await sleep(between(800, 4_000) * scale);
        if (!chaosOn || m.pinned || !running) continue;
        const bad: MirrorMode = m.role === 'stall' ? 'stall' : rand() < 0.7 ? 'down' : '404';
        await setMode(m, bad);
        t.mirrorOutages++;
        await sleep(between(1_000, 5_000) * scale);
        if (!m.pinned) await setMode(m, 'ok');
      }
    };

    const timeline = async () => {
      await sleep(Math.max(0, frac(0.08) - performance.now()));
      chaosOn = true;
      log(`[${at()}] chaos on`);

      // An origin file changes; no mirror has the new copy.
      await sleep(Math.max(0, frac(0.3) - performance.now()));
      const changed = files[1]!;
      const versions = origin.get(changed)!;
      // Current from the moment the manifest names it (until then `from` keeps it out of the checks).
      const next: FileVersion = { size: versions.at(-1)!.size + 4_321, mtime: TRACE + 600, from: Infinity, until: Infinity };
      await writeSized(originRoot, changed, next.size, next.mtime, 'N');
      await writeFile(path.join(originRoot, 'TIME'), `${TRACE + 660}\n`);
      versions.push(next);
      await writeOriginManifest();
      const published = performance.now();
      versions.at(-2)!.until = published;
      next.from = published;
      log(`[${at()}] origin: ${changed} changed (${versions.at(-2)!.size} → ${next.size} bytes)`);

      // Redis goes away, and a mirror that every instance sees up dies while it is away.
      await sleep(Math.max(0, frac(0.4) - performance.now()));
      const outageMs = Math.max(2_500, Math.min(10_000, durationMs * 0.05));
      const victim = byId.get('flap-a')!;
      victim.pinned = true;
      await setMode(victim, 'ok');
      await sleep(Math.max(0, frac(0.45) - performance.now()));
      for (const inst of instances) {
        const seen = await waitUntil(async () => (await mirrorStatus(inst.url, victim.id)) === 'up', 10_000);
        if (!seen) sample(`${inst.name} did not see ${victim.id} up before the Redis outage`);
      }
      const down = performance.now();
      redisAway.from = down;
      await redis.takeDown();
      log(`[${at()}] Redis ${opts.redisCrash ? 'killed' : 'shut down (SAVE)'}`);
      await sleep(300);
      await setMode(victim, 'down');
      t.mirrorOutages++;
      log(`[${at()}] ${victim.id} down while Redis is away`);
      await sleep(outageMs - 300);
      await redis.bringUp();
      redisAway.until = performance.now();
      t.redisOutageMs = Math.round(performance.now() - down);
      log(`[${at()}] Redis back after ${t.redisOutageMs} ms`);
      await sleep(1_500);
      await setMode(victim, 'ok');
      victim.pinned = false;

      // One mirror syncs the changed file: the copy first, then its trace.
      await sleep(Math.max(0, frac(0.65) - performance.now()));
      const steady = byId.get('steady-f')!;
      await writeSized(steady.root, changed, next.size, next.mtime, 'N');
      steady.holds.get(changed)!.push({ size: next.size, since: performance.now() });
      await writeFile(path.join(steady.root, 'TIME.new'), `${TRACE + 660}\n`);
      await rename(path.join(steady.root, 'TIME.new'), path.join(steady.root, 'TIME'));
      log(`[${at()}] steady-f synced ${changed}`);

      await sleep(Math.max(0, frac(0.9) - performance.now()));
      chaosOn = false;
      for (const m of mirrors) m.pinned = true;
      for (const m of mirrors) await setMode(m, 'ok');
      log(`[${at()}] chaos off; all mirrors up`);
    };

    const progress = setInterval(
      () => {
        log(
          `[${at()}] ${t.requests} requests, ${t.toMirrors} → mirrors, ${t.toOrigin} → origin, admin ${t.adminAccepted} ok / ${t.adminRefused} refused, late ${t.redirectsToKnownDown}, lacking ${t.redirectsLackingFile}, 5xx ${t.fiveXX}, failed ${t.failedRequests}`,
        );
      },
      Math.max(5_000, Math.min(30_000, durationMs / 6)),
    );
    progress.unref();

    await Promise.all([
      timeline(),
      adminLoop(),
      ...Array.from({ length: concurrency }, loadLoop),
      ...mirrors.filter((m) => m.role === 'flap' || m.role === 'stall').map(chaosLoop),
    ]);
    running = false;
    clearInterval(progress);

    // ---- graceful stop, then read back what was kept ----
    await sleep(500);
    const exits = await Promise.all(
      instances.map(async (inst) => {
        inst.proc.kill('SIGTERM');
        const exit = await Promise.race([inst.exit, sleep(30_000).then(() => ({ code: null, signal: 'timeout' as unknown as NodeJS.Signals }))]);
        if (exit.code !== 0) {
          t.uncleanExits++;
          sample(`${inst.name} exited with ${JSON.stringify(exit)}`);
        }
        return exit;
      }),
    );
    log(`[${at()}] instances stopped: ${exits.map((e) => JSON.stringify(e)).join(', ')}`);

    const readerPort = await freePort();
    const reader = await serve({
      configPath: await writeConfig('reader', readerPort),
      port: readerPort,
      hostname: '127.0.0.1',
      logLevel: 'silent',
      env: { REDIS_URL: redis.url },
    });
    try {
      const auth = { Authorization: `Bearer ${STAFF_TOKEN}`, Accept: 'application/json' };
      const stats = (await (await fetch(`${reader.url}/admin/v1/stats`, { headers: auth })).json()) as { totals: { downloads: number } };
      t.downloadsCounted = stats.totals.downloads;
      t.statsLost = Math.max(0, t.downloadsExpected - t.downloadsCounted);
      t.statsExtra = Math.max(0, t.downloadsCounted - t.downloadsExpected);
      const audit = (await (await fetch(`${reader.url}/admin/v1/audit?action=mirror.update&target=mirror:steady-f`, { headers: auth })).json()) as {
        entries: { after?: { weight?: number } }[];
      };
      const audited = new Set(audit.entries.map((e) => e.after?.weight).filter((w): w is number => typeof w === 'number'));
      const missing = [...accepted].filter((n) => !audited.has(n));
      t.auditLost = missing.length;
      if (missing.length) sample(`accepted changes without an audit entry: weights ${missing.slice(0, 10).join(', ')}`);
    } finally {
      await reader.close();
    }
    return t;
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
  }
}

export function formatTally(t: SoakTally): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const row = (label: string, value: number, note = '') => `${label.padEnd(40)}${n(value).padStart(9)}${note ? `   ${note}` : ''}`;
  const must = (label: string, key: (typeof MUST_BE_ZERO)[number], note = '') =>
    row(label, t[key], `${t[key] === 0 ? 'ok' : 'FAIL'} (must be 0)${note ? `; ${note}` : ''}`);
  return [
    `Mirrorgate soak: ${t.seconds} s, seed ${t.seed}, 2 instances on one Redis (restarted once, away ${n(t.redisOutageMs)} ms)`,
    row('requests', t.requests, `GET ${n(t.gets)}, HEAD ${n(t.heads)}; → mirrors ${n(t.toMirrors)}, → origin ${n(t.toOrigin)}`),
    row(
      'mirror outages (down / 404 / stall)',
      t.mirrorOutages,
      `detection window ${n(t.detectionWindowMs)} ms; latest redirect to a dead mirror ${n(Math.round(t.maxLateOutsideOutageMs))} ms after it died (${n(Math.round(t.maxLateMs))} ms counting the Redis outage)`,
    ),
    row('admin changes accepted', t.adminAccepted, `${n(t.adminRefused)} refused with 503 while Redis was away`),
    must(
      'redirects to a mirror known down',
      'redirectsToKnownDown',
      t.redirectsToKnownDown ? `${n(t.knownDownDuringRedisOutage)} of them while Redis was away or just back` : '',
    ),
    must('redirects to a mirror lacking the file', 'redirectsLackingFile'),
    must('5xx answers', 'fiveXX'),
    must('failed requests', 'failedRequests'),
    must('Location outside mirrors and origin', 'foreignLocations'),
    must('unexpected statuses', 'unexpectedStatuses'),
    must('downloads lost from stats', 'statsLost', `counted ${n(t.downloadsCounted)} of ${n(t.downloadsExpected)}, ${n(t.statsExtra)} extra`),
    must('audit entries lost', 'auditLost'),
    must('instances not exiting cleanly', 'uncleanExits'),
    ...(t.samples.length ? ['samples:', ...t.samples.map((s) => `  ${s}`)] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const num = (name: string): number | undefined => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = Number(args[i + 1]);
    if (!Number.isFinite(v) || v <= 0) {
      console.error(`--${name} needs a positive number`);
      process.exit(2);
    }
    return v;
  };
  const json = args.includes('--json');
  runSoak({
    seconds: num('seconds'),
    rate: num('rate'),
    concurrency: num('concurrency'),
    seed: num('seed'),
    slackMs: num('slack'),
    redisCrash: args.includes('--redis-crash'),
    keep: args.includes('--keep'),
    log: json ? () => undefined : undefined,
  }).then(
    (tally) => {
      console.log(json ? JSON.stringify(tally, null, 2) : `\n${formatTally(tally)}`);
      const failed = failures(tally);
      if (failed.length) {
        console.error(`soak FAILED: ${failed.join(', ')}`);
        process.exit(1);
      }
      process.exit(0);
    },
    (err: unknown) => {
      console.error('soak could not run:', err);
      process.exit(2);
    },
  );
}
