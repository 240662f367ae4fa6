// A small loopback network for control-plane tests: an origin and a few mirrors (LoopbackFileServer from
// network.ts) whose trees, trace files and failure modes tests change at will, Mirrorgate servers with
// short probe intervals and a store of the test's choosing, plus real rsync daemons (rsyncDaemon.ts) and redis-servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { serve, type RunningServer } from '../../src/node.js';
import { CLIENT_IPS, type ClientIpKey } from './clientIps.js';
import { encodePath, freePort, LoopbackFileServer, STAFF_TOKEN } from './network.js';
import { startRsyncDaemon, type RsyncDaemon } from './rsyncDaemon.js';
import { sleep, waitFor } from './wait.js';

export { sleep, waitFor };

export { freePort, STAFF_TOKEN };
export type { RsyncDaemon };

/** Every origin file's mtime (2026-01-01T00:00:00Z). */
export const MTIME = 1_767_225_600;
/** The origin's trace time: one sync after every file's mtime. */
export const TRACE_TIME = MTIME + 60;

/** The origin file set, by key. */
export const CFILES = {
  readme: { path: 'pub/README.txt', size: 1_000 },
  app10: { path: 'pub/releases/app-1.0.tar.gz', size: 5_003 },
  app11: { path: 'pub/releases/app-1.1.tar.gz', size: 6_007 },
  iso: { path: 'pub/images/disk.iso', size: 20_011 },
  guide: { path: 'pub/docs/guide.txt', size: 3_001 },
} as const;
export type CFileKey = keyof typeof CFILES;
export const ALL_FILES = Object.keys(CFILES) as CFileKey[];

export interface ControlMirrorPlan {
  id: string;
  country: string;
  lat: number;
  lon: number;
  weight?: number;
  /** Files placed on its disk with the origin's size and mtime (default: all). */
  holds?: CFileKey[];
  /** Files placed with another size and an older mtime. */
  stale?: CFileKey[];
}

/** Three mirrors: a client in Germany goes to de-near, and to fr-far when de-near is out. */
export const DEFAULT_PLANS: readonly ControlMirrorPlan[] = [
  { id: 'de-near', country: 'DE', lat: 52.52, lon: 13.405 },
  { id: 'fr-far', country: 'FR', lat: 48.857, lon: 2.352 },
  { id: 'us-far', country: 'US', lat: 42.36, lon: -71.06 },
];

/** Short probe settings so a test sees several rounds per second. */
export const FAST_HEALTH = {
  interval: '200ms',
  timeout: '150ms',
  failuresToDown: 2,
  successesToUp: 2,
  maxLag: '1h',
  sampleFiles: 2,
};
export const INTERVAL_MS = 200;
export const TIMEOUT_MS = 150;

export type RawConfig = Record<string, unknown> & { mirrors: Record<string, unknown>[] };

export interface ServerOptions {
  /** Memory store folder; reuse one to restart "the same" server. Default: a fresh folder. */
  dataDir?: string;
  /** The whole env serve() sees (e.g. { REDIS_URL }). */
  env?: Record<string, string>;
  /** Overrides of the `health` section (merged over FAST_HEALTH). */
  health?: Record<string, unknown>;
  mutate?: (config: RawConfig) => void;
}

export interface ControlNetwork {
  dir: string;
  origin: LoopbackFileServer;
  mirrors: Record<string, LoopbackFileServer>;
  /** The mirror entries written to every config (edit before starting servers to add rsyncUrl and such). */
  mirrorEntries: Record<string, unknown>[];
  startServer(opts?: ServerOptions): Promise<RunningServer>;
  /** Closes one server started here (idempotent). */
  stopServer(server: RunningServer): Promise<void>;
  /** Writes a mirror's trace file (epoch seconds). */
  setTrace(mirrorId: string, epochSeconds: number): Promise<void>;
  /** Deletes a mirror's copy of a file. */
  removeFile(mirrorId: string, key: CFileKey): Promise<void>;
  /** Puts a copy of the origin's current version of a file on a mirror. */
  placeFile(mirrorId: string, key: CFileKey): Promise<void>;
  /** The origin's current version of each file (changed by changeOriginFile). */
  originFiles: Record<CFileKey, { path: string; size: number; mtime: number }>;
  /** Publishes a new version of a file at the origin (new size and mtime) and rewrites the manifest atomically. */
  changeOriginFile(key: CFileKey, size: number, mtime: number): Promise<void>;
  /** Writes the origin's trace file (epoch seconds). */
  setOriginTrace(epochSeconds: number): Promise<void>;
  /** A real rsync daemon on loopback serving `root` as a module of a random name (see `url`; stopped by close()). */
  startRsyncDaemon(root: string): Promise<RsyncDaemon>;
  clearLogs(): void;
  close(): Promise<void>;
}

