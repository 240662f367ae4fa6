// "Every change is audited and survives a restart": weight, drain, deleted and added mirrors, offers,
// the audit log and the statistics, with the memory store (same dataDir) and with Redis (a fresh dataDir,
// so the state can only have come from Redis).
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { browserDownload, call, choice, client, download, type Client } from '../support/requests.js';

const REDIS_DB = 14;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'admin/persistence: Redis');

let net: MirrorNetwork;
let extra: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork();
  extra = await net.extraMirror('se-persist');
});

afterAll(async () => {
  await net?.close();
  if (!skipRedis) await flushRedis(REDIS_DB).catch(() => {});
});

const window = () => {
  const day = (o: number) => new Date(Date.now() + o * 86_400_000).toISOString().slice(0, 10);
  return `from=${day(-1)}&to=${day(1)}`;
};

interface Before {
  audit: unknown[];
  stats: unknown;
  offers: unknown[];
  mirrors: unknown[];
  accepted: string;
  rejected: string;
  drain: unknown;
}

/** Makes one of each kind of change on `s`, and returns what the staff API shows afterwards. */
async function makeChanges(s: RunningServer, tag: string): Promise<Before> {
  const staff = client(s.url, STAFF_TOKEN);
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  ok(await staff.patch('/admin/v1/mirrors/fr-paris', { weight: 7, sponsor: { name: 'Persisted Sponsor', url: 'https://persisted.example/' } }));
  ok(await staff.patch('/admin/v1/mirrors/us-east', { enabled: false }));
  const drained = await staff.post('/admin/v1/mirrors/jp-tokyo-a/drain');
  ok(drained);
  ok(await staff.delete('/admin/v1/mirrors/au-sydney'), 204);
  ok(
    await staff.post('/admin/v1/mirrors', {
      id: 'se-persist',
      name: 'Persisted Stockholm',
      baseUrl: extra.baseUrl,
      country: 'SE',
      lat: 59.33,
      lon: 18.07,
      weight: 60,
    }),
    201,
  );
  // Pending until its first probe (started at once) shows it up.
  await vi.waitFor(async () => expect((await staff.get('/admin/v1/mirrors/se-persist')).json.lifecycle).toBe('active'), { timeout: 10_000 });
  await vi.waitFor(async () => expect(await choice(s.url, 'SE')).toBe('se-persist'), { timeout: 2_000, interval: 20 });
  const offer = (org: string, n: number) =>
    call(s.url, 'POST', '/api/v1/offers', {
      body: {
        contact: { name: 'P', email: `p${n}@persist.example` },
        organisation: org,
        location: { country: 'NZ' },
        storageTB: 9,
        bandwidthMbps: 300,
        baseUrl: extra.baseUrl,
      },
      headers: { 'X-Forwarded-For': `198.51.100.${n}` },
    });
  const a = await offer(`Accepted ${tag}`, 1);
  const b = await offer(`Rejected ${tag}`, 2);
  const c = await offer(`Open ${tag}`, 3);
  ok(a, 201);
  ok(b, 201);
  ok(c, 201);
  ok(await staff.post(`/admin/v1/offers/${a.json.id}/accept`, { mirror: { id: 'nz-persist' } }));
  ok(await staff.post(`/admin/v1/offers/${b.json.id}/reject`, { note: 'no' }));

  // Downloads: some flushed now, the rest left for close() to flush.
  expect((await download(s.url, 'DE', 'readme')).status).toBe(302);
  expect((await browserDownload(s.url, 'DE', 'tarball')).status).toBe(200);
  await s.stats.flush();
  expect((await download(s.url, 'FR', 'tarball')).status).toBe(302);
  expect((await download(s.url, 'SE', 'unicode')).status).toBe(302);

  // The last two are (normally) still in the recorder: only close() writes them.
  const stats = (await staff.get(`/admin/v1/stats?${window()}`)).json;
  return {
    audit: (await staff.get('/admin/v1/audit')).json.entries,
    stats,
    offers: (await staff.get('/admin/v1/offers')).json.offers,
    mirrors: (await staff.get('/admin/v1/mirrors')).json.mirrors,
    accepted: a.json.id,
    rejected: b.json.id,
    drain: drained.json.drain,
  };
}

