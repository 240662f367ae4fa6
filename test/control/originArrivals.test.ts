// A file copied into the origin with an old mtime kept (rsync -a, cp -p) is new to every mirror that synced
// before it came: served from the origin until a mirror's trace says it synced since, on every instance
// and after a restart — never a redirect to a mirror that lacks it.
import { appendFile, copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OriginArrivals } from '../../src/control/originArrivals.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { Logger } from '../../src/core/logger.js';
import { serve, type RunningServer } from '../../src/node.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { CONTROL_SETUP, healthFacts, MTIME, startNetwork, STEADY_HEALTH, TRACE_TIME, type ControlNetwork, type FixtureFile } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { choice } from '../support/requests.js';
import { waitFor } from '../support/wait.js';

const REDIS_DB = 10;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'originArrivals: two instances sharing Redis');

/** Puts the origin's copy of an added file on a mirror, mtime and all. */
async function copyTo(net: ControlNetwork, mirrorId: string, f: FixtureFile): Promise<void> {
  const target = path.join(net.mirrors[mirrorId]!.root, ...f.path.split('/'));
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(f.local, target);
  await utimes(target, f.mtime, f.mtime);
}

/** Who a client in `country` is sent to for `p`, once the answer is `want` (5 s at most); the last answer otherwise. */
async function settlesOn(s: RunningServer, country: string, p: string, want: string): Promise<string> {
  let last = '';
  await waitFor(async () => (last = await choice(s.url, country, p)) === want, { timeoutMs: 5_000 });
  return last;
}

