// Where the server's time goes under load: V8's CPU profiler (what `node --cpu-prof` runs) on the Mirrorgate
// child during the measured window of the bench mix, summarised by function (self and inclusive) and by package.
//
//   npm run bench:profile                    # the full mix, memory store, LOG_LEVEL=silent, 15 s
//   npm run bench:profile -- --redirects     # the 302 path alone
//   npm run bench:profile -- --redirects --mode bare   # the bare node:http ceiling, for comparison
//   npm run bench:profile -- --seconds 30 --top 40 --log info --save /tmp/server.cpuprofile   # keep it for DevTools
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad, scenarios, startServer, warmUp, type ServerMode } from './http.js';
import { fmtInt, fmtMs, ROOT, table } from './util.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  /** Sampled time with the thread busy (not idle), ms. */
  busyMs: number;
  gcMs: number;
  frames: FrameTime[];
  /** Self time by package (node_modules/<pkg>), our own folders (src/<dir>), Node internals, V8. */
  packages: { name: string; selfMs: number }[];
}

/** Where a frame lives, short: "src/core/decide.ts:80", "hono", "node:internal/…". */
function placeOf(cf: CallFrame): string {
  const url = cf.url;
  if (!url) return '(V8/native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    return `${pkg}/${rest.slice(rest[0]!.startsWith('@') ? 2 : 1).join('/')}:${cf.lineNumber + 1}`;
  }
  if (url.startsWith('node:')) return url;
  const rel = url.startsWith('file://') ? path.relative(ROOT, new URL(url).pathname) : url;
  return `${rel}:${cf.lineNumber + 1}`;
}

function packageOf(cf: CallFrame): string {
  const url = cf.url;
  if (cf.functionName === '(garbage collector)') return '(garbage collector)';
  if (cf.functionName === '(program)') return '(program: V8 compiler, runtime)';
  if (!url) return '(V8 builtins / native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node: internals (http, streams, net)';
  if (url.startsWith('file://')) {
    const rel = path.relative(ROOT, new URL(url).pathname).split('/');
    return rel.length > 2 ? `${rel[0]}/${rel[1]}/${rel[2]}` : rel.join('/');
  }
  return url;
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const where = new Map<string, string>();
  const packages = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(profile.samples[i]!)!;
    const name = leaf.callFrame.functionName;
    if (name === '(idle)') continue;
    busy += ms;
    if (name === '(garbage collector)') gc += ms;
    const leafKey = keyOf(leaf.callFrame);
    self.set(leafKey, (self.get(leafKey) ?? 0) + ms);
    where.set(leafKey, placeOf(leaf.callFrame));
    const pkg = packageOf(leaf.callFrame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    // Inclusive: each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (cf.functionName === '(root)') break;
      const k = keyOf(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      where.set(k, placeOf(cf));
      total.set(k, (total.get(k) ?? 0) + ms);
    }
  }
  const frames = [...total.keys()].map((k) => ({ frame: k.split('\u0000')[0]!, where: where.get(k)!, selfMs: self.get(k) ?? 0, totalMs: total.get(k)! }));
  return {
    busyMs: busy,
    gcMs: gc,
    frames,
    packages: [...packages].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

function keyOf(cf: CallFrame): string {
  return `${cf.functionName || '(anonymous)'}\u0000${cf.url}:${cf.lineNumber}`;
}

export function printSummary(s: ProfileSummary, top: number, requests: number): void {
  const perReq = (ms: number) => `${((ms * 1000) / requests).toFixed(1)} µs`;
  const share = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1)} %`;
  console.log(`\nbusy ${fmtMs(s.busyMs)} over ${fmtInt(requests)} requests = ${perReq(s.busyMs)} of main-thread CPU per request; GC ${share(s.gcMs)}`);
  console.log('\nSelf time by package / folder:');
  console.log(
    table([['where', 'self', 'share', 'per request'], ...s.packages.slice(0, top).map((p) => [p.name, fmtMs(p.selfMs), share(p.selfMs), perReq(p.selfMs)])]),
  );
  console.log('\nTop frames by self time:');
  const bySelf = [...s.frames].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  console.log(
    table([
      ['function', 'where', 'self', 'share', 'per request'],
      ...bySelf.map((f) => [f.frame, f.where, fmtMs(f.selfMs), share(f.selfMs), perReq(f.selfMs)]),
    ]),
  );
  console.log('\nOur code, inclusive (what each src/ function costs with everything it calls):');
  const ours = s.frames
    .filter((f) => f.where.startsWith('src/'))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top);
  console.log(
    table([
      ['function', 'where', 'inclusive', 'share', 'per request'],
      ...ours.map((f) => [f.frame, f.where, fmtMs(f.totalMs), share(f.totalMs), perReq(f.totalMs)]),
    ]),
  );
}

/** Serves Mirrorgate, loads it, and profiles the server over the measured window only (no start-up, no warm-up). */
export async function profileServer(opts: {
  mode?: ServerMode;
  seconds: number;
  redirectsOnly: boolean;
  logLevel: string;
  connections: number;
  redisUrl?: string;
  saveTo?: string;
}): Promise<{ summary: ProfileSummary; requests: number; rps: number; cpuUsPerReq: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-prof-'));
  try {
    const env: Record<string, string> = { LOG_LEVEL: opts.logLevel };
    if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
    const server = await startServer(opts.mode ?? 'mirrorgate', env);
    const sc = await scenarios();
    const requests = opts.redirectsOnly ? sc.redirects : sc.mix;
    const file = path.join(dir, 'server.cpuprofile');
    let result;
    try {
      await warmUp(server.url, requests, 3, opts.connections);
      server.child.process.send({ type: 'profile-start', intervalUs: 250 });
      await server.child.next('result');
      result = await runLoad({ urls: [server.url], requests, connections: opts.connections, durationS: opts.seconds, servers: [server.child] });
      server.child.process.send({ type: 'profile-stop', file });
      await server.child.next('result');
    } finally {
      await server.child.stop();
    }
    const text = await readFile(file, 'utf8');
    if (opts.saveTo) await writeFile(opts.saveTo, text);
    const profile = JSON.parse(text) as CpuProfile;
    return { summary: summarise(profile), requests: result.requests, rps: result.rps, cpuUsPerReq: result.serverCpuUsPerReq };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      top: { type: 'string', default: '25' },
      redirects: { type: 'boolean', default: false },
      log: { type: 'string', default: 'silent' },
      connections: { type: 'string', default: '16' },
      redis: { type: 'string' },
      save: { type: 'string' },
      mode: { type: 'string', default: 'mirrorgate' },
    },
  });
  const { summary, requests, rps, cpuUsPerReq } = await profileServer({
    mode: values.mode as ServerMode,
    seconds: Number(values.seconds),
    redirectsOnly: values.redirects,
    logLevel: values.log,
    connections: Number(values.connections),
    ...(values.redis ? { redisUrl: values.redis } : {}),
    ...(values.save ? { saveTo: values.save } : {}),
  });
  console.log(
    `${values.mode} profiled (${values.redirects ? '302 path only' : 'full mix'}, LOG_LEVEL=${values.log}): ${fmtInt(rps)} req/s while profiled, ${cpuUsPerReq.toFixed(1)} µs of process CPU (all threads) per request`,
  );
  printSummary(summary, Number(values.top), requests);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
