// Two instances on one Redis (database 7): a token issued on one works on the other, and its revocation holds on
// every instance within a second, sessions included; and a Redis flushed under both (FLUSHDB, as a restart
// without persistence leaves it) loses no staff change — the instances notice the new epoch and write back.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ControlPlane } from '../../src/control/controlPlane.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { RunningServer } from '../../src/node.js';
import { RedisStore } from '../../src/store/redisStore.js';
import { STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { choice, client, submitOffer, type Client } from '../support/requests.js';
import { waitFor } from '../support/wait.js';

const REDIS_DB = 7;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'admin/sharedState: two instances on Redis');

const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80"><rect width="240" height="80" fill="#135"/><script>alert(1)</script></svg>';

let net: MirrorNetwork;
let extra: LoopbackFileServer;
let a: RunningServer;
let b: RunningServer;
let sa: Client;
let sb: Client;
let redis: Redis;

const env = { REDIS_URL: redisUrl(REDIS_DB) };

beforeAll(async () => {
  if (skipRedis) return;
  net = await startNetwork();
  extra = await net.extraMirror('se-shared');
  await flushRedis(REDIS_DB);
  a = await net.startServer({ env });
  b = await net.startServer({ env });
  sa = client(a.url, STAFF_TOKEN);
  sb = client(b.url, STAFF_TOKEN);
  redis = new Redis(redisUrl(REDIS_DB), { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await net?.close();
  if (!skipRedis) await flushRedis(REDIS_DB).catch(() => {});
});

const login = async (base: string, token: string): Promise<string> => {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return /mirrorgate_session=([^;]+)/.exec(res.headers.getSetCookie().find((c) => /mirrorgate_session=[\w-]{43}/.test(c))!)![1]!;
};
const providerPage = (base: string, session: string) => fetch(`${base}/provider`, { headers: { Cookie: `mirrorgate_session=${session}` }, redirect: 'manual' });

describe.skipIf(skipRedis)('tokens across instances', () => {
  it('issued on A, works on B at once; revoked on A, refused on B within a second, and its session there ends', async () => {
    const issued = await sa.post('/admin/v1/tokens', { name: 'paris-noc', role: 'provider', mirrors: ['fr-paris'] });
    expect(issued.status).toBe(201);
    const token: string = issued.json.token;
    const onB = client(b.url, token);
    await vi.waitFor(async () => expect((await onB.get('/admin/v1/mirrors')).status).toBe(200), { timeout: 1_000, interval: 20 });
    // Only its hash is in Redis.
    const stored = await redis.hgetall('mirrorgate:tokens');
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(Object.keys(stored)).toEqual([issued.json.id]);

    // A session made on A is a session on B (the store holds it).
    const session = await login(a.url, token);
    expect((await providerPage(b.url, session)).status).toBe(200);

    const t0 = performance.now();
    expect((await sa.delete(`/admin/v1/tokens/${issued.json.id}`)).status).toBe(200);
    const refused = await waitFor(async () => (await onB.get('/admin/v1/mirrors')).status === 401, { timeoutMs: 3_000, everyMs: 20 });
    expect(refused, 'instance B kept accepting a revoked token').toBeDefined();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await providerPage(b.url, session)).headers.get('location')).toBe('/login');
    expect((await providerPage(a.url, session)).headers.get('location')).toBe('/login');
  });
});

