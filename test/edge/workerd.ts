// Runs the built Worker bundle in the real workerd runtime (npm workerd) on loopback, one socket per configured Worker,
// with stand-ins (Node HTTP servers speaking workerd's protocols) for a KV namespace and for the Cache API's storage;
// startEdge is what an edge test file starts: the bundle built, its Workers running, or the reason they cannot.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';
import { buildWorker, type BuildWorkerResult } from '../../scripts/build-worker.js';
import { freePort } from '../support/network.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface EdgeWorkerSpec {
  /** Service and socket name ([a-z-]+). */
  name: string;
  /** Text bindings (what [vars] and secrets become). */
  bindings: Record<string, string>;
  /** A KV namespace bound as SNAPSHOT, served by this stand-in. */
  kv?: KvStandIn;
  /** Where the Worker's Cache API (caches.default) keeps entries; several Workers may share one, as a location's isolates do. */
  cache?: CacheStandIn;
}

export interface RunningWorkerd {
  /** Base URL per worker name. */
  urls: Record<string, string>;
  /** From spawn to the first 200 on every socket's /healthz. */
  coldStartMs: number;
  /** stdout + stderr so far (the Worker's console lines). */
  output(): string;
  close(): Promise<void>;
}

/** Path of the workerd binary from the npm package, or an error saying why there is none. */
export function workerdBinary(): string {
  const mod = createRequire(import.meta.url)('workerd') as { default: string };
  return mod.default;
}

/** compatibility_date from wrangler.toml, so tests run the date that deploys. */
export async function wranglerCompatibilityDate(root: string): Promise<string> {
  const toml = await readFile(path.join(root, 'wrangler.toml'), 'utf8');
  const m = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!m) throw new Error('wrangler.toml has no compatibility_date');
  return m[1]!;
}

function capnpString(s: string): string {
  return JSON.stringify(s);
}

/** Cap'n Proto constant names are camelCase: "edge-stale" → "edgeStaleWorker". */
function constName(worker: string): string {
  return `${worker.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase())}Worker`;
}

/** A workerd config (Cap'n Proto text): each Worker may fetch loopback only (the control plane under test). */
export function workerdConfig(workers: readonly (EdgeWorkerSpec & { address: string })[], compatibilityDate: string): string {
  const services = workers.flatMap((w) => [
    `    (name = ${capnpString(w.name)}, worker = .${constName(w.name)}),`,
    ...(w.kv ? [`    (name = ${capnpString(`${w.name}-kv`)}, external = (address = ${capnpString(w.kv.address)}, http = ())),`] : []),
    ...(w.cache ? [`    (name = ${capnpString(`${w.name}-cache`)}, external = (address = ${capnpString(w.cache.address)}, http = ())),`] : []),
  ]);
  const sockets = workers.map(
    (w) => `    (name = ${capnpString(w.name)}, address = ${capnpString(w.address)}, http = (cfBlobHeader = "CF-Blob"), service = ${capnpString(w.name)}),`,
  );
  const defs = workers.map((w) => {
    const bindings = Object.entries(w.bindings).map(([k, v]) => `    (name = ${capnpString(k)}, text = ${capnpString(v)}),`);
    if (w.kv) bindings.push(`    (name = "SNAPSHOT", kvNamespace = ${capnpString(`${w.name}-kv`)}),`);
    return [
      `const ${constName(w.name)} :Workerd.Worker = (`,
      '  modules = [(name = "worker.js", esModule = embed "worker.js")],',
      `  compatibilityDate = ${capnpString(compatibilityDate)},`,
      '  globalOutbound = "loopback",',
      ...(w.cache ? [`  cacheApiOutbound = ${capnpString(`${w.name}-cache`)},`] : []),
      '  bindings = [',
      ...bindings,
      '  ],',
      ');',
    ].join('\n');
  });
  return [
    'using Workerd = import "/workerd/workerd.capnp";',
    '',
    'const config :Workerd.Config = (',
    '  services = [',
    ...services,
    // Workers may not reach private addresses by default (SSRF guard); the control plane here is on 127.0.0.1.
    '    (name = "loopback", network = (allow = ["local"])),',
    '  ],',
    '  sockets = [',
    ...sockets,
    '  ],',
    ');',
    '',
    ...defs,
    '',
  ].join('\n');
}

