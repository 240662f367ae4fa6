// The edge as it runs in production, in real workerd: fresh after idle, shards through the Cache API, downloads counted on the control plane, logos from KV with the control plane down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotCore } from '../../src/core/snapshotShards.js';
import type { RunningServer } from '../../src/node.js';
import { encodePath, FILES, freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { header, rawRequest, readyz } from '../support/requests.js';
import { sleep, until } from '../support/wait.js';
import { cfBlob, edgeHeaders, SHARED_CASES } from './sharedCases.js';
import { countingProxy, startCacheStandIn, startEdge, startKvStandIn, type CacheStandIn, type CountingProxy, type EdgeRun, type KvStandIn } from './workerd.js';

const EDGE_TOKEN = 'edge-token-for-integration-tests';
const TTL_SECONDS = 1;

let net: MirrorNetwork;
/** The control plane of these Workers: the network's config plus an edge token. */
let plane: RunningServer;
let proxy: CountingProxy;
let cache: CacheStandIn;
let kv: KvStandIn;
let edgeRun: EdgeRun;

beforeAll(async () => {
  net = await startNetwork();
  plane = await net.startServer({ mutate: (c) => (c.tokens as unknown[]).push({ token: EDGE_TOKEN, role: 'edge', name: 'edge' }) });
  proxy = await countingProxy(plane.url);
  cache = await startCacheStandIn();
  kv = await startKvStandIn();
  // A generous wait budget: on a loaded test machine a loopback check must not miss it (the budget is the README's 300 ms in production).
  const common = {
    SNAPSHOT_TOKEN: EDGE_TOKEN,
    STAFF_TOKEN,
    SNAPSHOT_TTL_SECONDS: String(TTL_SECONDS),
    SNAPSHOT_WAIT_MS: '5000',
    STATS_FLUSH_SECONDS: '0.2',
    LOG_LEVEL: 'warn',
  };
  edgeRun = await startEdge(
    'test/edge/production',
    [
      // fresh and other: two isolates of one Worker (one public hostname: shared-cache keys live under it).
      { name: 'fresh', bindings: { ...common, CONTROL_URL: `${proxy.url}/fresh`, PUBLIC_URL: 'https://downloads.example.test' }, cache },
      // Gets its first request only after a drain: a cold isolate.
      { name: 'cold', bindings: { ...common, CONTROL_URL: `${proxy.url}/cold` } },
      // Another isolate of the same location as "fresh": the same Cache API storage.
      { name: 'other', bindings: { ...common, CONTROL_URL: `${proxy.url}/other`, PUBLIC_URL: 'https://downloads.example.test' }, cache },
      // KV mode, and no control plane it could ever reach.
      { name: 'kv', bindings: { ...common, CONTROL_URL: `http://127.0.0.1:${await freePort()}` }, kv },
    ],
    // A shard per file or so (8 shards), so shard traffic shows (read by the control plane per request).
    { shardFiles: '1' },
  );
});

afterAll(async () => {
  await edgeRun?.close();
  await proxy?.close();
  await cache?.close();
  await kv?.close();
  await net?.close();
});

const BERLIN = SHARED_CASES.find((x) => x.name === 'DE → Berlin')!;
const mirrorAt = async (name: string) => header(await rawRequest(edgeRun.url(name), BERLIN.target, { headers: edgeHeaders(BERLIN) }), 'x-mirrorgate-mirror');

const staff = { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'application/json' };
async function drain(on: boolean): Promise<void> {
  const res = await fetch(`${plane.url}/admin/v1/mirrors/de-berlin/${on ? 'drain' : 'undrain'}`, { method: 'POST', headers: staff, body: '{}' });
  expect(res.status).toBe(200);
  // The control plane applies a drain before it answers: from here on its snapshot has it.
}

describe('fresh after idle: a drain holds on the next request, whatever the isolate did before', () => {
  it('a warm isolate: every request sent a TTL after the drain avoids the drained mirror', async (ctx) => {
    edgeRun.need(ctx);
    expect(await mirrorAt('fresh')).toBe('de-berlin');
    // Steady traffic, a request every 100 ms, with the drain in the middle.
    const answers: { sentAt: number; mirror: string | undefined }[] = [];
    let drainedAt = Number.POSITIVE_INFINITY;
    const traffic = (async () => {
      const stop = Date.now() + 3_500;
      while (Date.now() < stop) {
        const sentAt = Date.now();
        answers.push({ sentAt, mirror: await mirrorAt('fresh') });
        await sleep(100);
      }
    })();
    await sleep(800);
    await drain(true);
    drainedAt = Date.now();
    await traffic;
    const after = answers.filter((a) => a.sentAt >= drainedAt + TTL_SECONDS * 1000);
    expect(after.length).toBeGreaterThan(5);
    expect(after.filter((a) => a.mirror === 'de-berlin')).toEqual([]);
    await drain(false);
    await until(async () => (await mirrorAt('fresh')) === 'de-berlin', 10_000, 'the undrain to reach the edge');
  });

  it('an idle isolate: after a quiet spell, the first request already avoids a mirror drained meanwhile', async (ctx) => {
    edgeRun.need(ctx);
    expect(await mirrorAt('fresh')).toBe('de-berlin');
    for (const idleMs of [1_500, 3_000]) {
      await sleep(idleMs);
      await drain(true);
      expect(await mirrorAt('fresh'), `first request after ${idleMs} ms idle`).not.toBe('de-berlin');
      await sleep(TTL_SECONDS * 1000 + 100);
      await drain(false);
      await sleep(idleMs);
      expect(await mirrorAt('fresh'), `first request after ${idleMs} ms idle, undrained`).toBe('de-berlin');
    }
    const r = await readyz(edgeRun.url('fresh'));
    // Each first request after an idle spell waited for its check; none answered from an old core.
    expect(r.snapshotRefreshWaits).toBeGreaterThanOrEqual(4);
    expect(r.snapshotStaleAnswers).toBe(0);
    expect(r).toMatchObject({ snapshotTtlSeconds: TTL_SECONDS, snapshotWaitBudgetMs: 5000, snapshotStaleLimitSeconds: 60 });
    expect(typeof r.snapshotAgeSeconds).toBe('number');
  });

  it('a cold isolate: its first request, after the drain, avoids the drained mirror', async (ctx) => {
    edgeRun.need(ctx);
    await drain(true);
    try {
      expect(await mirrorAt('cold')).not.toBe('de-berlin');
    } finally {
      await drain(false);
    }
    await sleep(TTL_SECONDS * 1000 + 100);
    expect(await mirrorAt('cold')).toBe('de-berlin');
  });
});

describe('shards through the Cache API', () => {
  it('another isolate of the location takes a shard from the Cache API, not from the control plane', async (ctx) => {
    edgeRun.need(ctx);
    const shardFetches = (prefix: string) => proxy.seen.filter((s) => s.path.startsWith(`${prefix}/admin/v1/snapshot/shards/`) && s.status === 200).length;
    // "fresh" fetched the readme's shard from the control plane and put it in the shared cache.
    expect(await mirrorAt('fresh')).toBe('de-berlin');
    await sleep(200); // the put runs behind the response (ctx.waitUntil)
    expect(shardFetches('/fresh')).toBeGreaterThanOrEqual(1);
    expect(cache.puts).toBeGreaterThanOrEqual(1);
    expect(await mirrorAt('other')).toBe('de-berlin');
    expect(shardFetches('/other')).toBe(0);
    const r = await readyz(edgeRun.url('other'));
    expect(r).toMatchObject({ snapshotShardsFromSharedCache: 1, snapshotShardsFromControlPlane: 0 });
    // Keyed by content hash under the Worker's own origin.
    expect([...cache.entries.keys()].some((k) => /\/__mirrorgate\/shards\/[0-9a-f]{16}$/.test(k))).toBe(true);
    // An isolate without Cache API storage (plain workerd) still works: it asks the control plane.
    expect(shardFetches('/cold')).toBeGreaterThanOrEqual(1);
  });
});

describe('downloads answered at the edge are counted', () => {
  it('the edge token reads snapshots and posts counts, and nothing else', async () => {
    const edge = { Authorization: `Bearer ${EDGE_TOKEN}` };
    expect((await fetch(`${plane.url}/admin/v1/snapshot/core`, { headers: edge })).status).toBe(200);
    for (const p of ['/admin/v1/mirrors', '/admin/v1/stats', '/admin/v1/audit', '/admin/v1/offers']) {
      expect((await fetch(`${plane.url}${p}`, { headers: edge })).status, p).toBe(403);
    }
    expect((await fetch(`${plane.url}/admin/v1/mirrors/de-berlin/drain`, { method: 'POST', headers: edge })).status).toBe(403);
    const login = await fetch(`${plane.url}/login`, {
      method: 'POST',
      headers: { Origin: plane.url, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${EDGE_TOKEN}`,
      redirect: 'manual',
    });
    expect(login.status).toBe(401);
    // A provider token may not post counts.
    const post = await fetch(`${plane.url}/admin/v1/stats/downloads`, {
      method: 'POST',
      headers: { Authorization: 'Bearer provider-token-for-integration-tests' },
      body: '{}',
    });
    expect(post.status).toBe(403);
    // A malformed batch is refused naming the field; counts older than a week are dropped, not counted.
    const bad = await fetch(`${plane.url}/admin/v1/stats/downloads`, {
      method: 'POST',
      headers: { ...edge, 'Content-Type': 'application/json' },
      body: JSON.stringify({ downloads: [{ ip: '192.0.2.1', path: 'pub/a', mirror: 'DE!', country: 'DE', size: 1, atMs: Date.now() }] }),
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { fields: Record<string, string> }).fields).toHaveProperty(['downloads.0.mirror']);
    const old = await fetch(`${plane.url}/admin/v1/stats/downloads`, {
      method: 'POST',
      headers: { ...edge, 'Content-Type': 'application/json' },
      body: JSON.stringify({ downloads: [{ ip: '192.0.2.1', path: 'pub/a', mirror: 'de-berlin', country: 'DE', size: 1, atMs: Date.now() - 8 * 86_400_000 }] }),
    });
    expect(old.status).toBe(202);
    expect(await old.json()).toEqual({ downloads: 0, impressions: 0, dropped: 1 });
  });

  it('an impression posted by two isolates for one client and file counts once; a total without a client counts as sent', async () => {
    const edge = { Authorization: `Bearer ${EDGE_TOKEN}`, 'Content-Type': 'application/json' };
    const impressions = async () => {
      const res = await fetch(`${plane.url}/admin/v1/stats?mirror=de-berlin`, { headers: staff });
      return ((await res.json()) as { totals: { impressions: number } }).totals.impressions;
    };
    const before = await impressions();
    const seen = { mirror: 'de-berlin', atMs: Date.now(), count: 1, ip: '198.51.100.77', path: 'pub/a.iso' };
    const post = (body: unknown) => fetch(`${plane.url}/admin/v1/stats/downloads`, { method: 'POST', headers: edge, body: JSON.stringify(body) });
    // Two isolates showed the same page to the same client.
    expect((await post({ impressions: [seen] })).status).toBe(202);
    expect((await post({ impressions: [{ ...seen, atMs: seen.atMs + 1_000 }] })).status).toBe(202);
    expect((await post({ impressions: [{ mirror: 'de-berlin', atMs: Date.now(), count: 2 }] })).status).toBe(202);
    await until(async () => (await impressions()) === before + 3, 15_000, 'the three impressions in /admin/v1/stats');
    // A client without its file (or a count above one for a client) is refused, naming the entry.
    const half = await post({ impressions: [{ mirror: 'de-berlin', atMs: Date.now(), count: 1, ip: '198.51.100.78' }] });
    expect(half.status).toBe(422);
    expect(((await half.json()) as { fields: Record<string, string> }).fields).toHaveProperty(['impressions.0']);
  });

  it('in /admin/v1/stats within a minute, once per client and file in ten minutes, as on Node', async (ctx) => {
    edgeRun.need(ctx);
    // Paris and French clients: no other test here downloads from them, so the counts are this test's alone.
    const totals = async () => {
      const res = await fetch(`${plane.url}/admin/v1/stats?mirror=fr-paris`, { headers: staff });
      return ((await res.json()) as { totals: { downloads: number; impressions: number } }).totals;
    };
    const before = await totals();
    const client = (ip: string, accept = '*/*') => ({ 'CF-Connecting-IP': ip, 'CF-Blob': JSON.stringify(cfBlob('FR')), Accept: accept });
    const a = client('90.0.7.1');
    const dl = (key: keyof typeof FILES) => `/download/${encodePath(FILES[key])}`;
    const ask = async (target: string, headers: Record<string, string>, method = 'GET') => {
      const res = await rawRequest(edgeRun.url('fresh'), target, { method, headers });
      expect(header(res, 'x-mirrorgate-mirror')).toBe('fr-paris');
      return res.status;
    };
    // A segmented download: four requests, one download.
    for (let i = 0; i < 4; i++) expect(await ask(dl('readme'), a)).toBe(302);
    // Another client, the same file: one more.
    expect(await ask(dl('readme'), client('90.0.7.2'))).toBe(302);
    // HEAD is only a look.
    expect(await ask(dl('tarball'), a, 'HEAD')).toBe(302);
    // A browser's interstitial page: a download and a sponsor impression.
    expect(await ask(dl('tarball'), client('90.0.7.3', 'text/html'))).toBe(200);
    const tookMs = await until(async () => (await totals()).downloads >= before.downloads + 3, 60_000, 'edge downloads in /admin/v1/stats');
    console.log(`test/edge/production: edge downloads reached /admin/v1/stats after ${tookMs} ms`);
    // The control plane's own stats flush runs every 5 s: one more, and nothing was counted twice.
    await sleep(5_500);
    expect(await totals()).toMatchObject({ downloads: before.downloads + 3, impressions: before.impressions + 1 });
    expect(await readyz(edgeRun.url('fresh'))).toMatchObject({ downloadsQueued: 0, downloadsDropped: 0 });
  }, 90_000);
});

describe('KV mode', () => {
  /** What the README's KV script publishes: the core, each shard under its hash, each sponsor's logo. */
  async function publishToKv(): Promise<void> {
    const auth = { Authorization: `Bearer ${EDGE_TOKEN}` };
    const coreBytes = new Uint8Array(await (await fetch(`${plane.url}/admin/v1/snapshot/core`, { headers: auth })).arrayBuffer());
    const core = JSON.parse(new TextDecoder().decode(coreBytes)) as SnapshotCore;
    for (const [k, s] of core.shards.entries()) {
      const bytes = new Uint8Array(await (await fetch(`${plane.url}/admin/v1/snapshot/shards/${k}`, { headers: auth })).arrayBuffer());
      kv.values.set(`shard/${s.hash}`, { value: bytes });
    }
    for (const m of core.mirrors) {
      if (!m.spec.sponsor?.logo) continue;
      const res = await fetch(`${plane.url}/logos/${m.spec.id}`);
      if (res.ok)
        kv.values.set(`logo/${m.spec.id}`, { value: new Uint8Array(await res.arrayBuffer()), metadata: { contentType: res.headers.get('content-type') } });
    }
    kv.values.set('core', { value: coreBytes });
  }

  it('shows sponsor logos with no control plane it could reach', async (ctx) => {
    edgeRun.need(ctx);
    await publishToKv();
    const page = await rawRequest(edgeRun.url('kv'), `/download/${encodePath(FILES.readme)}`, { headers: edgeHeaders({ ...BERLIN, accept: 'text/html' }) });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<img src="/logos/de-berlin"');
    const logo = await rawRequest(edgeRun.url('kv'), '/logos/de-berlin');
    expect(logo.status).toBe(200);
    expect(header(logo, 'content-type')).toBe('image/svg+xml');
    expect(logo.body).toBe((await rawRequest(plane.url, '/logos/de-berlin')).body);
    expect((await rawRequest(edgeRun.url('kv'), '/logos/fr-paris')).status).toBe(404); // a sponsor without a logo
    // Shards were read by hash, kept at the location for long.
    const shardReads = kv.reads.filter((r) => r.key.startsWith('shard/'));
    expect(shardReads.length).toBeGreaterThanOrEqual(1);
    expect(shardReads.every((r) => /^shard\/[0-9a-f]{16}$/.test(r.key) && (r.cacheTtl ?? 0) >= 86_400)).toBe(true);
    expect(await readyz(edgeRun.url('kv'))).toMatchObject({ status: 'ready', snapshotSource: 'kv', snapshotShardsFromKv: shardReads.length });
  });
});

describe('client address', () => {
  it('X-Real-IP is never trusted at the edge, only CF-Connecting-IP', async (ctx) => {
    edgeRun.need(ctx);
    const list = `/download/${encodePath(FILES.readme)}?mirrorlist`;
    const ask = async (headers: Record<string, string>) =>
      (JSON.parse((await rawRequest(edgeRun.url('fresh'), list, { headers: { Accept: 'application/json', ...headers } })).body) as { client: { ip: string } })
        .client.ip;
    expect(await ask({ 'X-Real-IP': '198.51.100.7' })).toBe('0.0.0.0');
    expect(await ask({ 'X-Real-IP': '198.51.100.7', 'CF-Connecting-IP': '130.133.1.1' })).toBe('130.133.1.1');
    expect(await ask({ 'X-Forwarded-For': '198.51.100.7', 'CF-Connecting-IP': '130.133.1.1' })).toBe('130.133.1.1');
  });
});

describe('with the control plane gone', () => {
  it('a new isolate still shows logos another isolate of the location fetched (Cache API)', async (ctx) => {
    edgeRun.need(ctx);
    // "fresh" showed the de-berlin logo on a page above? Make sure it fetched it.
    expect((await rawRequest(edgeRun.url('fresh'), '/logos/de-berlin')).status).toBe(200);
    const expected = (await rawRequest(plane.url, '/logos/de-berlin')).body;
    await plane.close();
    const logo = await rawRequest(edgeRun.url('other'), '/logos/de-berlin');
    expect(logo.status).toBe(200);
    expect(logo.body).toBe(expected);
  });
});
