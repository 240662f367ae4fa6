// The one loopback mirror network for tests: an origin tree and its server, file-serving mirrors that fail on demand,
// and Mirrorgate instances in front (memory store or Redis, default or 200 ms probe rounds), with the extra mirrors,
// rsync daemons and redis-server a test asks for; close() stops them all and removes the folder.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, copyFile, link, mkdir, mkdtemp, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { serve, type RunningServer } from '../../src/node.js';
import { freePort, LoopbackFileServer } from './loopback.js';
import { startRedisServer, type RedisServerProcess } from './redis.js';
import { startRsyncDaemon, type RsyncDaemon } from './rsyncDaemon.js';
import { writeDemoConfig } from '../../scripts/demoConfig.js';

// The loopback servers a network is made of, for tests and scripts that stand up one of their own.
export { freePort, LoopbackFileServer, startTcpProxy, type LoggedRequest, type MirrorMode, type TcpProxy } from './loopback.js';

// ---------------------------------------------------------------------------------------------
// Files

/** Every origin file's mtime (2026-01-01T00:00:00Z), so mirror manifests can agree with the origin. */
export const MTIME = 1_767_225_600;

/**
 * Content of the trace file (origin.trace, default TIME) at the origin and on every mirror: one
 * sync after every file's mtime, so probes see zero lag and rules-only mirrors keep their files.
 */
export const TRACE_TIME = MTIME + 60;

/** One file of an origin tree as a network starts with it. */
export interface TreeFile {
  /** Origin path, decoded (as in the manifest). */
  readonly path: string;
  readonly size: number;
  /** Readable text rather than random bytes. */
  readonly text?: boolean;
  /** Listed in the origin manifest without a sha256. */
  readonly noHash?: boolean;
  /** Size of the older copy a plan's `stale` places (default: 100 bytes less). */
  readonly staleSize?: number;
}

export type Tree = Readonly<Record<string, TreeFile>>;

/** Size of the stale copy one mirror (us-east) holds of FILES.stale, and lists in its manifest. */
export const STALE_SIZE = 150_001;

/** The origin tree most tests start with: names that need encoding, a file only the origin has, one listed without a hash. */
export const FIXTURE_TREE = {
  readme: { path: 'pub/README.txt', size: 2_345, text: true },
  unicode: { path: 'pub/Ünïcode (2026)/file name.txt', size: 40_961, text: true },
  tarball: { path: 'pub/releases/v1.0/app-1.0.tar.gz', size: 1_048_583 },
  iso: { path: 'pub/images/tiny.iso', size: 3_000_017 },
  stale: { path: 'pub/releases/v1.0/stale.bin', size: 200_003, staleSize: STALE_SIZE },
  punctuation: { path: "pub/docs/a+b & c's (draft).txt", size: 5_001, text: true },
  originOnly: { path: 'incoming/only-on-origin.bin', size: 100_003 },
  nohash: { path: 'pub/misc/no-hash.txt', size: 777, text: true, noHash: true },
} as const satisfies Tree;

export type FileKey = keyof typeof FIXTURE_TREE;

/** FIXTURE_TREE's paths by key: keys name the files in tests. */
export const FILES = pathsOf(FIXTURE_TREE);

/**
 * The control-plane tests' tree: five small files whose sizes tell them apart. A key both trees
 * have names the same path in each, so the request helpers resolve a key whichever tree a network has.
 */
export const CFILES = {
  readme: { path: 'pub/README.txt', size: 1_000 },
  app10: { path: 'pub/releases/app-1.0.tar.gz', size: 5_003 },
  app11: { path: 'pub/releases/app-1.1.tar.gz', size: 6_007 },
  iso: { path: 'pub/images/tiny.iso', size: 20_011 },
  guide: { path: 'pub/docs/guide.txt', size: 3_001 },
} as const satisfies Tree;

export type CFileKey = keyof typeof CFILES;
export const ALL_FILES = Object.keys(CFILES) as CFileKey[];

function pathsOf<T extends Tree>(tree: T): { readonly [K in keyof T]: T[K]['path'] } {
  return Object.fromEntries(Object.entries(tree).map(([key, f]) => [key, f.path])) as { readonly [K in keyof T]: T[K]['path'] };
}

