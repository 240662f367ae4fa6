// A small, real mirror network on loopback for integration tests: an origin tree and server, file-serving mirrors that can fail on demand, and Mirrorgate in front.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, copyFile, link, mkdir, mkdtemp, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { serve, type RunningServer } from '../../src/node.js';

// ---------------------------------------------------------------------------------------------
// Files

/** One file of the origin tree as the tests see it. */
export interface FixtureFile {
  /** Origin path, decoded (as in the manifest). */
  path: string;
  size: number;
  /** Whole seconds, as in the manifest. */
  mtime: number;
  /** Of the real bytes; the manifest omits it for FILES.nohash. */
  sha256: string;
  sha256Base64: string;
  /** Absolute path of the origin copy. */
  local: string;
}

/** The same mtime for every fixture file, so mirror manifests can agree with the origin. */
export const FIXTURE_MTIME = 1_767_225_600; // 2026-01-01T00:00:00Z

/**
 * Content of the trace file (origin.trace, default TIME) at the origin and on every mirror: one
 * sync after every fixture file's mtime, so probes see zero lag and rules-only mirrors keep their files.
 */
export const TRACE_TIME = FIXTURE_MTIME + 60;

/** The origin tree every network starts with; keys name the files in tests. */
export const FILES = {
  readme: 'pub/README.txt',
  unicode: 'pub/Ünïcode (2026)/file name.txt',
  tarball: 'pub/releases/v1.0/app-1.0.tar.gz',
  iso: 'pub/images/tiny.iso',
  stale: 'pub/releases/v1.0/stale.bin',
  punctuation: "pub/docs/a+b & c's (draft).txt",
  originOnly: 'incoming/only-on-origin.bin',
  /** Listed in the origin manifest without a sha256. */
  nohash: 'pub/misc/no-hash.txt',
} as const;

export type FileKey = keyof typeof FILES;

const SIZES: Record<FileKey, number> = {
  readme: 2_345,
  unicode: 40_961,
  tarball: 1_048_583,
  iso: 3_000_017,
  stale: 200_003,
  punctuation: 5_001,
  originOnly: 100_003,
  nohash: 777,
};

/** Size of the stale copy one mirror (us-east) holds of FILES.stale, and lists in its manifest. */
export const STALE_SIZE = 150_001;

function textContent(size: number, seed: string): Buffer {
  const line = `Mirrorgate fixture ${seed}: the quick brown fox jumps over the lazy dog. Ünïcödé ✓\n`;
  const buf = Buffer.alloc(size);
  let at = 0;
  while (at < size) at += buf.write(line, at);
  return buf;
}

function contentFor(key: FileKey): Buffer {
  const size = SIZES[key];
  return key === 'readme' || key === 'unicode' || key === 'punctuation' || key === 'nohash' ? textContent(size, key) : randomBytes(size);
}

export function sha256Hex(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Percent-encodes each segment like encodeURIComponent, keeping '/': how a redirect target must look. */
export function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

async function writeFixture(root: string, relPath: string, data: Buffer, mtime: number): Promise<string> {
  const local = path.join(root, ...relPath.split('/'));
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, data);
  await utimes(local, mtime, mtime);
  return local;
}