describe('a file that arrives at the origin with an old mtime', () => {
  let net: ControlNetwork;
  let server: RunningServer;
  let fresh: FixtureFile;
  const dataDir = () => net.dataDir('arrivals');

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    server = await net.startServer({ dataDir: dataDir(), health: STEADY_HEALTH });
    const up = await waitFor(() => ['de-near', 'fr-far', 'us-far'].every((id) => server.control.healthOf(id)?.lastSync === TRACE_TIME), {
      timeoutMs: 10_000,
    });
    if (up === undefined) throw new Error(`mirrors not all up with their trace: ${healthFacts(server)}`);
    // Every mirror's rules cover pub/**, and each synced at TRACE_TIME, after the mtime it will carry.
    fresh = await net.addOriginFile('pub/releases/app-2.0.tar.gz', randomBytes(7_001));
    expect(fresh.mtime).toBe(MTIME);
    await server.control.refreshOrigin();
  });
  afterAll(async () => {
    await net?.close();
  });

  it('is served from the origin as soon as it is in the manifest, not 404 until the next refresh', async () => {
    const now = await net.addOriginFile('pub/releases/app-2.1.tar.gz', randomBytes(1_234));
    // No refresh driven here, and the next timed one is seconds away: the miss itself looks at the manifest.
    const res = await fetch(`${server.url}/download/${now.path}`, { redirect: 'manual', headers: { 'X-Forwarded-For': '130.133.1.1' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(net.origin.baseUrl + now.path);
    // A path the origin does not have is still a 404.
    expect((await fetch(`${server.url}/download/pub/releases/none.tar.gz`, { redirect: 'manual' })).status).toBe(404);
    // The public file API looks too.
    await new Promise((r) => setTimeout(r, 300)); // past the quarter second between looks
    const later = await net.addOriginFile('pub/releases/app-2.2.tar.gz', randomBytes(1_235));
    const facts = await fetch(`${server.url}/api/v1/files/${later.path}`);
    expect(facts.status).toBe(200);
    expect(await facts.json()).toMatchObject({ path: later.path, size: 1_235, mirrors: [] });
  });

  it('goes to the origin, not to mirrors whose last sync is older than its arrival', async () => {
    for (const country of ['DE', 'FR', 'US']) expect(await choice(server.url, country, fresh.path)).toBe('origin');
    const res = await fetch(`${server.url}/download/${fresh.path}?mirrorlist`, { headers: { Accept: 'application/json', 'X-Forwarded-For': '130.133.1.1' } });
    const list = (await res.json()) as { mirrors: unknown[]; excluded: { id: string; reason: string }[] };
    expect(list.mirrors).toEqual([]);
    expect(list.excluded.map((e) => e.reason)).toEqual(['missing-file', 'missing-file', 'missing-file']);
    // Files the origin had all along stay on their mirrors.
    expect(await choice(server.url, 'DE', 'readme')).toBe('de-near');
  });

  it('goes to a mirror once its trace says it synced after the file arrived', async () => {
    await copyTo(net, 'de-near', fresh);
    await net.setTrace('de-near', Math.floor(Date.now() / 1000) + 1);
    expect(await settlesOn(server, 'DE', fresh.path, 'de-near'), healthFacts(server)).toBe('de-near');
    // The others still have not synced since.
    expect(await choice(server.url, 'FR', fresh.path)).toBe('de-near');
  });

  it('is remembered across a restart: a mirror that has not synced since is still passed over', async () => {
    await net.stopServer(server);
    server = await net.startServer({ dataDir: dataDir(), health: STEADY_HEALTH });
    const up = await waitFor(() => server.control.healthOf('fr-far')?.lastSync === TRACE_TIME && server.control.healthOf('de-near')?.health === 'up', {
      timeoutMs: 10_000,
    });
    expect(up, healthFacts(server)).toBeDefined();
    // In the index from the first load now, with its old mtime: only the arrival the store kept holds fr-far back.
    expect(await settlesOn(server, 'DE', fresh.path, 'de-near')).toBe('de-near');
    expect(await choice(server.url, 'FR', fresh.path)).toBe('de-near');
    expect(await choice(server.url, 'FR', 'readme')).toBe('fr-far');
  });
});

describe.skipIf(skipRedis)('arrivals on two instances sharing Redis', () => {
  let net: ControlNetwork;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    net = await startNetwork(CONTROL_SETUP);
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    a = await net.startServer({ env, health: STEADY_HEALTH });
  });
  afterAll(async () => {
    await net?.close();
    await flushRedis(REDIS_DB).catch(() => undefined);
  });

  it('an instance started after the file arrived holds it back from unsynced mirrors as the first does', async () => {
    expect(await waitFor(() => a.control.healthOf('de-near')?.lastSync === TRACE_TIME, { timeoutMs: 10_000 }), healthFacts(a)).toBeDefined();
    const fresh = await net.addOriginFile('pub/releases/app-3.0.tar.gz', randomBytes(4_001));
    await a.control.refreshOrigin();
    expect(await choice(a.url, 'DE', fresh.path)).toBe('origin');
    // b loads the manifest with the file in it: its mtime alone would vouch for every mirror.
    b = await net.startServer({ env: { REDIS_URL: redisUrl(REDIS_DB) }, health: STEADY_HEALTH });
    expect(await waitFor(() => b.control.healthOf('de-near')?.lastSync === TRACE_TIME, { timeoutMs: 10_000 }), healthFacts(b)).toBeDefined();
    for (const country of ['DE', 'FR', 'US']) expect(await choice(b.url, country, fresh.path)).toBe('origin');
    expect(await choice(b.url, 'DE', 'readme')).toBe('de-near');
  });
});