/** One file of the origin tree as the tests see it. */
export interface FixtureFile {
  /** Origin path, decoded (as in the manifest). */
  path: string;
  size: number;
  /** Whole seconds, as in the manifest. */
  mtime: number;
  /** Of the real bytes; the manifest omits it for a noHash file. */
  sha256: string;
  sha256Base64: string;
  /** Absolute path of the origin copy. */
  local: string;
}

function textContent(size: number, seed: string): Buffer {
  const line = `Mirrorgate fixture ${seed}: the quick brown fox jumps over the lazy dog. Ünïcödé ✓\n`;
  const buf = Buffer.alloc(size);
  let at = 0;
  while (at < size) at += buf.write(line, at);
  return buf;
}

export function sha256Hex(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Percent-encodes each segment like encodeURIComponent, keeping '/': how a redirect target must look. */
export function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/**
 * Writes a file under `root` with the given mtime. It replaces the file (write aside, rename), never writes
 * into it: mirror copies are hard links to the origin's where they can be.
 */
async function writeTreeFile(root: string, relPath: string, data: Buffer, mtime: number): Promise<string> {
  const local = path.join(root, ...relPath.split('/'));
  await mkdir(path.dirname(local), { recursive: true });
  const aside = `${local}.new`;
  await writeFile(aside, data);
  await utimes(aside, mtime, mtime);
  await rename(aside, local);
  return local;
}

/** Writes `size` random bytes at `relPath` under `root`, with the given mtime. */
export async function writeSized(root: string, relPath: string, size: number, mtime: number): Promise<void> {
  await writeTreeFile(root, relPath, randomBytes(size), mtime);
}

async function placeCopy(file: FixtureFile, root: string): Promise<void> {
  const to = path.join(root, ...file.path.split('/'));
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await link(file.local, to);
  } catch {
    await copyFile(file.local, to);
    await utimes(to, file.mtime, file.mtime);
  }
}

function fixtureFile(relPath: string, data: Buffer, mtime: number, local: string): FixtureFile {
  return {
    path: relPath,
    size: data.length,
    mtime,
    sha256: sha256Hex(data),
    sha256Base64: createHash('sha256').update(data).digest('base64'),
    local,
  };
}

// ---------------------------------------------------------------------------------------------
// Mirrors

/** A mirror as a network configures it, and what is placed on its disk. */
export interface MirrorPlan<K extends string = FileKey> {
  id: string;
  /** Default: "Mirror <id>". */
  name?: string;
  country: string;
  lat: number;
  lon: number;
  weight?: number;
  countryOnly?: boolean;
  sponsor?: { name: string; url?: string; logo?: boolean };
  /** content.include; default pub/** (the published tree), or none for a mirror with a manifest. */
  include?: string[];
  exclude?: string[];
  /** Write a mirror manifest listing what it holds (stale copies at their stale size). */
  manifest?: boolean;
  /** Files placed on its disk as the origin has them (default: every file of the tree). */
  holds?: readonly K[];
  /** Files it holds an older, different-size copy of. */
  stale?: readonly K[];
}

const ALL_PUB: FileKey[] = ['readme', 'unicode', 'tarball', 'iso', 'stale', 'punctuation', 'nohash'];

/**
 * The fixture tree's network. routing.bandKm is 50 so "nearest" is deterministic except where two
 * mirrors stand in the same place on purpose (the Tokyo pair, weighted 3:1).
 */
