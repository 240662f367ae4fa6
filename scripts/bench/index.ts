// `npm run bench`: Mirrorgate's figures, each printed beside a baseline measured in the same run. Never asserts.
//
//   npm run bench                      # the full run (~6–8 minutes on 2 cores)
//   npm run bench -- --quick           # about a minute: shorter runs, 200,000 files instead of 1,000,000
//   npm run bench -- --only http,cores # sections: http, cores (includes workers), workers, core, control
//   npm run bench -- --json out.json   # also write every raw figure
//
// HTTP runs use autocannon in this process against servers in child processes (their own event loop and
// core); the decision core, the snapshot and the control plane run in children of their own too.
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { kindCounts } from '../../load/scenarios.js';
import type { ControlResult } from './control.js';
import type { CoreResult } from './core.js';
import type { LoadRequest } from '../../load/scenarios.js';
import {
  alternatingSlices,
  runLoad,
  scenarios,
  startServer,
  typicalRedirectHeaders,
  warmUp,
  type LoadResult,
  type ServerHandle,
  type ServerMode,
} from './http.js';
import {
  BENCH_DIR,
  processTreeCpu,
  fmtInt,
  median,
  fmtMiB,
  fmtMs,
  fmtS,
  fmtUs,
  forkChild,
  goal,
  cpuTicks,
  loadAverage1,
  machineLine,
  pct,
  table,
} from './util.js';

const REDIS_URL = 'redis://127.0.0.1:6379/15';
/** Busy time per request added to the bare server: its ratio to bare is what that much work of one's own costs. */
const BUDGET_SPINS_US = [5, 10];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    json: { type: 'string' },
    connections: { type: 'string', default: '16' },
    repeat: { type: 'string' },
  },
});
const quick = values.quick;
const sections = new Set((values.only ?? 'http,cores,core,control').split(',').map((s) => s.trim()));
const seconds = quick ? 3 : 10;
const warmSeconds = quick ? 1 : 3;
const connections = Number(values.connections);
// Other work on a shared 2-core machine only ever slows a run down, so each HTTP figure is the best of a few runs.
const repeat = Number(values.repeat ?? (quick ? 1 : 2));