async function placeCopy(from: string, root: string, relPath: string): Promise<void> {
  const to = path.join(root, ...relPath.split('/'));
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

// ---------------------------------------------------------------------------------------------
// File servers (origin and mirrors)

export type MirrorMode = 'ok' | 'down' | '404' | 'stall';

export interface LoggedRequest {
  method: string;
  /** Decoded path, starting with '/', query removed; undefined when it did not decode. */
  path: string | undefined;
  /** The request target exactly as received. */
  target: string;
  range: string | undefined;
  headers: IncomingHttpHeaders;
  /** Status sent, or 0 when none was (stall, down). */
  status: number;
}

/**
 * A static file server on 127.0.0.1 with Range and HEAD support, a log of every request and a
 * switch for failure modes: refuse connections ('down'), answer 404, or accept and never answer ('stall').
 */
export class LoopbackFileServer {
  readonly requests: LoggedRequest[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly stalled = new Set<ServerResponse>();
  private mode: MirrorMode = 'ok';
  private portNumber = 0;

  constructor(
    /** Mirror id, or 'origin'. */
    readonly id: string,
    /** Folder whose contents are served at '/'. */
    readonly root: string,
  ) {}

  get port(): number {
    return this.portNumber;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.portNumber}/`;
  }

  get currentMode(): MirrorMode {
    return this.mode;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.portNumber = (server.address() as AddressInfo).port;
  }

  /** Switches the failure mode; 'down' closes the listening socket, leaving 'down' listens again on the same port. */
  async setMode(mode: MirrorMode): Promise<void> {
    if (mode === this.mode) return;
    const wasDown = this.mode === 'down';
    this.mode = mode;
    if (mode === 'down') await this.stopListening();
    else if (wasDown) await this.start(this.portNumber);
    if (mode !== 'stall') {
      for (const res of this.stalled) res.destroy();
      this.stalled.clear();
    }
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  /** Requests (GET/HEAD) for one origin path. */
  requestsFor(originPath: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === `/${originPath}`);
  }

  async close(): Promise<void> {
    await this.stopListening();
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.stalled.clear();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '/';
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: decodeTarget(target),
      target,
      range: req.headers.range,
      headers: req.headers,
      status: 0,
    };
    this.requests.push(entry);
    if (this.mode === 'stall') {
      // Hold the socket open and never answer, like a wedged web server.
      this.stalled.add(res);
      return;
    }
    const send = (status: number, headers: Record<string, string | number> = {}, body?: string) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (this.mode === '404' || this.mode === 'down') return send(404, { 'Content-Type': 'text/plain' }, 'not here\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { Allow: 'GET, HEAD' });
    if (entry.path === undefined) return send(400, { 'Content-Type': 'text/plain' }, 'bad path\n');
    const local = path.join(this.root, ...entry.path.split('/').filter(Boolean));
    void stat(local).then(
      (st) => {
        if (!st.isFile()) return send(404, { 'Content-Type': 'text/plain' }, 'not a file\n');
        const common = {
          'Content-Type': 'application/octet-stream',
          'Accept-Ranges': 'bytes',
          'Last-Modified': st.mtime.toUTCString(),
          ETag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
        };
        const range = parseRange(req.headers.range, st.size);
        if (range === 'unsatisfiable') {
          return send(416, { 'Content-Range': `bytes */${st.size}` });
        }
        const [start, end] = range ?? [0, st.size - 1];
        const status = range ? 206 : 200;
        entry.status = status;
        const headers: Record<string, string | number> = { ...common, 'Content-Length': Math.max(0, end - start + 1) };
        if (range) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
        res.writeHead(status, headers);
        if (req.method === 'HEAD' || st.size === 0) return void res.end();
        createReadStream(local, { start, end })
          .on('error', () => res.destroy())
          .pipe(res);
      },
      () => send(404, { 'Content-Type': 'text/plain' }, 'no such file\n'),
    );
  }
}

/** '/a%20b/c' → '/a b/c'; undefined for traversal or undecodable targets (this server never leaves its root). */
function decodeTarget(target: string): string | undefined {
  const q = target.indexOf('?');
  const raw = q >= 0 ? target.slice(0, q) : target;
  if (!raw.startsWith('/')) return undefined;
  try {
    const segments = raw.split('/').map(decodeURIComponent);
    if (segments.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\') || s.includes('\0'))) return undefined;
    return segments.join('/');
  } catch {
    return undefined;
  }
}

/** A single byte range, clamped; undefined when absent or not a single range (then the whole file is sent). */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return [start, end];
}

// ---------------------------------------------------------------------------------------------
// The network

/** A mirror as the fixture configures it; `holds` lists the fixture files placed on its disk. */
export interface MirrorPlan {
  id: string;
  name: string;
  country: string;
  lat: number;
  lon: number;
  weight?: number;
  countryOnly?: boolean;
  sponsor?: { name: string; url?: string; logo?: boolean };
  include?: string[];
  exclude?: string[];
  /** Write a mirror manifest listing what it holds (stale copies at their stale size). */
  manifest?: boolean;
  holds: FileKey[];
  /** Files it holds an older, different-size copy of. */
  staleCopies?: FileKey[];
}

const ALL_PUB: FileKey[] = ['readme', 'unicode', 'tarball', 'iso', 'stale', 'punctuation', 'nohash'];

/**
 * The default network. routing.bandKm is 50 so "nearest" is deterministic except where two
 * mirrors stand in the same place on purpose (the Tokyo pair, weighted 3:1).
 */
export const MIRROR_PLANS: readonly MirrorPlan[] = [
  {
    id: 'de-berlin',
    name: 'Spree Hosting Berlin',
    country: 'DE',
    lat: 52.52,
    lon: 13.405,
    sponsor: { name: 'Spree Hosting GmbH', url: 'https://spree.example/', logo: true },
    include: ['pub/**'],
    holds: ALL_PUB,
  },
  {
    id: 'fr-paris',
    name: 'Seine Networks Paris',
    country: 'FR',
    lat: 48.857,
    lon: 2.352,
    sponsor: { name: 'Seine Networks' },
    include: ['pub/**'],
    exclude: ['**/*.iso'],
    holds: ['readme', 'unicode', 'tarball', 'stale', 'punctuation', 'nohash'],
  },
  {
    id: 'nl-ams',
    name: 'Amstel Only Amsterdam',
    country: 'NL',
    lat: 52.37,
    lon: 4.9,
    countryOnly: true,
    include: ['pub/**'],
    holds: ALL_PUB,
  },
  {
    id: 'us-east',
    name: 'Charles River Mirror Boston',
    country: 'US',
    lat: 42.36,
    lon: -71.06,
    manifest: true,
    holds: ['readme', 'unicode', 'tarball', 'punctuation'],
    staleCopies: ['stale'],
  },
  {
    id: 'br-sp',
    name: 'Paulista Mirror',
    country: 'BR',
    lat: -23.55,
    lon: -46.63,
    include: ['pub/**'],
    exclude: ['pub/docs/**'],
    holds: ['readme', 'unicode', 'tarball', 'iso', 'stale', 'nohash'],
  },
  {
    id: 'jp-tokyo-a',
    name: 'Tokyo A (heavy)',
    country: 'JP',
    lat: 35.68,
    lon: 139.69,
    weight: 300,
    include: ['pub/**'],
    holds: ALL_PUB,
  },
  {
    id: 'jp-tokyo-b',
    name: 'Tokyo B (light)',
    country: 'JP',
    lat: 35.68,
    lon: 139.69,
    weight: 100,
    include: ['pub/**'],
    holds: ALL_PUB,
  },
  {
    id: 'au-sydney',
    name: 'Harbour Mirror Sydney',
    country: 'AU',
    lat: -33.87,
    lon: 151.21,
    include: ['pub/releases/**', 'pub/images/**'],
    holds: ['tarball', 'iso', 'stale'],
  },
];

/** The YAML config as a plain object, for tests that start extra servers from a variant of it. */
export type RawConfig = Record<string, unknown> & { mirrors: Record<string, unknown>[] };

export interface StartOptions {
  /** Edits a copy of the base config before it is written. */
  mutate?: (config: RawConfig) => void;
  /** Serve the exact same config file as the main server. */
  sameConfig?: boolean;
  /** Environment of the server (e.g. MIRRORGATE_FAST_PATH=off). */
  env?: Record<string, string>;
}

export interface MirrorNetwork {
  /** Mirrorgate's URL, e.g. http://127.0.0.1:12345 (also its publicUrl). */
  url: string;
  server: RunningServer;
  config: RunningServer['config'];
  configPath: string;
  /** The base config as written (a fresh copy each time). */
  rawConfig(): RawConfig;
  mirrors: Record<string, LoopbackFileServer>;
  origin: LoopbackFileServer;
  originManifest: string;
  files: Record<FileKey, FixtureFile>;
  dir: string;
  /** Starts another Mirrorgate (closed by close()). */
  startServer(opts?: StartOptions): Promise<RunningServer>;
  /** Adds a file to the origin tree and appends it to the origin manifest. */
  addOriginFile(relPath: string, data: Buffer): Promise<FixtureFile>;
  /**
   * Publishes a new version of a fixture file at the origin (new bytes, new mtime) and rewrites the
   * origin manifest atomically; mirrors keep their old copies. Updates `files[key]`.
   */
  changeOriginFile(key: FileKey, data: Buffer, mtime: number): Promise<FixtureFile>;
  /** Clears every file server's request log. */
  clearLogs(): void;
  close(): Promise<void>;
}

/** Bearer tokens the fixture config grants (literal values; the server runs with an empty env). */
export const STAFF_TOKEN = 'staff-token-for-integration-tests';
export const PROVIDER_TOKEN = 'provider-token-for-integration-tests';

/** A port nobody listens on right now (bound and released), for publicUrl and dead https mirrors. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80"><rect width="240" height="80" fill="#c33"/></svg>\n';

export async function startMirrorNetwork(opts: { plans?: readonly MirrorPlan[] } = {}): Promise<MirrorNetwork> {
  const plans = opts.plans ?? MIRROR_PLANS;
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-net-'));
  const toClose: Array<() => Promise<void>> = [];
  try {
    // Origin tree and manifest.
    const originRoot = path.join(dir, 'origin');
    const files = {} as Record<FileKey, FixtureFile>;
    for (const key of Object.keys(FILES) as FileKey[]) {
      const data = contentFor(key);
      const local = await writeFixture(originRoot, FILES[key], data, FIXTURE_MTIME);
      files[key] = {
        path: FILES[key],
        size: data.length,
        mtime: FIXTURE_MTIME,
        sha256: sha256Hex(data),
        sha256Base64: createHash('sha256').update(data).digest('base64'),
        local,
      };
    }
    const originManifest = path.join(dir, 'origin.jsonl');
    const manifestLine = (f: FixtureFile) =>
      `${JSON.stringify(f.path === FILES.nohash ? { path: f.path, size: f.size, mtime: f.mtime } : { path: f.path, size: f.size, mtime: f.mtime, sha256: f.sha256 })}\n`;
    await writeFile(originManifest, Object.values(files).map(manifestLine).join(''));
    const added: FixtureFile[] = [];

    await writeFile(path.join(originRoot, 'TIME'), `${TRACE_TIME}\n`);
    const origin = new LoopbackFileServer('origin', originRoot);
    await origin.start();
    toClose.push(() => origin.close());

    // Mirrors: each its own tree (hard links where possible), stale copies are real different bytes.
    const mirrors: Record<string, LoopbackFileServer> = {};
    const mirrorEntries: Record<string, unknown>[] = [];
    await mkdir(path.join(dir, 'logos'), { recursive: true });
    for (const plan of plans) {
      const root = path.join(dir, 'mirrors', plan.id);
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, 'TIME'), `${TRACE_TIME}\n`);
      const inventory: { path: string; size: number; mtime: number }[] = [];
      for (const key of plan.holds) {
        await placeCopy(files[key].local, root, FILES[key]);
        inventory.push({ path: FILES[key], size: files[key].size, mtime: FIXTURE_MTIME });
      }
      for (const key of plan.staleCopies ?? []) {
        const older = FIXTURE_MTIME - 86_400;
        await writeFixture(root, FILES[key], randomBytes(STALE_SIZE), older);
        inventory.push({ path: FILES[key], size: STALE_SIZE, mtime: older });
      }
      const server = new LoopbackFileServer(plan.id, root);
      await server.start();
      toClose.push(() => server.close());
      mirrors[plan.id] = server;

      const content: Record<string, unknown> = {};
      if (plan.include) content.include = plan.include;
      if (plan.exclude) content.exclude = plan.exclude;
      if (plan.manifest) {
        const manifestPath = path.join(dir, 'manifests', `${plan.id}.jsonl`);
        await mkdir(path.dirname(manifestPath), { recursive: true });
        await writeFile(manifestPath, inventory.map((e) => `${JSON.stringify(e)}\n`).join(''));
        content.manifest = manifestPath;
      }
      const entry: Record<string, unknown> = {
        id: plan.id,
        name: plan.name,
        baseUrl: server.baseUrl,
        country: plan.country,
        lat: plan.lat,
        lon: plan.lon,
        weight: plan.weight ?? 100,
        countryOnly: plan.countryOnly ?? false,
      };
      if (plan.sponsor) {
        const sponsor: Record<string, unknown> = { name: plan.sponsor.name };
        if (plan.sponsor.url) sponsor.url = plan.sponsor.url;
        if (plan.sponsor.logo) {
          const logo = path.join(dir, 'logos', `${plan.id}.svg`);
          await writeFile(logo, LOGO_SVG);
          sponsor.logo = logo;
        }
        entry.sponsor = sponsor;
      }
      if (Object.keys(content).length > 0) entry.content = content;
      mirrorEntries.push(entry);
    }

    const baseConfig = (publicUrl: string, dataDir: string): RawConfig => ({
      publicUrl,
      dataDir,
      // The test mirrors listen on 127.0.0.1, which a production config may not name.
      allowPrivateMirrorAddresses: true,
      // The suites send many wrong tokens and offers from 127.0.0.1; these limits have tests of their own (hardening.test.ts).
      limits: { authFailures: 1_000, pendingOffersPerNetwork: 100 },
      origin: { baseUrl: origin.baseUrl, manifest: originManifest },
      routing: { bandKm: 50 },
      tokens: [
        { token: STAFF_TOKEN, role: 'staff', name: 'ops' },
        { token: PROVIDER_TOKEN, role: 'provider', mirrors: ['de-berlin'], name: 'spree' },
      ],
      mirrors: structuredClone(mirrorEntries),
    });

    let serverCount = 0;
    const writeConfig = async (port: number, mutate?: (c: RawConfig) => void): Promise<string> => {
      const n = serverCount++;
      const config = baseConfig(`http://127.0.0.1:${port}`, path.join(dir, `var-${n}`));
      mutate?.(config);
      const file = path.join(dir, `mirrorgate-${n}.yaml`);
      await writeFile(file, stringify(config));
      return file;
    };
    const startOn = async (configPath: string, port: number, env: Record<string, string> = {}): Promise<RunningServer> => {
      const running = await serve({ configPath, port, hostname: '127.0.0.1', logLevel: 'silent', env });
      toClose.unshift(() => running.close());
      return running;
    };

    // publicUrl must be the real address: aria2c follows the absolute rel=describedby link.
    const mainPort = await freePort();
    const configPath = await writeConfig(mainPort);
    const server = await startOn(configPath, mainPort);

    const network: MirrorNetwork = {
      url: server.url,
      server,
      config: server.config,
      configPath,
      rawConfig: () => baseConfig(server.config.publicUrl, server.config.dataDir),
      mirrors,
      origin,
      originManifest,
      files,
      dir,
      async startServer(startOpts: StartOptions = {}) {
        const port = await freePort();
        const file = startOpts.sameConfig ? configPath : await writeConfig(port, startOpts.mutate);
        return startOn(file, port, startOpts.env);
      },
      async addOriginFile(relPath: string, data: Buffer) {
        const local = await writeFixture(originRoot, relPath, data, FIXTURE_MTIME);
        const f: FixtureFile = {
          path: relPath,
          size: data.length,
          mtime: FIXTURE_MTIME,
          sha256: sha256Hex(data),
          sha256Base64: createHash('sha256').update(data).digest('base64'),
          local,
        };
        await appendFile(originManifest, manifestLine(f));
        added.push(f);
        return f;
      },
      async changeOriginFile(key: FileKey, data: Buffer, mtime: number) {
        const old = files[key];
        // Mirror copies may be hard links to the origin copy: replace the file, never write into it.
        const tmp = `${old.local}.new`;
        await writeFile(tmp, data);
        await utimes(tmp, mtime, mtime);
        await rename(tmp, old.local);
        const f: FixtureFile = {
          path: old.path,
          size: data.length,
          mtime,
          sha256: sha256Hex(data),
          sha256Base64: createHash('sha256').update(data).digest('base64'),
          local: old.local,
        };
        files[key] = f;
        // Atomic, so the watcher never reads a half-written manifest.
        const tmpManifest = `${originManifest}.new`;
        await writeFile(tmpManifest, [...Object.values(files), ...added].map(manifestLine).join(''));
        await rename(tmpManifest, originManifest);
        return f;
      },
      clearLogs() {
        origin.clearLog();
        for (const m of Object.values(mirrors)) m.clearLog();
      },
      async close() {
        for (const fn of toClose.splice(0)) await fn().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
    return network;
  } catch (err) {
    for (const fn of toClose) await fn().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP, for request targets fetch would normalise and for headers fetch forbids (Host)

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends `target` exactly as given (no dot-segment removal, no re-encoding). */
export function rawRequest(baseUrl: string, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: opts.method ?? 'GET',
        path: target,
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