function checksAfterRestart(ctx: () => { before: Before; after: RunningServer; staff: Client }) {
  it('weight, sponsor and enabled survive', async () => {
    const { staff } = ctx();
    expect((await staff.get('/admin/v1/mirrors/fr-paris')).json.spec).toMatchObject({
      weight: 7,
      sponsor: { name: 'Persisted Sponsor', url: 'https://persisted.example/' },
    });
    expect((await staff.get('/admin/v1/mirrors/us-east')).json.spec.enabled).toBe(false);
    expect(await choice(ctx().after.url, 'US_EAST')).not.toBe('us-east');
  });

  it('the drain survives, and still keeps downloads away', async () => {
    const { staff, before, after } = ctx();
    expect((await staff.get('/admin/v1/mirrors/jp-tokyo-a')).json.drain).toEqual(before.drain);
    for (let i = 1; i <= 15; i++) expect(await choice(after.url, `133.11.9.${i}`)).toBe('jp-tokyo-b');
  });

  it('a deleted config mirror stays deleted; an added mirror stays, and gets downloads', async () => {
    const { staff, after } = ctx();
    expect((await staff.get('/admin/v1/mirrors/au-sydney')).status).toBe(404);
    expect(await choice(after.url, 'AU', 'tarball')).not.toBe('au-sydney');
    const added = await staff.get('/admin/v1/mirrors/se-persist');
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ source: 'runtime', lifecycle: 'active', spec: { weight: 60, country: 'SE', baseUrl: extra.baseUrl } });
    expect(await choice(after.url, 'SE')).toBe('se-persist');
  });

  it('the admin mirror list reads the same (health aside)', async () => {
    const { staff, before } = ctx();
    const strip = (ms: unknown[]) =>
      (ms as { spec: unknown; source: string; lifecycle: string; drain: unknown }[]).map(({ spec, source, lifecycle, drain }) => ({
        spec,
        source,
        lifecycle,
        drain,
      }));
    expect(strip((await staff.get('/admin/v1/mirrors')).json.mirrors)).toEqual(strip(before.mirrors));
  });

  it('offers keep their status; the accepted one is still a syncing mirror that gets no downloads', async () => {
    const { staff, before, after } = ctx();
    expect((await staff.get('/admin/v1/offers')).json.offers).toEqual(before.offers);
    const statuses = Object.fromEntries((before.offers as { id: string; status: string }[]).map((o) => [o.id, o.status]));
    expect(statuses[before.accepted]).toBe('accepted');
    expect(statuses[before.rejected]).toBe('rejected');
    expect((await staff.get('/admin/v1/mirrors/nz-persist')).json.lifecycle).toBe('syncing');
    expect(await choice(after.url, 'NZ')).not.toBe('nz-persist');
    expect((await staff.post('/admin/v1/mirrors/nz-persist/launch')).status).toBe(200);
    expect(await choice(after.url, 'NZ')).toBe('nz-persist');
  });

  it('the audit log is the same, entry for entry (plus what was done since)', async () => {
    const { staff, before } = ctx();
    const now = (await staff.get('/admin/v1/audit')).json.entries as { action: string }[];
    // The launch just above is the one new entry.
    expect(now[0]).toMatchObject({ action: 'mirror.launch', target: 'mirror:nz-persist', actor: 'ops' });
    expect(now.slice(1)).toEqual(before.audit);
    expect(before.audit.length).toBeGreaterThanOrEqual(10);
  });

  it('statistics survive, including downloads flushed only at shutdown', async () => {
    const { staff, before } = ctx();
    const stats = (await staff.get(`/admin/v1/stats?${window()}`)).json;
    const old = before.stats as { totals: { downloads: number; bytes: number; impressions: number } };
    const z = net.files;
    expect(old.totals.downloads).toBeGreaterThanOrEqual(2);
    expect(stats.totals).toEqual({ downloads: 4, bytes: z.readme.size + 2 * z.tarball.size + z.unicode.size, impressions: 1 });
    const byMirror = Object.fromEntries((stats.byMirror as { mirror: string; downloads: number }[]).map((m) => [m.mirror, m.downloads]));
    expect(byMirror).toEqual({ 'de-berlin': 2, 'fr-paris': 1, 'se-persist': 1 });
  });
}

// ---------------------------------------------------------------------------------------------