type Row = [area: string, measure: string, mirrorgate: string, baseline: string, ratio: string, goal: string];
const rows: Row[] = [];
const notes: string[] = [];
const raw: Record<string, unknown> = {};

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function redisReady(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    // Database 15 is the bench's own: start each run from an empty one.
    await redis.flushdb();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function httpLine(label: string, r: LoadResult): string[] {
  const statuses = Object.entries(r.statuses)
    .sort()
    .map(([code, n]) => `${code}:${((n / r.requests) * 100).toFixed(0)}%`)
    .join(' ');
  return [
    label,
    fmtInt(r.rps),
    fmtMs(r.p50),
    fmtMs(r.p99),
    r.serverCores.toFixed(2),
    r.loadgenCores.toFixed(2),
    fmtUs(r.serverCpuUsPerReq),
    statuses + (r.errors || r.timeouts || r.unexpected ? ` (errors ${r.errors}, timeouts ${r.timeouts}, off-mix ${r.unexpected})` : ''),
  ];
}

async function withServer<T>(mode: ServerMode, env: Record<string, string>, fn: (s: ServerHandle) => Promise<T>): Promise<T> {
  const server = await startServer(mode, env);
  try {
    return await fn(server);
  } finally {
    await server.child.stop();
  }
}

async function http(): Promise<void> {
  const sc = await scenarios();
  const counts = kindCounts(sc.mix);
  log(
    `HTTP: ${seconds} s per run after ${warmSeconds} s warm-up, ${connections} connections; mix of ${sc.mix.length} distinct requests: ${Object.entries(counts)
      .map(([k, n]) => `${k} ${((n / sc.mix.length) * 100).toFixed(0)}%`)
      .join(', ')}`,
  );
  const detail: string[][] = [['server and load', 'req/s', 'p50', 'p99', 'server cores', 'loadgen cores', 'server CPU/req', 'statuses']];
  const run = async (label: string, s: ServerHandle | ServerHandle[], requests = sc.mix, overallRate?: number) => {
    const servers = Array.isArray(s) ? s : [s];
    const urls = servers.map((x) => x.url);
    await warmUp(urls, requests, warmSeconds, connections);
    let r: LoadResult | undefined;
    for (let i = 0; i < repeat; i++) {
      const x = await runLoad({
        urls,
        requests,
        connections,
        durationS: seconds,
        servers: servers.map((x) => x.child),
        ...(overallRate ? { overallRate } : {}),
      });
      // Closed loop: the best throughput; open loop (fixed rate): the best p99.
      if (!r || (overallRate ? x.p99 < r.p99 : x.rps > r.rps)) r = x;
    }
    detail.push(httpLine(label, r!));
    raw[label] = r;
    log(`  ${detail[detail.length - 1]!.join(' | ')}`);
    return r!;
  };

  const bare = await withServer('bare', {}, (s) => run('bare node:http, fixed 302 (302 requests)', s, sc.redirects));
  // What the ratio goals leave for work of our own: the same bare server, busy for a fixed time per request.
  const budget: { us: number; r: LoadResult }[] = [];
  for (const us of BUDGET_SPINS_US)
    budget.push({
      us,
      r: await withServer('bare', { BENCH_SPIN_US: String(us) }, (s) => run(`bare node:http, fixed 302 after ${us} µs of busy work`, s, sc.redirects)),
    });
  const hono = await withServer('hono', {}, (s) => run('Hono + @hono/node-server, fixed 302', s, sc.redirects));
  const mem = await withServer('mirrorgate', { LOG_LEVEL: 'silent' }, async (s) => {
    const redirects = await run('Mirrorgate memory, silent: 302 path', s, sc.redirects);
    const sample = await typicalRedirectHeaders(s.url, sc.redirects);
    const mix = await run('Mirrorgate memory, silent: mix', s, sc.mix);
    const half = Math.max(100, Math.floor(mix.rps / 2));
    const halfRate = await run(`Mirrorgate memory, silent: mix, open loop at half of that`, s, sc.mix, half);
    return { redirects, mix, halfRate, half, sample };
  });
  // The same 302s through the Hono app: the Node fast path (src/node/fastPath.ts) switched off.
  const app = await withServer('mirrorgate', { LOG_LEVEL: 'silent', MIRRORGATE_FAST_PATH: 'off' }, (s) =>
    run('Mirrorgate memory, silent: the same 302s through the Hono app (fast path off)', s, sc.redirects),
  );
  const bareFull = await withServer('bare-full', { BENCH_FIXED_HEADERS: JSON.stringify(mem.sample.headers) }, (s) =>
    run(`bare node:http, fixed 302 with a Mirrorgate 302's ${fmtInt(mem.sample.bytes)} bytes of headers`, s, sc.redirects),
  );
  const rawFull = await withServer('raw-full', { BENCH_FIXED_HEADERS: JSON.stringify(mem.sample.headers) }, (s) =>
    run(`node:net, no HTTP server: the same ${fmtInt(mem.sample.bytes)} bytes written per request`, s, sc.redirects),
  );
  // The default log level: one access-log line per request, to /dev/null (the child's stdout).
  const info = await withServer('mirrorgate', { LOG_LEVEL: 'info' }, async (s) => ({
    redirects: await run('Mirrorgate memory, info logs → /dev/null: 302 path', s, sc.redirects),
    mix: await run('Mirrorgate memory, info logs → /dev/null: mix', s, sc.mix),
  }));

  const hasRedis = await redisReady();
  let redis: LoadResult | undefined;
  if (hasRedis) {
    redis = await withServer('mirrorgate', { LOG_LEVEL: 'silent', REDIS_URL }, (s) => run('Mirrorgate Redis, silent: mix', s, sc.mix));
  } else {
    notes.push(`Redis rows skipped: nothing answers at ${REDIS_URL}.`);
  }

  const sides = await goalSides(sc.redirects);
  console.log(`\nHTTP runs (${seconds} s each, best of ${repeat}, ${connections} connections, autocannon in the parent process):`);
  console.log(table(detail));

  // The goals, from the three servers taking the load in alternating slices (goalSides): sequential runs a minute
  // apart moved the bare ceiling by a third on this VM, and the ratio with it.
  // Each round's ratio is taken within the round (its three slices met the same weather); the goal reads their median.
  const sliced = `${sides.rounds} rounds of alternating slices, median of each round's ratio`;
  const range = (r: RoundRatio) => `${pct(r.median)} (${pct(r.min)}–${pct(r.max)} by round)`;
  rows.push([
    'HTTP',
    `302 path, req/s (memory, info log: the default), ${sliced}`,
    fmtInt(sides.info.rps),
    `bare node:http 302: ${fmtInt(sides.bare.rps)}`,
    range(sides.rpsRatio.info),
    goal(sides.rpsRatio.info.median >= 0.5, '≥ 50 %'),
  ]);
  rows.push([
    'HTTP',
    `302 path, req/s (memory, LOG_LEVEL=silent), ${sliced}`,
    fmtInt(sides.silent.rps),
    `bare node:http 302: ${fmtInt(sides.bare.rps)}`,
    range(sides.rpsRatio.silent),
    goal(sides.rpsRatio.silent.median >= 0.6, '≥ 60 %'),
  ]);
  rows.push([
    'HTTP',
    `302 path, server CPU per request, info log / silent, the same rounds (bare's over Mirrorgate's)`,
    `${fmtUs(sides.info.cpuUs)} / ${fmtUs(sides.silent.cpuUs)}`,
    `bare: ${fmtUs(sides.bare.cpuUs)}`,
    `${range(sides.cpuRatio.info)} / ${range(sides.cpuRatio.silent)}`,
    '',
  ]);
  rows.push([
    'HTTP',
    '302 path, req/s and CPU per request, the runs above one after another (info / silent)',
    `${fmtInt(info.redirects.rps)} / ${fmtInt(mem.redirects.rps)} (${fmtUs(info.redirects.serverCpuUsPerReq)} / ${fmtUs(mem.redirects.serverCpuUsPerReq)})`,
    `bare node:http 302: ${fmtInt(bare.rps)} (${fmtUs(bare.serverCpuUsPerReq)})`,
    `${pct(info.redirects.rps / bare.rps)} / ${pct(mem.redirects.rps / bare.rps)}`,
    '',
  ]);
  rows.push([
    'HTTP',
    '302 path, p50 / p99 at saturation',
    `${fmtMs(mem.redirects.p50)} / ${fmtMs(mem.redirects.p99)}`,
    `bare: ${fmtMs(bare.p50)} / ${fmtMs(bare.p99)}`,
    '',
    '',
  ]);
  rows.push([
    'HTTP',
    '302 path, server CPU per request',
    fmtUs(mem.redirects.serverCpuUsPerReq),
    `bare: ${fmtUs(bare.serverCpuUsPerReq)}; Hono fixed 302: ${fmtUs(hono.serverCpuUsPerReq)}`,
    `${(mem.redirects.serverCpuUsPerReq / bare.serverCpuUsPerReq).toFixed(1)} ×`,
    '',
  ]);
  rows.push(['HTTP', 'Hono fixed 302 (adapter + router, no Mirrorgate code)', fmtInt(hono.rps), `bare: ${fmtInt(bare.rps)}`, pct(hono.rps / bare.rps), '']);
  rows.push([
    'HTTP',
    `302 path vs bare node:http sending the same ${fmtInt(mem.sample.bytes)} bytes of headers`,
    fmtInt(mem.redirects.rps),
    `bare, same headers: ${fmtInt(bareFull.rps)} (${fmtUs(bareFull.serverCpuUsPerReq)}/req)`,
    pct(mem.redirects.rps / bareFull.rps),
    '',
  ]);
  // What an answer of this size costs any Node server on loopback: the ratio goals' floor.
  rows.push([
    'HTTP',
    `server CPU per request: node:net writing the same ${fmtInt(mem.sample.bytes)} bytes, no HTTP server (the floor for this answer)`,
    fmtUs(rawFull.serverCpuUsPerReq),
    `bare node:http small 302: ${fmtUs(bare.serverCpuUsPerReq)}; node:http same headers: ${fmtUs(bareFull.serverCpuUsPerReq)}`,
    `${(rawFull.serverCpuUsPerReq / bare.serverCpuUsPerReq).toFixed(2)} × bare`,
    '',
  ]);
  // A VM's wake-ups make time per request add up to more than its parts: this is what a ratio costs in µs.
  for (const { us, r } of budget)
    rows.push([
      'HTTP',
      `bare node:http fixed 302 after ${us} µs of busy work per request (what a ratio leaves for work of one's own)`,
      fmtInt(r.rps),
      `bare: ${fmtInt(bare.rps)}`,
      pct(r.rps / bare.rps),
      `${fmtUs(r.serverCpuUsPerReq)}/req`,
    ]);
  rows.push([
    'HTTP',
    'the same 302s through the Hono app (fast path off), req/s',
    fmtInt(app.rps),
    `fast path: ${fmtInt(mem.redirects.rps)}`,
    pct(app.rps / mem.redirects.rps),
    `${fmtUs(app.serverCpuUsPerReq)}/req`,
  ]);
  rows.push(['HTTP', 'mix, req/s (memory, silent)', fmtInt(mem.mix.rps), `302 path: ${fmtInt(mem.redirects.rps)}`, pct(mem.mix.rps / mem.redirects.rps), '']);
  rows.push(['HTTP', 'mix, p50 / p99 at saturation', `${fmtMs(mem.mix.p50)} / ${fmtMs(mem.mix.p99)}`, '', '', '']);
  rows.push([
    'HTTP',
    `mix, p99 at half the saturating rate (asked ${fmtInt(mem.half)}, got ${fmtInt(mem.halfRate.rps)} req/s, open loop)`,
    fmtMs(mem.halfRate.p99),
    `p50 ${fmtMs(mem.halfRate.p50)}`,
    '',
    goal(mem.halfRate.p99 <= 5, '≤ 5 ms'),
  ]);
  rows.push([
    'HTTP',
    'mix with info logs to /dev/null (JSON lines, the default)',
    fmtInt(info.mix.rps),
    `silent: ${fmtInt(mem.mix.rps)}`,
    pct(info.mix.rps / mem.mix.rps),
    '',
  ]);
  if (redis)
    rows.push([
      'HTTP',
      'mix on Redis, req/s',
      fmtInt(redis.rps),
      `memory: ${fmtInt(mem.mix.rps)}`,
      `${redis.rps >= mem.mix.rps ? '+' : ''}${((redis.rps / mem.mix.rps - 1) * 100).toFixed(1)} %`,
      // Redis must cost the mix no more than a tenth of its throughput (faster is noise, and fine).
      goal(redis.rps >= mem.mix.rps * 0.9, 'within 10 %'),
    ]);
  const bareSaturated = bare.serverCores < 0.9;
  if (bareSaturated)
    notes.push(
      `The bare server used ${bare.serverCores.toFixed(2)} of a core: the load generator (${bare.loadgenCores.toFixed(2)} cores) is the limit there, so the bare ceiling is understated and the "% of ceiling" overstated.`,
    );
  raw.httpSummary = { bare, budget, bareFull, rawFull, hono, mem, info, redis, sides };
}

/** The headers of one 302 from the running server (framing headers left out), and their size on the wire. */

/**
 * The goal ratios' three servers (bare node:http, Mirrorgate silent, Mirrorgate with the info log) running at
 * once and taking the 302 load in alternating slices, as bench:ab does; each side's median req/s and CPU per request.
 */
/** A ratio over the rounds of alternating slices: each round's own (its slices met the same weather), their median and range. */
interface RoundRatio {
  median: number;
  min: number;
  max: number;
}

function roundRatio(ratios: number[]): RoundRatio {
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

async function goalSides(requests: readonly LoadRequest[]): Promise<
  { rounds: number } & Record<'bare' | 'silent' | 'info', { rps: number; cpuUs: number }> & {
      /** Mirrorgate's req/s over bare's, and bare's CPU per request over Mirrorgate's, round by round. */
      rpsRatio: Record<'silent' | 'info', RoundRatio>;
      cpuRatio: Record<'silent' | 'info', RoundRatio>;
    }
> {
  const specs = [
    { name: 'bare', mode: 'bare' as const, env: {} },
    { name: 'silent', mode: 'mirrorgate' as const, env: { LOG_LEVEL: 'silent' } },
    { name: 'info', mode: 'mirrorgate' as const, env: { LOG_LEVEL: 'info' } },
  ];
  const servers: { name: string; s: ServerHandle; slices: LoadResult[] }[] = [];
  // Sixteen: a round's ratio moved from 47 to 73 % within one run on a shared guest, and the goal reads their median.
  const rounds = quick ? 2 : 16;
  try {
    for (const spec of specs) servers.push({ name: spec.name, s: await startServer(spec.mode, spec.env), slices: [] });
    for (const x of servers) await warmUp(x.s.url, requests, warmSeconds, connections);
    const slices = await alternatingSlices(servers, rounds, (x) =>
      runLoad({ urls: [x.s.url], requests, connections, durationS: seconds / 4, servers: [x.s.child] }),
    );
    for (const x of servers) x.slices = slices.get(x)!;
  } finally {
    for (const x of servers) await x.s.child.stop();
  }
  const of = (name: string) => {
    const slices = servers.find((x) => x.name === name)!.slices;
    return { rps: median(slices.map((x) => x.rps)), cpuUs: median(slices.map((x) => x.serverCpuUsPerReq)) };
  };
  const slicesOf = (name: string) => servers.find((x) => x.name === name)!.slices;
  const perRound = (name: 'silent' | 'info', ratio: (bare: LoadResult, side: LoadResult) => number) =>
    roundRatio(slicesOf(name).map((side, r) => ratio(slicesOf('bare')[r]!, side)));
  const byRps = (bare: LoadResult, side: LoadResult) => side.rps / bare.rps;
  const byCpu = (bare: LoadResult, side: LoadResult) => bare.serverCpuUsPerReq / side.serverCpuUsPerReq;
  const result = {
    rounds,
    bare: of('bare'),
    silent: of('silent'),
    info: of('info'),
    rpsRatio: { silent: perRound('silent', byRps), info: perRound('info', byRps) },
    cpuRatio: { silent: perRound('silent', byCpu), info: perRound('info', byCpu) },
  };
  const pct = (r: RoundRatio) => `${Math.round(r.median * 100)} % (${Math.round(r.min * 100)}–${Math.round(r.max * 100)} %)`;
  log(
    `  goal sides, ${rounds} rounds of alternating slices: bare ${fmtInt(result.bare.rps)} req/s; ` +
      `silent ${pct(result.rpsRatio.silent)} of it, info log ${pct(result.rpsRatio.info)} (median of the rounds' ratios, their range)`,
  );
  return result;
}

async function best(run: () => Promise<LoadResult>): Promise<LoadResult> {
  let r = await run();
  for (let i = 1; i < repeat; i++) {
    const x = await run();
    if (x.rps > r.rps) r = x;
  }
  return r;
}

async function cores(): Promise<void> {
  if (!(await redisReady())) {
    notes.push('Cores section skipped: no Redis.');
    return;
  }
  const sc = await scenarios();
  const one = await withServer('mirrorgate', { LOG_LEVEL: 'silent', REDIS_URL }, async (s) => {
    await warmUp(s.url, sc.mix, warmSeconds, connections);
    return best(() => runLoad({ urls: [s.url], requests: sc.mix, connections, durationS: seconds, servers: [s.child] }));
  });
  const a = await startServer('mirrorgate', { LOG_LEVEL: 'silent', REDIS_URL });
  const b = await startServer('mirrorgate', { LOG_LEVEL: 'silent', REDIS_URL });
  let two: LoadResult;
  try {
    await warmUp([a.url, b.url], sc.mix, warmSeconds, connections);
    two = await best(() => runLoad({ urls: [a.url, b.url], requests: sc.mix, connections, durationS: seconds, servers: [a.child, b.child] }));
  } finally {
    await Promise.all([a.child.stop(), b.child.stop()]);
  }
  raw.cores = { one, two };
  console.log('\nCores (mix, Redis, the same connections split over the processes):');
  console.log(
    table([
      ['servers', 'req/s', 'p50', 'p99', 'server cores', 'loadgen cores', 'server CPU/req', 'statuses'],
      httpLine('1 process', one),
      httpLine('2 processes, one port each', two),
    ]),
  );
  rows.push([
    'Cores',
    '2 processes vs 1 (Redis, mix), req/s',
    fmtInt(two.rps),
    `1 process: ${fmtInt(one.rps)}`,
    `${(two.rps / one.rps).toFixed(2)} ×`,
    'scaling 1 → 2 cores',
  ]);
  notes.push(
    `Cores: ${cpus().length} cores hold both server processes, redis-server and the load generator (${two.loadgenCores.toFixed(2)} cores); the servers got ${two.serverCores.toFixed(2)} cores together (one process alone: ${one.serverCores.toFixed(2)}) and spent ${fmtUs(two.serverCpuUsPerReq)} of CPU per request (alone: ${fmtUs(one.serverCpuUsPerReq)}). Throughput per server core shows whether the processes themselves scale; the machine cannot give two servers two cores.`,
  );
}

/** A `MIRRORGATE_WORKERS=N npm start` process tree, answering on `url`. */
interface Cluster {
  workers: number;
  url: string;
  tree: ReturnType<typeof processTreeCpu>;
  stop(): Promise<void>;
}

/**
 * `MIRRORGATE_WORKERS=N npm start` as an operator runs it (memory mode: the primary holds the store), on the
 * bench's demo config; the CPU of the whole process tree (primary and workers, from /proc) is what is measured.
 */
async function startCluster(workers: number): Promise<Cluster> {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { benchConfig } = await import('./server.js');
  const { freePort } = await import('../../test/support/network.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-bench-cluster-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, '..', '..', 'src', 'node.ts')], {
    env: {
      ...process.env,
      MIRRORGATE_CONFIG: await benchConfig(dir),
      MIRRORGATE_WORKERS: String(workers),
      PORT: String(port),
      LOG_LEVEL: 'silent',
      REDIS_URL: '',
    },
    stdio: 'ignore',
  });
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`cluster of ${workers} did not start`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Every worker up: each has loaded the index before the port answers for all of them.
    await new Promise((r) => setTimeout(r, 3_000));
  } catch (err) {
    await stop();
    throw err;
  }
  return { workers, url, tree: processTreeCpu(child.pid!), stop };
}