/** Writes a file of `size` bytes with the given mtime. */
export async function writeSized(root: string, relPath: string, size: number, mtime: number): Promise<void> {
  const local = path.join(root, ...relPath.split('/'));
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, randomBytes(size));
  await utimes(local, mtime, mtime);
}

export async function startControlNetwork(plans: readonly ControlMirrorPlan[] = DEFAULT_PLANS): Promise<ControlNetwork> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-ctl-'));
  // mkdtemp makes the folder 0700; an rsync daemon that drops privileges must still traverse it.
  await chmod(dir, 0o755);
  const servers = new Set<RunningServer>();
  const fileServers: LoopbackFileServer[] = [];
  const daemons = new Set<RsyncDaemon>();
  try {
    const originRoot = path.join(dir, 'origin');
    for (const f of Object.values(CFILES)) await writeSized(originRoot, f.path, f.size, MTIME);
    await writeFile(path.join(originRoot, 'TIME'), `${TRACE_TIME}\n`);
    const manifest = path.join(dir, 'origin.jsonl');
    const originFiles = Object.fromEntries(
      Object.entries(CFILES).map(([k, f]) => [k, { path: f.path, size: f.size, mtime: MTIME }]),
    ) as ControlNetwork['originFiles'];
    const writeManifest = async (): Promise<void> => {
      const tmp = `${manifest}.new`;
      await writeFile(
        tmp,
        Object.values(originFiles)
          .map((f) => `${JSON.stringify(f)}\n`)
          .join(''),
      );
      await rename(tmp, manifest);
    };
    await writeManifest();
    const writeTrace = async (root: string, epochSeconds: number): Promise<void> => {
      const file = path.join(root, 'TIME');
      await writeFile(`${file}.new`, `${epochSeconds}\n`);
      await rename(`${file}.new`, file);
    };
    const origin = new LoopbackFileServer('origin', originRoot);
    await origin.start();
    fileServers.push(origin);

    const mirrors: Record<string, LoopbackFileServer> = {};
    const mirrorEntries: Record<string, unknown>[] = [];
    for (const plan of plans) {
      const root = path.join(dir, 'mirrors', plan.id);
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, 'TIME'), `${TRACE_TIME}\n`);
      for (const key of plan.holds ?? ALL_FILES) await writeSized(root, CFILES[key].path, CFILES[key].size, MTIME);
      for (const key of plan.stale ?? []) await writeSized(root, CFILES[key].path, CFILES[key].size - 100, MTIME - 86_400);
      const server = new LoopbackFileServer(plan.id, root);
      await server.start();
      fileServers.push(server);
      mirrors[plan.id] = server;
      mirrorEntries.push({
        id: plan.id,
        name: `Mirror ${plan.id}`,
        baseUrl: server.baseUrl,
        country: plan.country,
        lat: plan.lat,
        lon: plan.lon,
        weight: plan.weight ?? 100,
        content: { include: ['pub/**'] },
      });
    }

    let n = 0;
    const network: ControlNetwork = {
      dir,
      origin,
      mirrors,
      mirrorEntries,
      async startServer(opts: ServerOptions = {}) {
        const i = n++;
        const port = await freePort();
        const config: RawConfig = {
          publicUrl: `http://127.0.0.1:${port}`,
          dataDir: opts.dataDir ?? path.join(dir, `var-${i}`),
          // Loopback mirrors probed every 200 ms: what a production config may not do.
          allowPrivateMirrorAddresses: true,
          allowFastProbes: true,
          origin: { baseUrl: origin.baseUrl, manifest },
          routing: { bandKm: 50 },
          tokens: [{ token: STAFF_TOKEN, role: 'staff', name: 'ops' }],
          health: { ...FAST_HEALTH, ...opts.health },
          scan: { interval: '1h', timeout: '20s' },
          mirrors: structuredClone(mirrorEntries),
        };
        opts.mutate?.(config);
        const file = path.join(dir, `mirrorgate-${i}.yaml`);
        await writeFile(file, stringify(config));
        const server = await serve({ configPath: file, port, hostname: '127.0.0.1', logLevel: 'silent', env: opts.env ?? {} });
        servers.add(server);
        return server;
      },
      async stopServer(server) {
        if (!servers.delete(server)) return;
        await server.close();
      },
      async setTrace(mirrorId, epochSeconds) {
        await writeTrace(mirrors[mirrorId]!.root, epochSeconds);
      },
      async removeFile(mirrorId, key) {
        await unlink(path.join(mirrors[mirrorId]!.root, ...CFILES[key].path.split('/')));
      },
      async placeFile(mirrorId, key) {
        const f = originFiles[key];
        await writeSized(mirrors[mirrorId]!.root, f.path, f.size, f.mtime);
      },
      originFiles,
      async changeOriginFile(key, size, mtime) {
        const f = originFiles[key];
        await writeSized(originRoot, f.path, size, mtime);
        originFiles[key] = { path: f.path, size, mtime };
        await writeManifest();
      },
      async setOriginTrace(epochSeconds) {
        await writeTrace(originRoot, epochSeconds);
      },
      async startRsyncDaemon(root) {
        const daemon = await startRsyncDaemon(path.join(dir, `rsyncd-${daemons.size}`), root);
        daemons.add(daemon);
        return daemon;
      },
      clearLogs() {
        for (const s of fileServers) s.clearLog();
      },
      async close() {
        for (const s of [...servers]) {
          servers.delete(s);
          await s.close().catch(() => {});
        }
        for (const d of daemons) d.stop();
        daemons.clear();
        for (const s of fileServers) await s.close().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
    return network;
  } catch (err) {
    for (const s of servers) await s.close().catch(() => {});
    for (const d of daemons) d.stop();
    for (const s of fileServers) await s.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

export function xff(who: ClientIpKey | string): string {
  return who in CLIENT_IPS ? CLIENT_IPS[who as ClientIpKey].ip : who;
}

export function downloadTarget(key: CFileKey): string {
  return `/download/${encodePath(CFILES[key].path)}`;
}

/** Where a tool would be sent now (HEAD: a look, not a counted download); '(origin)' when to the origin. */
export async function choice(base: string, who: ClientIpKey | string, key: CFileKey = 'readme'): Promise<string> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { method: 'HEAD', headers: { Accept: '*/*', 'X-Forwarded-For': xff(who) }, redirect: 'manual' });
  if (res.status !== 302) throw new Error(`HEAD ${downloadTarget(key)} answered ${res.status}`);
  return res.headers.get('x-mirrorgate-mirror') ?? '(origin)';
}