describe.skipIf(skipRedis)('Redis flushed under two instances', () => {
  it('loses no staff change: drains, weights, added mirrors, offers, tokens, logos, sessions and the audit log come back', async () => {
    // Staff changes on both instances, before the loss.
    expect((await sa.post('/admin/v1/mirrors/de-berlin/drain')).status).toBe(200);
    expect((await sb.patch('/admin/v1/mirrors/jp-tokyo-a', { weight: 0 })).status).toBe(200);
    expect(
      (await sa.post('/admin/v1/mirrors', { id: 'se-shared', name: 'Shared Stockholm', baseUrl: extra.baseUrl, country: 'SE', lat: 59.33, lon: 18.07 })).status,
    ).toBe(201);
    await vi.waitFor(async () => expect((await sb.get('/admin/v1/mirrors/se-shared')).json.lifecycle).toBe('active'), { timeout: 10_000 });
    const offer = await submitOffer(a.url, { organisation: 'Flush Networks', location: { country: 'KE' }, bandwidthMbps: 200 });
    expect(offer.status).toBe(201);
    const offerId: string = offer.json.id;
    const token = (await sb.post('/admin/v1/tokens', { name: 'berlin-flush', role: 'provider', mirrors: ['de-berlin'] })).json as { token: string; id: string };
    const logo = await fetch(`${a.url}/admin/v1/mirrors/fr-paris/logo`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'image/svg+xml' },
      body: LOGO,
    });
    expect(logo.status).toBe(200);
    const session = await login(b.url, token.token);
    await vi.waitFor(async () => expect((await sb.get('/admin/v1/mirrors/fr-paris')).json.spec.sponsor.logo).toMatch(/^uploaded:/), { timeout: 1_000 });
    const auditBefore = (await sa.get('/admin/v1/audit?limit=1000')).json.entries as { id: string }[];
    expect(auditBefore.length).toBeGreaterThanOrEqual(8);
    expect(await choice(a.url, 'DE')).not.toBe('de-berlin');

    // The loss, and downloads all along on both instances: the drained mirror never comes back.
    let watching = true;
    const choices: string[] = [];
    const watch = (async () => {
      while (watching) for (const base of [a.url, b.url]) choices.push(await choice(base, 'DE'));
    })();
    const epochBefore = await redis.get('mirrorgate:epoch');
    expect(epochBefore).toMatch(/\S/);
    await redis.flushdb();

    // A staff change right after the loss, on B: it must not push the rest out.
    expect((await sb.patch('/admin/v1/mirrors/us-east', { weight: 42 })).status).toBe(200);

    // Both instances write back within a few seconds (an epoch check each second, and before every change).
    await vi.waitFor(
      async () => {
        const overrides = await redis.hgetall('mirrorgate:overrides');
        expect(Object.keys(overrides).sort()).toEqual(['de-berlin', 'fr-paris', 'jp-tokyo-a', 'se-shared', 'us-east']);
      },
      { timeout: 5_000, interval: 100 },
    );
    // The instances noticed the loss by the new epoch.
    expect(await redis.get('mirrorgate:epoch')).not.toBe(epochBefore);
    await new Promise((r) => setTimeout(r, 500));
    watching = false;
    await watch;
    expect(choices.length).toBeGreaterThan(10);
    expect(choices.filter((c) => c === 'de-berlin')).toEqual([]);

    // A third instance, started now, can only know what is in Redis.
    const c = await net.startServer({ env });
    try {
      const sc = client(c.url, STAFF_TOKEN);
      for (const s of [sa, sb, sc]) {
        expect((await s.get('/admin/v1/mirrors/de-berlin')).json.drain).toMatchObject({ overMs: 0 });
        expect((await s.get('/admin/v1/mirrors/jp-tokyo-a')).json.spec.weight).toBe(0);
        expect((await s.get('/admin/v1/mirrors/us-east')).json.spec.weight).toBe(42);
        expect((await s.get('/admin/v1/mirrors/se-shared')).json).toMatchObject({ source: 'runtime', lifecycle: 'active' });
        expect(((await s.get('/admin/v1/offers')).json.offers as { id: string }[]).map((o) => o.id)).toContain(offerId);
        expect(((await s.get('/admin/v1/tokens')).json.tokens as { name: string }[]).map((t) => t.name)).toContain('berlin-flush');
      }
      expect(await choice(c.url, 'DE')).not.toBe('de-berlin');
      // The token, its session and the logo work on the new instance.
      expect((await client(c.url, token.token).get('/admin/v1/mirrors')).status).toBe(200);
      expect((await providerPage(c.url, session)).status).toBe(200);
      const served = await fetch(`${c.url}/logos/fr-paris`);
      expect(served.status).toBe(200);
      const svg = await served.text();
      expect(svg).toContain('<rect');
      expect(svg).not.toContain('<script');
      // Every audit entry from before the loss is back, in time order, with the change made since.
      const after = (await sc.get('/admin/v1/audit?limit=1000')).json.entries as { id: string; at: number; action: string; target: string }[];
      const ids = new Set(after.map((e) => e.id));
      for (const e of auditBefore) expect(ids.has(e.id), `audit entry ${e.id} lost`).toBe(true);
      expect(after.find((e) => e.target === 'mirror:us-east' && e.action === 'mirror.update')).toBeDefined();
      for (let i = 1; i < after.length; i++) expect(after[i - 1]!.at).toBeGreaterThanOrEqual(after[i]!.at);
    } finally {
      await net.stopServer(c);
    }
  });
});

describe.skipIf(skipRedis)('the write-back is said loudly', () => {
  it('an error log names the loss, then what was written back', async () => {
    const config = parseConfig(
      `publicUrl: https://downloads.example.org
origin: { baseUrl: "https://origin.example.org/pub/", manifest: "${net.originManifest}" }
health: { enabled: false }
mirrors:
  - { id: m1, name: M1, baseUrl: "https://m1.example.org/pub/", country: DE }
`,
      { env: {} },
    );
    const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      info: () => undefined,
      debug: () => undefined,
      warn: (obj: object, msg?: string) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
      error: (obj: object, msg?: string) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg: msg ?? '' }),
    };
    const prefix = 'mgtest-loud:';
    const store = await RedisStore.connect({ url: redisUrl(REDIS_DB), prefix, log });
    const mirrors = config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
    const builder = new SnapshotBuilder({
      mirrors,
      files: FileIndex.from([]),
      originBaseUrl: config.origin.baseUrl,
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    });
    const control = new ControlPlane({ config, configMirrors: mirrors, configInventories: new Map(), store, builder, log: log as never, loops: false });
    try {
      await control.start();
      await store.putOverride('m1', { patch: { weight: 7 }, drain: { startMs: 1, overMs: 0 }, updatedAt: 1, updatedBy: 'ops' });
      await control.reloadOverrides();
      const keys = await redis.keys(`${prefix}*`);
      await redis.del(...keys);
      await control.ensureEpoch();
      const errors = lines.filter((l) => l.level === 'error');
      expect(errors.map((l) => l.msg)).toEqual([
        expect.stringMatching(/^THE SHARED STORE LOST ITS DATA .*appendonly yes/),
        expect.stringMatching(/^wrote back to the shared store what it had lost/),
      ]);
      expect(errors[1]!.obj.restored).toMatchObject({ overrides: 1 });
      expect((await store.getOverrides()).get('m1')).toMatchObject({ patch: { weight: 7 }, drain: { overMs: 0 } });
    } finally {
      await control.stop();
      await store.close();
      const left = await redis.keys(`${prefix}*`);
      if (left.length) await redis.del(...left);
    }
  });
});