/**
 * One process against two workers, both running at once and taking the mix in alternating slices, as
 * bench:ab does: on a shared VM a run a minute later can cost 20 % more per request, and the projection
 * divides one run by another. Each side's figures are its median slice.
 */
async function workersSection(): Promise<void> {
  const sc = await scenarios();
  const clusters: Cluster[] = [];
  const slices = new Map<number, LoadResult[]>([
    [1, []],
    [2, []],
  ]);
  try {
    clusters.push(await startCluster(1), await startCluster(2));
    for (const c of clusters) await warmUp(c.url, sc.mix, warmSeconds, connections);
    const sliced = await alternatingSlices(clusters, quick ? 2 : 8, (c) =>
      runLoad({ urls: [c.url], requests: sc.mix, connections, durationS: seconds / 4, servers: [c.tree] }),
    );
    for (const c of clusters) slices.set(c.workers, sliced.get(c)!);
  } finally {
    for (const c of clusters) await c.stop();
  }
  const medianSlice = (n: number) => {
    const sorted = [...slices.get(n)!].sort((a, b) => a.serverCpuUsPerReq - b.serverCpuUsPerReq);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  const medianRps = (n: number) => median(slices.get(n)!.map((x) => x.rps));
  const one = medianSlice(1);
  const two = medianSlice(2);
  raw.workers = { one, two, slices: Object.fromEntries(slices) };
  console.log(`\nWorkers (mix, memory mode, one port; MIRRORGATE_WORKERS; the slice of median CPU per request of ${slices.get(1)!.length} each):`);
  console.log(
    table([
      ['servers', 'req/s', 'p50', 'p99', 'server cores', 'loadgen cores', 'server CPU/req', 'statuses'],
      httpLine('1 process', one),
      httpLine('2 workers', two),
    ]),
  );
  const measured = medianRps(2) / medianRps(1);
  rows.push([
    'Cores',
    '2 workers vs 1 process (memory, mix), req/s, median of alternating slices',
    fmtInt(medianRps(2)),
    `1 process: ${fmtInt(medianRps(1))}`,
    `${measured.toFixed(2)} ×`,
    // The goal holds where the machine has two cores to spare for the workers; here the load generator shares them.
    cpus().length > 2 ? goal(measured >= 1.6, '≥ 1.6 ×') : '≥ 1.6 × where two cores are free (not here)',
  ]);
  // Where the cores are taken by the load generator, what the processes cost per request still shows how
  // they would scale: two workers with a core each answer 2 × (CPU per request alone / CPU per request of two).
  const projected = (2 * one.serverCpuUsPerReq) / two.serverCpuUsPerReq;
  rows.push([
    'Cores',
    'server CPU per request, 2 workers (primary included) vs 1 process (mix)',
    fmtUs(two.serverCpuUsPerReq),
    `1 process: ${fmtUs(one.serverCpuUsPerReq)}`,
    `${projected.toFixed(2)} × on two free cores`,
    goal(projected >= 1.6, '≥ 1.6 × (projected)'),
  ]);
  notes.push(
    `Workers: ${cpus().length} cores hold the workers, the primary and the load generator (${two.loadgenCores.toFixed(2)} cores of it), so two workers cannot have two cores to themselves here; the server tree got ${two.serverCores.toFixed(2)} cores with two workers, ${one.serverCores.toFixed(2)} with one. Projected scaling on two free cores = 2 × CPU per request alone / CPU per request of the two-worker tree.`,
  );
}

async function core(): Promise<void> {
  const files = quick ? 200_000 : 1_000_000;
  log(`Decision core and snapshot: ${fmtInt(files)} files × 500 mirrors (child process)…`);
  const child = forkChild(path.join(BENCH_DIR, 'core.ts'), [...(quick ? ['--quick'] : []), '--files', String(files)]);
  const r = (await child.next('result', 15 * 60_000)).data as CoreResult;
  await child.stop();
  raw.core = r;
  const scale = `${fmtInt(r.files)} files × ${r.mirrors} mirrors`;
  rows.push([
    'Decision',
    `decide() median, redirect options (limit maxAlternatives + 1), ${scale}`,
    fmtUs(r.decide.medianUs),
    `Map lookup of the path: ${fmtUs(r.lookup.medianUs)}`,
    `${(r.decide.medianUs / r.lookup.medianUs).toFixed(0)} ×`,
    goal(r.decide.medianUs <= 5, '≤ 5 µs'),
  ]);
  rows.push(['Decision', 'decide() p99, redirect options', fmtUs(r.decide.p99Us), `Map lookup: ${fmtUs(r.lookup.p99Us)}`, '', '']);
  rows.push([
    'Decision',
    'decide() median / p99, full ranking (metalink, mirror list)',
    `${fmtUs(r.decideFullList.medianUs)} / ${fmtUs(r.decideFullList.p99Us)}`,
    '',
    '',
    '',
  ]);
  rows.push([
    'Scale',
    `snapshot build: manifest read into the index + rule classes + ${r.inventories} inventories + states`,
    fmtS(r.build.totalMs),
    `of which reading and indexing the manifest: ${fmtS(r.build.readMs)}`,
    '',
    goal(r.build.totalMs <= 10_000, '≤ 10 s'),
  ]);
  rows.push([
    'Scale',
    'RSS with the snapshot built: right after GC / after 5 s idle',
    `${fmtMiB(r.memory.rss)} / ${fmtMiB(r.memory.settledRss)}`,
    `Node with the modules loaded: ${fmtMiB(r.memory.baselineRss)}`,
    `+${fmtMiB(r.memory.settledRss - r.memory.baselineRss)}`,
    goal(r.memory.settledRss <= 400e6, '≤ 400 MB'),
  ]);
  rows.push([
    'Scale',
    'JS heap + array buffers held',
    fmtMiB(r.memory.heapUsed + r.memory.arrayBuffers),
    `floor, the paths in a Map<string, number>: ${fmtMiB(r.memory.mapFloorBytes)}`,
    `${((r.memory.heapUsed + r.memory.arrayBuffers) / r.memory.mapFloorBytes).toFixed(1)} ×`,
    '',
  ]);
  rows.push(['Scale', 'peak RSS while loading and building', fmtMiB(r.memory.peakRss), '', '', '']);
  rows.push([
    'Scale',
    'rebuild after one staff change (drain; SnapshotBuilder.setMirrorsAndStates)',
    fmtMs(r.rebuild.stateChangeMs),
    `full build: ${fmtS(r.build.totalMs)}`,
    '',
    goal(r.rebuild.stateChangeMs <= 100, '≤ 100 ms'),
  ]);
  rows.push([
    'Scale',
    "rebuild after a staff edit of one mirror's include/exclude rules",
    fmtS(r.rebuild.rulesChangeMs),
    `state change: ${fmtMs(r.rebuild.stateChangeMs)}`,
    '',
    goal(r.rebuild.rulesChangeMs <= 100, '≤ 100 ms'),
  ]);
  console.log(`\nSnapshot (${scale}; ${r.distinctRuleSets} distinct rule sets, ${r.ruleClasses} rule classes, ${r.inventories} partial inventories):`);
  console.log(
    table([
      ['read + index manifest', 'rule classes', 'inventories', 'states', 'build total', 'RSS', 'heap', 'array buffers', 'path text'],
      [
        fmtS(r.build.readMs),
        fmtS(r.build.rulesMs),
        fmtS(r.build.inventoriesMs),
        fmtMs(r.build.statesMs),
        fmtS(r.build.totalMs),
        fmtMiB(r.memory.rss),
        fmtMiB(r.memory.heapUsed),
        fmtMiB(r.memory.arrayBuffers),
        fmtMiB(r.memory.pathBytes),
      ],
    ]),
  );
  console.log(
    `decide(): pool ${r.decide.meanPool.toFixed(0)} mirrors on average (pre-filtered by rule class and live state), ${r.decide.meanCandidates.toFixed(0)} candidates after inventories, ${pct(r.decide.toOrigin)} to the origin; ${fmtInt(r.decide.samples)} timed calls each; mean ${fmtUs(r.decide.meanUs)} (redirect), ${fmtUs(r.decideFullList.meanUs)} (full).`,
  );
}

async function control(): Promise<void> {
  log('Control plane: probing loopback mirrors, scanning an rsync listing (child process)…');
  const child = forkChild(path.join(BENCH_DIR, 'control.ts'), quick ? ['--quick'] : []);
  const r = (await child.next('result', 15 * 60_000)).data as ControlResult;
  await child.stop();
  raw.control = r;
  for (const p of r.probes) {
    const label = p.delayMs
      ? `probe ${fmtInt(p.mirrors)} mirrors ${p.delayMs} ms away (Prober.probeAll, ${p.concurrency} at once)`
      : `probe ${fmtInt(p.mirrors)} loopback mirrors (Prober.probeAll, ${p.concurrency} at once)`;
    const projected = p.mirrors < 1000 ? ` → ${fmtS((p.wallMs * 1000) / p.mirrors)} for 1,000` : '';
    rows.push([
      'Control',
      label,
      fmtS(p.wallMs) + projected,
      `same ${fmtInt(p.requests)} requests, bare undici: ${fmtS(p.floorMs)}`,
      `${pct((p.wallMs * (1000 / p.mirrors)) / 30_000)} of 30 s`,
      'inside one 30 s interval',
    ]);
  }
  const s = r.scan;
  rows.push([
    'Control',
    `scan a ${fmtInt(s.entries)}-entry rsync listing (scanMirror, stand-in rsync)`,
    fmtS(s.wallMs),
    `reading its lines, no parsing: ${fmtS(s.floorMs)}`,
    `${fmtInt(s.entries / (s.wallMs / 1000))} entries/s`,
    '',
  ]);
  rows.push([
    'Control',
    'scan: peak RSS above the RSS before it',
    `+${fmtMiB(s.peakRss - s.rssBefore)}`,
    `listing: ${fmtMiB(s.listingBytes)} of text`,
    `peak ${fmtMiB(s.peakRss)}`,
    '',
  ]);
  console.log(
    `\nScan: ${fmtInt(s.current)} current, ${fmtInt(s.stale)} stale, ${fmtInt(s.missing)} missing, ${fmtInt(s.foreign)} not in the origin. Probes: ${r.probes.map((p) => `${p.ok} ok / ${p.failed} down / ${p.withMissing} with a missing sample`).join('; ')}.`,
  );
}

async function main(): Promise<void> {
  const loadBefore = loadAverage1();
  const ticksBefore = cpuTicks();
  console.log(`Mirrorgate bench${quick ? ' (--quick)' : ''} — ${new Date().toISOString()}`);
  console.log(machineLine());
  if (loadBefore > 0.7)
    console.log(`note: the machine is busy (1-minute load ${loadBefore.toFixed(2)}); run again when it is quiet for figures worth keeping.`);
  const started = performance.now();
  if (sections.has('http')) await http();
  if (sections.has('cores')) await cores();
  if (sections.has('cores') || sections.has('workers')) await workersSection();
  if (sections.has('core')) await core();
  if (sections.has('control')) await control();
  // Leave database 15 empty (stats claims and counters from the Redis runs).
  if (sections.has('http') || sections.has('cores')) await redisReady();

  console.log(`\nSummary (each figure beside a baseline measured in this run):`);
  console.log(table([['area', 'measure', 'Mirrorgate', 'baseline (same run)', 'ratio', 'goal'], ...rows]));
  for (const n of notes) console.log(`- ${n}`);
  const ticks = cpuTicks();
  const steal = ticks.total > ticksBefore.total ? (ticks.steal - ticksBefore.steal) / (ticks.total - ticksBefore.total) : 0;
  console.log(
    `\nTook ${fmtS(performance.now() - started)}; 1-minute load average ${loadBefore.toFixed(2)} before, ${loadAverage1().toFixed(2)} after; steal ${(steal * 100).toFixed(1)} % of the CPU time (other guests on this host: figures taken under steal are low).`,
  );
  if (values.json) await writeFile(values.json, JSON.stringify({ quick, machine: machineLine(), rows, notes, raw }, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