describe('memory store: restart on the same dataDir', () => {
  let before: Before;
  let after: RunningServer;
  let staff: Client;

  beforeAll(async () => {
    const dataDir = net.dataDir('persist-memory');
    const first = await net.startServer({ dataDir });
    expect(first.store.kind).toBe('memory');
    before = await makeChanges(first, 'memory');
    await net.stopServer(first);
    after = await net.startServer({ dataDir });
    staff = client(after.url, STAFF_TOKEN);
  });

  afterAll(async () => {
    if (after) await net.stopServer(after);
  });

  checksAfterRestart(() => ({ before, after, staff }));

  it("clearing a config mirror's sponsor (sponsor: null) survives a restart", async () => {
    const dataDir = net.dataDir('persist-memory-sponsor');
    const first = await net.startServer({ dataDir });
    const s1 = client(first.url, STAFF_TOKEN);
    expect((await s1.get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor).toMatchObject({ name: 'Spree Hosting GmbH' });
    expect((await s1.patch('/admin/v1/mirrors/de-berlin', { sponsor: null })).status).toBe(200);
    expect((await s1.get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor).toBeUndefined();
    await net.stopServer(first);
    const second = await net.startServer({ dataDir });
    const sponsor = (await client(second.url, STAFF_TOKEN).get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor;
    await net.stopServer(second);
    // null is kept in the stored override, so the config's sponsor stays cleared after a restart.
    expect(sponsor).toBeUndefined();
  });

  it('answers 503 naming the file when dataDir cannot be written, and what was audited holds after a restart', async () => {
    const dataDir = net.dataDir('persist-memory-unwritable');
    const first = await net.startServer({ dataDir });
    const staff = client(first.url, STAFF_TOKEN);
    // A path that cannot be written, even by root: a directory (with a file in it) where the file goes.
    const block = async (name: string) => {
      const at = path.join(dataDir, 'state', name);
      await rm(at, { force: true });
      await mkdir(path.join(at, 'in-the-way'), { recursive: true });
    };
    await block('audit.jsonl');
    const drained = await staff.post('/admin/v1/mirrors/de-berlin/drain');
    expect(drained.status, drained.text).toBe(503);
    expect(drained.json.error).toMatch(/cannot write .*audit\.jsonl \(E[A-Z]+\)/);
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.drain).toBeNull();
    await rm(path.join(dataDir, 'state', 'audit.jsonl'), { recursive: true, force: true });
    await block('overrides.json');
    const patched = await staff.patch('/admin/v1/mirrors/fr-paris', { weight: 9 });
    expect(patched.status, patched.text).toBe(503);
    expect(patched.json.error).toMatch(/cannot write .*overrides\.json \(E[A-Z]+\); the change is in force and in the audit log/);
    // The way cleared again (a disk remounted read-write): the weight in force is kept, the refused drain is not.
    await rm(path.join(dataDir, 'state', 'overrides.json'), { recursive: true, force: true });
    await net.stopServer(first);
    const second = await net.startServer({ dataDir });
    const after = client(second.url, STAFF_TOKEN);
    const paris = (await after.get('/admin/v1/mirrors/fr-paris')).json;
    const berlin = (await after.get('/admin/v1/mirrors/de-berlin')).json;
    await net.stopServer(second);
    expect(paris.spec.weight).toBe(9);
    expect(berlin.drain).toBeNull();
  });
});

describe.skipIf(skipRedis)('Redis store: restart with a fresh dataDir', () => {
  let before: Before;
  let after: RunningServer;
  let staff: Client;
  const env = { REDIS_URL: redisUrl(REDIS_DB) };

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    const first = await net.startServer({ env });
    expect(first.store.kind).toBe('redis');
    before = await makeChanges(first, 'redis');
    await net.stopServer(first);
    after = await net.startServer({ env });
    staff = client(after.url, STAFF_TOKEN);
  });

  afterAll(async () => {
    if (after) await net.stopServer(after);
  });

  checksAfterRestart(() => ({ before, after, staff }));

  it('a second instance on the same Redis sees the same state at once', async () => {
    const other = await net.startServer({ env });
    try {
      const s = client(other.url, STAFF_TOKEN);
      expect((await s.get('/admin/v1/mirrors/fr-paris')).json.spec.weight).toBe(7);
      expect((await s.get('/admin/v1/mirrors/au-sydney')).status).toBe(404);
      expect((await s.get('/admin/v1/audit')).json.entries).toEqual((await staff.get('/admin/v1/audit')).json.entries);
      expect((await s.get(`/admin/v1/stats?${window()}`)).json).toEqual((await staff.get(`/admin/v1/stats?${window()}`)).json);
    } finally {
      await net.stopServer(other);
    }
  });

  it("clearing a config mirror's sponsor (sponsor: null) holds on this instance and on another one", async () => {
    const other = await net.startServer({ env });
    try {
      const patched = await staff.patch('/admin/v1/mirrors/de-berlin', { sponsor: null });
      expect(patched.status).toBe(200);
      const answered = patched.json.spec.sponsor;
      const here = (await staff.get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor;
      // Other instances apply the change from pub/sub: SPEC allows them up to a second.
      let there: unknown;
      for (const start = Date.now(); Date.now() - start < 1000; await new Promise((r) => setTimeout(r, 25))) {
        there = (await client(other.url, STAFF_TOKEN).get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor;
        if (there === undefined) break;
      }
      // A cleared sponsor must stay cleared once read back from the store, here and elsewhere.
      expect({ answered, here, there }).toEqual({ answered: undefined, here: undefined, there: undefined });
    } finally {
      await net.stopServer(other);
    }
  });

  it('the same client and file on two instances behind one balancer counts once', async () => {
    const other = await net.startServer({ env });
    try {
      const totals = async () => (await staff.get(`/admin/v1/stats?${window()}`)).json.totals.downloads as number;
      const start = await totals();
      // A segmented download whose connections land on different instances.
      expect((await download(after.url, 'GB', 'iso')).status).toBe(302);
      expect((await download(other.url, 'GB', 'iso', { Range: 'bytes=0-999' })).status).toBe(302);
      expect((await download(after.url, 'GB', 'iso', { Range: 'bytes=1000-1999' })).status).toBe(302);
      await after.stats.flush();
      await other.stats.flush();
      // Counted once per client and file within ten minutes, across instances (claims in the store).
      expect((await totals()) - start).toBe(1);
    } finally {
      await net.stopServer(other);
    }
  });
});