describe('a file that leaves the index and comes back', () => {
  it('is a fresh arrival, in the store too: mirrors that synced while it was away deleted their copies', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-arrivals-'));
    const store = await MemoryStore.open({ dataDir: dir, log: { warn: () => undefined, error: () => undefined } });
    try {
      const quiet: Logger = { info() {}, warn() {}, error() {} };
      let now = 1_800_000_000_000;
      const arrivals = new OriginArrivals(store, quiet, () => now);
      const file = (n: number, mtime = MTIME) => ({ path: `pub/f${n}.bin`, size: 100 + n, mtime });
      const full = FileIndex.from([file(0), file(1), file(2)]);
      const without = FileIndex.from([file(0), file(2)]);
      now += 5_000;
      const first = await arrivals.after(full, { files: without, since: now });
      expect([...first.knownArrivals()]).toEqual([]);
      const goneAt = Math.ceil(now / 1000);
      expect(await store.getArrivals(0)).toEqual([{ path: 'pub/f1.bin', size: 101, mtime: MTIME, sha256: null, at: goneAt, isNew: false, gone: true }]);
      now += 60_000;
      const back = await arrivals.after(first, { files: full, since: now });
      const at = Math.ceil(now / 1000);
      expect([...back.knownArrivals()]).toEqual([{ file: 1, at, isNew: true }]);
      expect(back.syncKey(1)).toBe(at);
      // Another instance, or this one after a restart, reads the same.
      const restarted = await new OriginArrivals(store, quiet, () => now).atStart(FileIndex.from([file(0), file(1), file(2)]));
      expect([...restarted.knownArrivals()]).toEqual([{ file: 1, at, isNew: true }]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a file just put into a local origin tree (`origin.root`)', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mg-root-miss-'));
    await mkdir(path.join(dir, 'pub', 'pub'), { recursive: true });
    await writeFile(path.join(dir, 'pub', 'pub', 'old.txt'), 'old\n');
    // An hour old: the mirror's rules vouch for the tree as first indexed, and the new file comes later.
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    await utimes(path.join(dir, 'pub', 'pub', 'old.txt'), hourAgo, hourAgo);
    await writeFile(
      path.join(dir, 'mirrorgate.yaml'),
      `publicUrl: http://127.0.0.1
dataDir: ./var
origin: { baseUrl: "https://origin.example/", root: pub }
health: { enabled: false }
mirrors:
  - { id: de, name: DE, baseUrl: "https://de.example/", country: DE }
`,
    );
    server = await serve({ configPath: path.join(dir, 'mirrorgate.yaml'), port: 0, hostname: '127.0.0.1', logLevel: 'silent', env: {} });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is served from the origin at once, not 404 until the next walk of the tree', async () => {
    const ask = (p: string) => fetch(`${server.url}/download/${p}`, { redirect: 'manual', headers: { 'X-Forwarded-For': '130.133.1.1' } });
    expect((await ask('pub/old.txt')).status).toBe(302);
    await writeFile(path.join(dir, 'pub', 'pub', 'new.txt'), 'new\n');
    const res = await ask('pub/new.txt');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://origin.example/pub/new.txt');
    expect((await ask('pub/none.txt')).status).toBe(404);
  });

  it('serves a second file put in a moment after the first was asked for (within the quarter second between looks)', async () => {
    const ask = (p: string) => fetch(`${server.url}/download/${p}`, { redirect: 'manual', headers: { 'X-Forwarded-For': '130.133.1.1' } });
    await writeFile(path.join(dir, 'pub', 'pub', 'first.txt'), '1\n');
    expect((await ask('pub/first.txt')).status).toBe(302);
    await writeFile(path.join(dir, 'pub', 'pub', 'second.txt'), '2\n');
    const res = await ask('pub/second.txt');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://origin.example/pub/second.txt');
  });
});

describe('a scanned mirror whose trace moves', () => {
  let net: ControlNetwork;
  let server: RunningServer;
  const inventory = () => path.join(net.dir, 'de-near.jsonl');
  const line = (f: FixtureFile) => `${JSON.stringify({ path: f.path, size: f.size, mtime: f.mtime })}\n`;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    await writeFile(inventory(), Object.values(net.files).map(line).join(''));
    server = await net.startServer({
      health: STEADY_HEALTH,
      mutate: (config) => {
        const m = config.mirrors.find((x) => x.id === 'de-near')!;
        m.content = { ...(m.content as object), manifest: inventory() };
      },
    });
    const up = await waitFor(() => server.control.healthOf('de-near')?.lastSync === TRACE_TIME, { timeoutMs: 10_000 });
    if (up === undefined) throw new Error(`de-near not up with its trace: ${healthFacts(server)}`);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('is scanned again when it has synced, as Mirrorbits does: a new file reaches it without waiting for the scan round', async () => {
    const fresh = await net.addOriginFile('pub/releases/app-4.0.tar.gz', randomBytes(2_345));
    await server.control.refreshOrigin();
    // Its inventory (the manifest as read at start) does not list the file: the origin serves it.
    expect(await choice(server.url, 'DE', fresh.path)).toBe('origin');
    // The mirror syncs: the file, its manifest, then its trace.
    await copyTo(net, 'de-near', fresh);
    await appendFile(inventory(), line(fresh));
    await net.setTrace('de-near', Math.floor(Date.now() / 1000) + 1);
    // The scan rounds are an hour apart here: only the probe that sees the trace move can bring it.
    expect(await settlesOn(server, 'DE', fresh.path, 'de-near'), healthFacts(server)).toBe('de-near');
  });
});