/** A counted download by a tool: GET → 302. */
export async function download(
  base: string,
  who: ClientIpKey | string,
  key: CFileKey = 'readme',
): Promise<{ status: number; mirror: string | null; location: string | null }> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { headers: { Accept: '*/*', 'X-Forwarded-For': xff(who) }, redirect: 'manual' });
  await res.arrayBuffer();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror'), location: res.headers.get('location') };
}

export interface MirrorRow {
  id: string;
  status: string;
  reason: string | null;
  lagSeconds: number | null;
  lastSync: string | null;
  latencyMs: number | null;
  weight: number;
  files: number;
  share: number;
}

let mirrorsCalls = 0;
/** GET /mirrors as JSON; each call from another client address (X-Forwarded-For) so the public rate limit never bites. */
export async function mirrorsJson(base: string): Promise<Record<string, MirrorRow>> {
  const n = mirrorsCalls++;
  const res = await fetch(`${base}/mirrors`, {
    headers: { Accept: 'application/json', 'X-Forwarded-For': `198.51.${Math.floor(n / 250) % 250}.${(n % 250) + 1}` },
  });
  if (res.status !== 200) throw new Error(`/mirrors answered ${res.status}`);
  const body = (await res.json()) as { mirrors: MirrorRow[] };
  return Object.fromEntries(body.mirrors.map((m) => [m.id, m]));
}

export interface JsonReply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A staff API call. */
export async function staffCall(base: string, method: string, target: string, body?: unknown): Promise<JsonReply> {
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${STAFF_TOKEN}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}${target}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Whether CI demands the test run (then a missing Redis or binary is a failure, not a skip). */
export const IN_CI = process.env.CI === 'true';

/** Whether a program is on PATH. */
export async function haveProgram(name: string, args: string[] = ['--version']): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(name, args, { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

// ---------------------------------------------------------------------------------------------
// A redis-server of our own, to stop and restart under running instances

export interface RedisServerProcess {
  port: number;
  url: string;
  /** Kills it (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** Kills it if running (afterAll). */
  stop(): Promise<void>;
}

export async function startRedisServer(dir: string): Promise<RedisServerProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr}`);
      if (await pingRedis(`redis://127.0.0.1:${port}`)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${stderr}`);
      await sleep(25);
    }
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };
  await launch();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: launch, stop: kill };
}

export async function pingRedis(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Each mirror's health record as the server holds it, for assertion messages. */
export function healthFacts(server: RunningServer): string {
  return server.control
    .mirrors()
    .map((m) => {
      const h = server.control.healthOf(m.id);
      return `${m.id}: ${h ? `${h.health} f=${h.consecutiveFailures} s=${h.consecutiveSuccesses}${h.reason ? ` (${h.reason})` : ''}${h.lagSeconds ? ` lag=${h.lagSeconds}` : ''}${h.missing ? ` missing=${h.missing.join(',')}` : ''}` : 'unprobed'}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy, to cut one instance off Redis while the others keep it

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: TcpServer | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = createTcpServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