/**
 * `readyPath`: what is polled until every socket answers 200 (default /healthz, which builds the app;
 * a path the Worker passes to its control plane, such as /login, does not).
 */
export async function startWorkerd(
  bundle: string,
  workers: readonly EdgeWorkerSpec[],
  compatibilityDate: string,
  opts: { readyPath?: string } = {},
): Promise<RunningWorkerd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-workerd-'));
  await copyFile(bundle, path.join(dir, 'worker.js'));
  const urls: Record<string, string> = {};
  const withAddresses = [];
  for (const w of workers) {
    const port = await freePort();
    urls[w.name] = `http://127.0.0.1:${port}`;
    withAddresses.push({ ...w, address: `127.0.0.1:${port}` });
  }
  const configPath = path.join(dir, 'config.capnp');
  await writeFile(configPath, workerdConfig(withAddresses, compatibilityDate));

  let output = '';
  const started = performance.now();
  const child: ChildProcess = spawn(workerdBinary(), ['serve', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  child.once('error', (err) => (output += `spawn error: ${err.message}\n`));

  const close = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (const url of Object.values(urls)) {
      for (;;) {
        if (exited !== undefined) throw new Error(`workerd exited (${exited}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`workerd did not answer within 30 s:\n${output}`);
        const ok = await fetch(`${url}${opts.readyPath ?? '/healthz'}`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { urls, coldStartMs: performance.now() - started, output: () => output, close };
}

/** An edge test file's Workers: the bundle built once and run in workerd, or why workerd could not start here. */
export interface EdgeRun {
  bundle: BuildWorkerResult;
  /** Undefined when workerd could not start (off CI only; `skipReason` says why). */
  workerd: RunningWorkerd | undefined;
  skipReason: string;
  /** Base URL of one Worker. */
  url(name?: string): string;
  /** Skips the test (with the reason) when workerd is unavailable; CI never gets here without it. */
  need(ctx: TestContext): void;
  /** Stops workerd (showing its output when a Worker threw), removes the bundle, restores the env. */
  close(): Promise<void>;
}

/**
 * Builds the Worker bundle and starts `workers` in workerd on wrangler.toml's compatibility date. Off CI,
 * a machine where workerd cannot start gets a run without workerd (its tests skip, `label` says so in a
 * warning); on CI that is a failure. `shardFiles` sets MIRRORGATE_SNAPSHOT_SHARD_FILES, which this
 * process's control planes read on every snapshot request, until close().
 */
export async function startEdge(label: string, workers: readonly EdgeWorkerSpec[], opts: { shardFiles?: string } = {}): Promise<EdgeRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-edge-'));
  const bundle = await buildWorker({ outfile: path.join(dir, 'worker.js'), quiet: true }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const savedShardFiles = process.env.MIRRORGATE_SNAPSHOT_SHARD_FILES;
  if (opts.shardFiles !== undefined) process.env.MIRRORGATE_SNAPSHOT_SHARD_FILES = opts.shardFiles;
  let workerd: RunningWorkerd | undefined;
  const run: EdgeRun = {
    bundle,
    workerd: undefined,
    skipReason: '',
    url(name = 'edge') {
      const url = workerd?.urls[name];
      if (!url) throw new Error(`no Worker ${name}`);
      return url;
    },
    need(ctx) {
      if (!workerd) ctx.skip(run.skipReason);
    },
    async close() {
      if (workerd) {
        const out = workerd.output();
        await workerd.close();
        if (/uncaught/i.test(out)) console.warn(`workerd output:\n${out}`);
      }
      await rm(dir, { recursive: true, force: true });
      if (opts.shardFiles === undefined) return;
      if (savedShardFiles === undefined) delete process.env.MIRRORGATE_SNAPSHOT_SHARD_FILES;
      else process.env.MIRRORGATE_SNAPSHOT_SHARD_FILES = savedShardFiles;
    },
  };
  try {
    workerd = run.workerd = await startWorkerd(bundle.outfile, workers, await wranglerCompatibilityDate(ROOT));
  } catch (err) {
    if (process.env.CI === 'true') {
      await run.close();
      throw err;
    }
    run.skipReason = `workerd could not start here: ${(err as Error).message.slice(0, 500)}`;
    console.warn(`${label}: skipping the workerd tests (${run.skipReason})`);
  }
  return run;
}

// ---------------------------------------------------------------------------------------------
// Stand-ins for what Cloudflare runs behind a Worker's bindings, speaking workerd's protocols.

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function body(req: import('node:http').IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A KV namespace: workerd turns env.SNAPSHOT.get(key, { cacheTtl }) into GET /<key>?urlencoded=true&cache_ttl=N. */
export interface KvStandIn {
  address: string;
  values: Map<string, { value: Uint8Array; metadata?: unknown }>;
  /** Every read: key and the cacheTtl asked for. */
  reads: { key: string; cacheTtl: number | undefined }[];
  close(): Promise<void>;
}

export async function startKvStandIn(): Promise<KvStandIn> {
  const values = new Map<string, { value: Uint8Array; metadata?: unknown }>();
  const reads: KvStandIn['reads'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kv');
    const key = decodeURIComponent(url.pathname.slice(1));
    if (req.method !== 'GET') return void res.writeHead(405).end();
    const ttl = url.searchParams.get('cache_ttl');
    reads.push({ key, cacheTtl: ttl === null ? undefined : Number(ttl) });
    const hit = values.get(key);
    if (!hit) return void res.writeHead(404).end();
    const headers: Record<string, string> = {};
    if (hit.metadata !== undefined) headers['CF-KV-Metadata'] = JSON.stringify(hit.metadata);
    res.writeHead(200, headers).end(hit.value);
  });
  const address = await listen(server);
  return { address, values, reads, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * The storage behind caches.default: workerd PUTs the key's URL with the serialised response as
 * the body, and GETs it (Cache-Control: only-if-cached), expecting CF-Cache-Status HIT with the
 * response, or MISS. Shared by several Workers, it plays a location's cache that every isolate there reads.
 */
export interface CacheStandIn {
  address: string;
  /** Serialised responses by URL. */
  entries: Map<string, Buffer>;
  hits: number;
  misses: number;
  puts: number;
  close(): Promise<void>;
}

export async function startCacheStandIn(): Promise<CacheStandIn> {
  const entries = new Map<string, Buffer>();
  const stats = { hits: 0, misses: 0, puts: 0 };
  const server = createServer(async (req, res) => {
    const key = `${req.headers.host ?? ''}${req.url ?? '/'}`;
    if (req.method === 'PUT') {
      entries.set(key, await body(req));
      stats.puts++;
      return void res.writeHead(204).end();
    }
    if (req.method === 'PURGE') return void res.writeHead(entries.delete(key) ? 200 : 404).end();
    const stored = entries.get(key);
    if (!stored) {
      stats.misses++;
      return void res.writeHead(504, { 'CF-Cache-Status': 'MISS' }).end();
    }
    stats.hits++;
    // "HTTP/1.1 200 OK\r\nName: value\r\n…\r\n\r\n<body>"
    const end = stored.indexOf('\r\n\r\n');
    const head = stored.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const headers: [string, string][] = [];
    for (const line of head.slice(1)) {
      const at = line.indexOf(':');
      const name = line.slice(0, at).trim();
      if (name.toLowerCase() !== 'content-length' && name.toLowerCase() !== 'transfer-encoding') headers.push([name, line.slice(at + 1).trim()]);
    }
    headers.push(['CF-Cache-Status', 'HIT']);
    res.writeHead(status, headers.flat()).end(stored.subarray(end + 4));
  });
  const address = await listen(server);
  return {
    address,
    entries,
    get hits() {
      return stats.hits;
    },
    get misses() {
      return stats.misses;
    },
    get puts() {
      return stats.puts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Sits between the Workers and the control plane and writes down what they asked for. Each Worker's
 * CONTROL_URL is <proxy>/<name>: the proxy records the whole path and forwards it without the name.
 */
export interface CountingProxy {
  url: string;
  /** Path (with the Worker's prefix) and status of every request, in order, and the client's place the Worker sent with it. */
  seen: { path: string; status: number; edgePlace?: string }[];
  close(): Promise<void>;
}

export async function countingProxy(target: string): Promise<CountingProxy> {
  const seen: CountingProxy['seen'] = [];
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const forward = (req.url ?? '/').replace(/^\/[a-z]+(?=\/)/, '');
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: forward, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        const edgePlace = req.headers['x-mirrorgate-edge-place'];
        seen.push({ path: req.url ?? '', status: up.statusCode ?? 0, ...(typeof edgePlace === 'string' ? { edgePlace } : {}) });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
