// The HTTP part of the bench: autocannon (in this process) against a server child (its own process and core).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';
import { buildRequests, demoPaths, MIX, REDIRECT_ONLY, type LoadRequest, type MixShare } from '../../load/scenarios.js';
import { BENCH_DIR, forkChild, percentile, ROOT, type Child, type CpuSource } from './util.js';

export interface ServerHandle {
  child: Child;
  url: string;
}

export type ServerMode = 'bare' | 'bare-full' | 'raw-full' | 'hono' | 'mirrorgate';

/** Starts a server child; `stdout: 'ignore'` sends its (pino) output to /dev/null. */
export async function startServer(mode: ServerMode, env: Record<string, string | undefined> = {}, execArgv: string[] = []): Promise<ServerHandle> {
  const child = forkChild(path.join(BENCH_DIR, 'server.ts'), [mode], { env, execArgv, stdout: 'ignore' });
  const ready = await child.next('ready', 120_000);
  return { child, url: `http://127.0.0.1:${ready.port}` };
}

export interface LoadOptions {
  urls: string[];
  requests: readonly LoadRequest[];
  connections: number;
  durationS: number;
  /** Open loop: requests per second over all connections (autocannon overallRate); closed loop when absent. */
  overallRate?: number;
  /** Server children (or process trees) whose CPU time to measure over the run. */
  servers?: CpuSource[];
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  timeouts: number;
  /** Status code → count. */
  statuses: Record<string, number>;
  /** Requests whose status was not the one the scenario expects (from autocannon's per-status counts). */
  unexpected: number;
  /** Server CPU time per request (µs), summed over the server children. */
  serverCpuUsPerReq: number;
  /** Server CPU use over the run, in cores (1.0 = one core busy all the time). */
  serverCores: number;
  /** This process's (the load generator's) CPU use, in cores. */
  loadgenCores: number;
}

/**
 * One autocannon run per URL at once (connections and rate split evenly), latency taken from every
 * response with its full resolution (autocannon's own histogram rounds to whole milliseconds).
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const expected = new Map<string, number>();
  for (const r of opts.requests) expected.set(String(r.status), (expected.get(String(r.status)) ?? 0) + 1);

  const share = opts.urls.length;
  const list = opts.requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers }));
  const connections = Math.max(1, Math.round(opts.connections / share));
  // Each connection starts at another point of the list, so they do not all ask for the same file at
  // the same time. The list becomes request buffers only here: autocannon deep-copies its options per
  // connection, so those carry one request, and its clock starts after this set-up anyway.
  let clientNo = 0;
  const stride = Math.max(1, Math.floor(list.length / (connections * share)));
  const setupClient = (client: autocannon.Client) => {
    const at = (clientNo++ * stride) % list.length;
    client.setRequests([...list.slice(at), ...list.slice(0, at)]);
  };

  // CPU and wall time count from autocannon's 'start' (every connection set up) to the end.
  type Mark = { at: number; loadgen: NodeJS.CpuUsage; servers: { userUs: number; systemUs: number }[] };
  let begin: Promise<Mark> | undefined;
  const mark = async (): Promise<Mark> => {
    const servers = await Promise.all((opts.servers ?? []).map((s) => s.cpu()));
    return { at: performance.now(), loadgen: process.cpuUsage(), servers };
  };
  const results = await Promise.all(
    opts.urls.map(
      (url) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon(
            {
              url,
              connections,
              duration: opts.durationS,
              ...(opts.overallRate ? { overallRate: Math.max(1, Math.round(opts.overallRate / share)) } : {}),
              requests: [list[0]!],
              setupClient,
              timeout: 10,
            },
            (err, result) => (err ? reject(err) : resolve(result)),
          );
          instance.once('start', () => {
            begin ??= mark();
          });
          instance.on('response', (_client, _status, _bytes, responseTime) => {
            latencies.push(responseTime);
          });
        }),
    ),
  );
  const end = await mark();
  const start = await begin!;
  const wallS = (end.at - start.at) / 1000;
  const loadgenUs = end.loadgen.user + end.loadgen.system - (start.loadgen.user + start.loadgen.system);
  const cpuBefore = start.servers;
  const cpuAfter = end.servers;

  const statuses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let timeouts = 0;
  for (const r of results) {
    errors += r.errors;
    timeouts += r.timeouts;
    for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) {
      statuses[code] = (statuses[code] ?? 0) + (stat as { count: number }).count;
      requests += (stat as { count: number }).count;
    }
  }
  // Compare proportions: the run cycles through the list, so each status should appear in its share.
  let unexpected = 0;
  for (const [code, n] of Object.entries(statuses)) {
    const want = ((expected.get(code) ?? 0) / opts.requests.length) * requests;
    if (n > want * 1.02 + 10) unexpected += n - Math.round(want);
  }
  let serverCpuUs = 0;
  for (let i = 0; i < cpuAfter.length; i++) {
    serverCpuUs += cpuAfter[i]!.userUs + cpuAfter[i]!.systemUs - (cpuBefore[i]!.userUs + cpuBefore[i]!.systemUs);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests,
    // Over the measured wall time: autocannon's duration excludes its set-up, and its rate windows are whole seconds.
    rps: requests / wallS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    errors,
    timeouts,
    statuses,
    unexpected,
    serverCpuUsPerReq: requests ? serverCpuUs / requests : Number.NaN,
    serverCores: serverCpuUs / 1e6 / wallS,
    loadgenCores: loadgenUs / 1e6 / wallS,
  };
}

/** Warm-up (JIT, GeoIP cache, connection set-up) whose figures are thrown away. */
export async function warmUp(url: string | string[], requests: readonly LoadRequest[], seconds: number, connections: number): Promise<void> {
  await runLoad({ urls: Array.isArray(url) ? url : [url], requests, connections, durationS: seconds });
}