export const MIRROR_PLANS: readonly MirrorPlan<FileKey>[] = [
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
    stale: ['stale'],
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

/** Where control-plane tests stand their mirrors: a capital of each country. */
const CAPITALS = {
  DE: { lat: 52.52, lon: 13.405 },
  FR: { lat: 48.857, lon: 2.352 },
  US: { lat: 42.36, lon: -71.06 },
  SE: { lat: 59.33, lon: 18.07 },
  NO: { lat: 59.91, lon: 10.75 },
  GB: { lat: 51.51, lon: -0.13 },
} as const;

/** A mirror of the control tree in a country's capital, with `over` for what else it is. */
export function mirrorIn(id: string, country: keyof typeof CAPITALS, over: Partial<MirrorPlan<CFileKey>> = {}): MirrorPlan<CFileKey> {
  return { id, country, ...CAPITALS[country], ...over };
}

/** The control tree's network: a client in Germany goes to de-near, and to fr-far when de-near is out. */
export const CONTROL_PLANS: readonly MirrorPlan<CFileKey>[] = [mirrorIn('de-near', 'DE'), mirrorIn('fr-far', 'FR'), mirrorIn('us-far', 'US')];

const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80"><rect width="240" height="80" fill="#c33"/></svg>\n';

// ---------------------------------------------------------------------------------------------
// Mirrorgate

/** Bearer tokens the network's config grants (literal values; servers run with the env a test gives). */
export const STAFF_TOKEN = 'staff-token-for-integration-tests';
/** Owns de-berlin; granted where the network has that mirror. */
export const PROVIDER_TOKEN = 'provider-token-for-integration-tests';
/** A token no config grants. */
export const WRONG_TOKEN = 'not-a-token-anyone-was-given';

/** Probe settings of `probes: 'fast'`: a test sees several rounds a second. */
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

/** The YAML config as a plain object, for a test to edit before a server starts on it. */
export type RawConfig = Record<string, unknown> & { mirrors: Record<string, unknown>[] };

/**
 * The bundled demo network, as page tests serve it: a copy of its config with a dataDir of its own, so
 * test files (and a developer's `npm start`) can run it side by side; the folder goes when it closes.
 */
export async function serveDemo(opts: { env?: Record<string, string> } = {}): Promise<RunningServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mg-demo-'));
  const server = await serveConfig(await writeDemoConfig(dir), opts);
  return {
    ...server,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Mirrorgate on a config file, listening on 127.0.0.1 (a free port unless given), logging nothing. */
export function serveConfig(configPath: string, opts: { port?: number; env?: Record<string, string> } = {}): Promise<RunningServer> {
  return serve({ configPath, port: opts.port ?? 0, hostname: '127.0.0.1', logLevel: 'silent', env: opts.env ?? {} });
}

export interface ServerOptions {
  /** Where its memory store lives; reuse one to restart "the same" server. Default: a fresh folder. */
  dataDir?: string;
  /** The whole env serve() sees (e.g. { REDIS_URL }, { MIRRORGATE_FAST_PATH: 'off' }). */
  env?: Record<string, string>;
  /** Merged over the network's `health` section (FAST_HEALTH with probes: 'fast'). */
  health?: Record<string, unknown>;
  /** Edits the config before it is written. */
  mutate?: (config: RawConfig) => void;
  /** Serve the first Mirrorgate's config file as it is (its dataDir and publicUrl too). */
  sameConfig?: boolean;
}

export interface NetworkOptions<T extends Tree> {
  /** The origin tree (default FIXTURE_TREE). */
  tree?: T;
  /** The mirrors (default MIRROR_PLANS, which are the fixture tree's). */
  plans?: readonly MirrorPlan<keyof T & string>[];
  /** 'fast': probe rounds every 200 ms (FAST_HEALTH) and the scan settings control-plane tests expect. */
  probes?: 'default' | 'fast';
  /** The first Mirrorgate, started with the network (net.url); false: none, the test starts its own. */
  mirrorgate?: ServerOptions | false;
}

/** What control-plane tests start: the control tree's three mirrors, fast probes, and no Mirrorgate until the test starts one on the store it chooses. */
/**
 * For tests about a file, a lag or a trace rather than an outage: longer probe timeouts and more failures
 * before down, so a loaded test machine timing out a probe or two cannot take healthy mirrors out of
 * routing. Such tests wait for the health record's own reason, so the longer interval costs only time.
 */
export const STEADY_HEALTH = { interval: '400ms', timeout: '350ms', failuresToDown: 6 };

export const CONTROL_SETUP = { tree: CFILES, plans: CONTROL_PLANS, probes: 'fast', mirrorgate: false } as const satisfies NetworkOptions<typeof CFILES>;

export interface MirrorNetwork<K extends string = FileKey> {
  /** The network's folder (origin, mirrors, configs, data): removed by close(). */
  dir: string;
  origin: LoopbackFileServer;
  /** The origin manifest (JSON lines). */
  originManifest: string;
  mirrors: Record<string, LoopbackFileServer>;
  /** The mirror entries written to every config (edit before starting a server to add rsyncUrl and such). */
  mirrorEntries: Record<string, unknown>[];
  /** The origin's current version of each file. */
  files: Record<K, FixtureFile>;
  /** The first Mirrorgate (these four throw for a network started with mirrorgate: false). */
  readonly server: RunningServer;
  /** Its URL, e.g. http://127.0.0.1:12345 (also its publicUrl). */
  readonly url: string;
  readonly config: RunningServer['config'];
  readonly configPath: string;
  /** Starts another Mirrorgate in front of the network (stopped by close()). */
  startServer(opts?: ServerOptions): Promise<RunningServer>;
  /** Stops one server started here: in-flight requests finish, stats are flushed, the store is closed (idempotent). */
  stopServer(server: RunningServer): Promise<void>;
  /** Writes a config for a server the test starts itself (another process, say), on a free port and a fresh dataDir unless given. */
  writeConfig(opts?: Pick<ServerOptions, 'dataDir' | 'health' | 'mutate'>): Promise<{ file: string; port: number; dataDir: string }>;
  /** A dataDir under the network's folder, by name. */
  dataDir(name: string): string;
  /** Another file server on the origin tree (on `port` if given), for a mirror a test adds at runtime (stopped by close()). */
  extraMirror(id: string, port?: number): Promise<LoopbackFileServer>;
  /** A real rsync daemon on loopback serving `root` as a module of a random name (see its `url`). */
  startRsyncDaemon(root: string): Promise<RsyncDaemon>;
  /** A redis-server of the test's own, to kill and restart under running instances. */
  startRedisServer(): Promise<RedisServerProcess>;
  /** Adds a file to the origin tree and appends it to the origin manifest. */
  addOriginFile(relPath: string, data: Buffer): Promise<FixtureFile>;
  /**
   * Publishes a new version of a file at the origin (these bytes, or this many random ones, and a new mtime)
   * and rewrites the origin manifest atomically; mirrors keep their old copies. Updates `files[key]`.
   */
  changeOriginFile(key: K, content: Buffer | number, mtime: number): Promise<FixtureFile>;
  /** Writes the origin's trace file (epoch seconds). */
  setOriginTrace(epochSeconds: number): Promise<void>;
  /** Writes a mirror's trace file (epoch seconds). */
  setTrace(mirrorId: string, epochSeconds: number): Promise<void>;
  /** Deletes a mirror's copy of a file. */
  removeFile(mirrorId: string, key: K): Promise<void>;
  /** Puts a copy of the origin's current version of a file on a mirror. */
  placeFile(mirrorId: string, key: K): Promise<void>;
  /** Clears every file server's request log. */
  clearLogs(): void;
  close(): Promise<void>;
}

/** The network a control-plane test starts (CONTROL_SETUP). */
export type ControlNetwork = MirrorNetwork<CFileKey>;

/**
 * Starts a network in a fresh folder: the origin tree on a file server, a file server per mirror plan with
 * its copies, and (unless `mirrorgate: false`) a first Mirrorgate in front. startNetwork() is the fixture
 * network most tests use; startNetwork(CONTROL_SETUP) the control-plane tests' one.
 */
export async function startNetwork<T extends Tree = typeof FIXTURE_TREE>(opts: NetworkOptions<T> = {}): Promise<MirrorNetwork<keyof T & string>> {
  type K = keyof T & string;
  const tree: Tree = opts.tree ?? FIXTURE_TREE;
  if (opts.tree && opts.tree !== (FIXTURE_TREE as Tree) && !opts.plans) throw new Error('startNetwork: a tree of its own needs plans of its own');
  const plans = (opts.plans ?? MIRROR_PLANS) as readonly MirrorPlan<K>[];
  const fast = opts.probes === 'fast';
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-net-'));
  // mkdtemp makes the folder 0700; an rsync daemon that drops privileges must still traverse it.
  await chmod(dir, 0o755);
  const servers = new Set<RunningServer>();
  const fileServers: LoopbackFileServer[] = [];
  const daemons: RsyncDaemon[] = [];
  const redisServers: RedisServerProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of [...servers].reverse()) {
      servers.delete(s);
      await s.close().catch(() => {});
    }
    for (const d of daemons.splice(0)) d.stop();
    for (const r of redisServers.splice(0)) await r.stop().catch(() => {});
    for (const s of fileServers.splice(0)) await s.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  const startFileServer = async (id: string, root: string, port?: number): Promise<LoopbackFileServer> => {
    const server = new LoopbackFileServer(id, root);
    await server.start(port);
    fileServers.push(server);
    return server;
  };
  const writeTrace = async (root: string, epochSeconds: number): Promise<void> => {
    const file = path.join(root, 'TIME');
    await mkdir(root, { recursive: true });
    await writeFile(`${file}.new`, `${epochSeconds}\n`);
    await rename(`${file}.new`, file);
  };
  try {
    // Origin tree and manifest.
    const originRoot = path.join(dir, 'origin');
    const files = {} as Record<K, FixtureFile>;
    for (const [key, f] of Object.entries(tree) as [K, TreeFile][]) {
      const data = f.text ? textContent(f.size, key) : randomBytes(f.size);
      files[key] = fixtureFile(f.path, data, MTIME, await writeTreeFile(originRoot, f.path, data, MTIME));
    }
    const added: FixtureFile[] = [];
    const originManifest = path.join(dir, 'origin.jsonl');
    const noHash = new Set(Object.values(tree).flatMap((f) => (f.noHash ? [f.path] : [])));
    const manifestLine = (f: FixtureFile) =>
      `${JSON.stringify(noHash.has(f.path) ? { path: f.path, size: f.size, mtime: f.mtime } : { path: f.path, size: f.size, mtime: f.mtime, sha256: f.sha256 })}\n`;
    const writeManifest = async (): Promise<void> => {
      // Atomic, so the watcher never reads a half-written manifest.
      await writeFile(`${originManifest}.new`, [...Object.values<FixtureFile>(files), ...added].map(manifestLine).join(''));
      await rename(`${originManifest}.new`, originManifest);
    };
    await writeManifest();
    await writeTrace(originRoot, TRACE_TIME);
    const origin = await startFileServer('origin', originRoot);

    // Mirrors: each its own tree (hard links where possible); stale copies are real different bytes.
    const mirrors: Record<string, LoopbackFileServer> = {};
    const mirrorEntries: Record<string, unknown>[] = [];
    for (const plan of plans) {
      const root = path.join(dir, 'mirrors', plan.id);
      await writeTrace(root, TRACE_TIME);
      const inventory: { path: string; size: number; mtime: number }[] = [];
      for (const key of plan.holds ?? (Object.keys(tree) as K[])) {
        await placeCopy(files[key], root);
        inventory.push({ path: files[key].path, size: files[key].size, mtime: MTIME });
      }
      for (const key of plan.stale ?? []) {
        const f = tree[key]!;
        const older = MTIME - 86_400;
        const size = f.staleSize ?? f.size - 100;
        await writeSized(root, f.path, size, older);
        inventory.push({ path: f.path, size, mtime: older });
      }
      const server = await startFileServer(plan.id, root);
      mirrors[plan.id] = server;

      const content: Record<string, unknown> = {};
      const include = plan.include ?? (plan.manifest ? undefined : ['pub/**']);
      if (include) content.include = include;
      if (plan.exclude) content.exclude = plan.exclude;
      if (plan.manifest) {
        const manifestPath = path.join(dir, 'manifests', `${plan.id}.jsonl`);
        await mkdir(path.dirname(manifestPath), { recursive: true });
        await writeFile(manifestPath, inventory.map((e) => `${JSON.stringify(e)}\n`).join(''));
        content.manifest = manifestPath;
      }
      const entry: Record<string, unknown> = {
        id: plan.id,
        name: plan.name ?? `Mirror ${plan.id}`,
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
          await mkdir(path.dirname(logo), { recursive: true });
          await writeFile(logo, LOGO_SVG);
          sponsor.logo = logo;
        }
        entry.sponsor = sponsor;
      }
      if (Object.keys(content).length > 0) entry.content = content;
      mirrorEntries.push(entry);
    }

    const tokens: Record<string, unknown>[] = [{ token: STAFF_TOKEN, role: 'staff', name: 'ops' }];
    if (mirrors['de-berlin']) tokens.push({ token: PROVIDER_TOKEN, role: 'provider', mirrors: ['de-berlin'], name: 'spree' });
    let configs = 0;
    const writeConfig: MirrorNetwork<K>['writeConfig'] = async (o = {}) => {
      const n = configs++;
      // publicUrl must be the real address: aria2c follows the absolute rel=describedby link.
      const port = await freePort();
      const dataDir = o.dataDir ?? path.join(dir, `var-${n}`);
      const health = { ...(fast ? FAST_HEALTH : {}), ...o.health };
      const config: RawConfig = {
        publicUrl: `http://127.0.0.1:${port}`,
        dataDir,
        // The test mirrors listen on 127.0.0.1 (and with fast probes are probed every 200 ms): what a production config may not do.
        allowPrivateMirrorAddresses: true,
        ...(fast ? { allowFastProbes: true } : {}),
        // The suites send many wrong tokens and offers from 127.0.0.1; these limits have tests of their own (hardening.test.ts).
        limits: { authFailures: 1_000, pendingOffersPerNetwork: 100 },
        origin: { baseUrl: origin.baseUrl, manifest: originManifest },
        routing: { bandKm: 50 },
        tokens: structuredClone(tokens),
        ...(Object.keys(health).length > 0 ? { health } : {}),
        ...(fast ? { scan: { interval: '1h', timeout: '20s' } } : {}),
        mirrors: structuredClone(mirrorEntries),
      };
      o.mutate?.(config);
      await mkdir(config.dataDir as string, { recursive: true });
      const file = path.join(dir, `mirrorgate-${n}.yaml`);
      await writeFile(file, stringify(config));
      return { file, port, dataDir: config.dataDir as string };
    };

    const launch = async (o: ServerOptions): Promise<{ server: RunningServer; configPath: string }> => {
      // A port freePort found free can be taken before the server binds it (test files run at once, and
      // their outgoing connections draw from the same range): then a new port, and config, once more.
      for (let attempt = 1; ; attempt++) {
        const { file, port } = o.sameConfig ? { file: main().configPath, port: await freePort() } : await writeConfig(o);
        try {
          const server = await serveConfig(file, { port, env: o.env });
          servers.add(server);
          return { server, configPath: file };
        } catch (err) {
          if (attempt < 3 && /EADDRINUSE/.test((err as Error).message)) continue;
          throw err;
        }
      }
    };
    let first: { server: RunningServer; configPath: string } | undefined;
    const main = (): { server: RunningServer; configPath: string } => {
      if (!first) throw new Error('this network was started without a Mirrorgate (mirrorgate: false): start one with startServer()');
      return first;
    };
    const network: MirrorNetwork<K> = {
      dir,
      origin,
      originManifest,
      mirrors,
      mirrorEntries,
      files,
      get server() {
        return main().server;
      },
      get url() {
        return main().server.url;
      },
      get config() {
        return main().server.config;
      },
      get configPath() {
        return main().configPath;
      },
      startServer: async (o = {}) => (await launch(o)).server,
      async stopServer(server) {
        if (!servers.delete(server)) return;
        await server.close();
      },
      writeConfig,
      dataDir: (name) => path.join(dir, `data-${name}`),
      extraMirror: (id, port) => startFileServer(id, originRoot, port),
      async startRsyncDaemon(root) {
        const daemon = await startRsyncDaemon(path.join(dir, `rsyncd-${daemons.length}`), root);
        daemons.push(daemon);
        return daemon;
      },
      async startRedisServer() {
        const redis = await startRedisServer(dir);
        redisServers.push(redis);
        return redis;
      },
      async addOriginFile(relPath, data) {
        const f = fixtureFile(relPath, data, MTIME, await writeTreeFile(originRoot, relPath, data, MTIME));
        await appendFile(originManifest, manifestLine(f));
        added.push(f);
        return f;
      },
      async changeOriginFile(key, content, mtime) {
        const data = typeof content === 'number' ? randomBytes(content) : content;
        const old = files[key];
        files[key] = fixtureFile(old.path, data, mtime, await writeTreeFile(originRoot, old.path, data, mtime));
        await writeManifest();
        return files[key];
      },
      setOriginTrace: (epochSeconds) => writeTrace(originRoot, epochSeconds),
      setTrace: (mirrorId, epochSeconds) => writeTrace(mirrors[mirrorId]!.root, epochSeconds),
      async removeFile(mirrorId, key) {
        await unlink(path.join(mirrors[mirrorId]!.root, ...files[key].path.split('/')));
      },
      async placeFile(mirrorId, key) {
        await placeCopy(files[key], mirrors[mirrorId]!.root);
      },
      clearLogs() {
        for (const s of fileServers) s.clearLog();
      },
      close: stopAll,
    };
    if (opts.mirrorgate !== false) first = await launch(opts.mirrorgate ?? {});
    return network;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// What tests ask of a running server and of this machine

/**
 * Probe rounds started so far on the network: each round reads the origin's trace once. Counting rounds
 * between an event and its effect measures in the control plane's own unit, which a loaded test machine
 * cannot stretch the way it stretches milliseconds.
 */
export function probeRounds(net: { origin: { requests: readonly { path?: string }[] } }): number {
  return net.origin.requests.filter((r) => r.path === '/TIME').length;
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