export interface Scenarios {
  mix: LoadRequest[];
  redirects: LoadRequest[];
}

export async function scenarios(count = 4_000): Promise<Scenarios> {
  const paths = demoPaths(await readFile(path.join(ROOT, 'data', 'manifest.jsonl'), 'utf8'));
  const build = (mix: readonly MixShare[], seed: number) => buildRequests({ paths, count, mix, seed, clients: 2_000 });
  return { mix: build(MIX, 42), redirects: build(REDIRECT_ONLY, 43) };
}

/** The headers of one real Mirrorgate 302 (less those node:http adds itself), for the fixed-answer baselines. */
export async function typicalRedirectHeaders(url: string, requests: readonly LoadRequest[]): Promise<{ headers: string[]; bytes: number }> {
  const r = requests.find((x) => x.status === 302)!;
  const res = await fetch(`${url}${r.path}`, { method: r.method, headers: r.headers, redirect: 'manual' });
  await res.arrayBuffer();
  const headers: string[] = [];
  let bytes = 0;
  res.headers.forEach((value, name) => {
    if (['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name)) return;
    headers.push(name, value);
    bytes += name.length + value.length + 4;
  });
  return { headers, bytes };
}

/**
 * Servers running at once take the load in turns, `rounds` times, each round starting with another one so
 * none always follows the same: on a shared VM a run a minute later can cost 20 % more per request, and
 * a ratio of two sequential runs carries that; slices interleaved meet the same weather. Returns each
 * side's slices in order; `onRound` sees each round's results as they come.
 */
export async function alternatingSlices<S>(
  sides: readonly S[],
  rounds: number,
  slice: (side: S) => Promise<LoadResult>,
  onRound?: (round: number, results: { side: S; result: LoadResult }[]) => void,
): Promise<Map<S, LoadResult[]>> {
  const slices = new Map<S, LoadResult[]>(sides.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    const results: { side: S; result: LoadResult }[] = [];
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + r) % sides.length]!;
      const result = await slice(side);
      slices.get(side)!.push(result);
      results.push({ side, result });
    }
    onRound?.(r + 1, results);
  }
  return slices;
}
