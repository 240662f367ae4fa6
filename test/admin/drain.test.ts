// Drain and undrain: a drained mirror gets no new downloads at once on this instance, within one
// second on every instance sharing Redis, and a ramped drain hands its share over gradually.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { choice, client, type Client } from '../support/requests.js';
import { sleep, waitFor } from '../support/wait.js';
import { CLIENT_IPS } from '../support/clientIps.js';

const REDIS_DB = 13;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'admin/drain: two instances sharing Redis');

let net: MirrorNetwork;
let staff: Client;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
});

afterAll(async () => {
  await net?.close();
});

/** Distinct clients in Germany (the FU Berlin block): all nearest to de-berlin. */
function germanClients(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `130.133.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

async function mirrorStatus(base: string, id: string): Promise<string | undefined> {
  const res = await fetch(`${base}/mirrors`, { headers: { Accept: 'application/json' } });
  const body = (await res.json()) as { mirrors: { id: string; status: string }[] };
  return body.mirrors.find((m) => m.id === id)?.status;
}

/** Where each client is sent now, with the mean time (epoch ms) of the sample; `concurrency` requests at a time. */
async function sample(base: string, clients: readonly string[], concurrency = 25): Promise<{ choice: Map<string, string>; atMs: number }> {
  const chosen = new Map<string, string>();
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < clients.length) {
        const ip = clients[next++]!;
        const t0 = Date.now();
        chosen.set(ip, await choice(base, ip));
        times.push((t0 + Date.now()) / 2);
      }
    }),
  );
  return { choice: chosen, atMs: times.reduce((a, b) => a + b, 0) / times.length };
}

const share = (choice: Map<string, string>, id: string) => [...choice.values()].filter((m) => m === id).length / choice.size;

// ---------------------------------------------------------------------------------------------

describe('drain on one instance', () => {
  it('POST drain: the very next download from a client near it goes to another mirror', async () => {
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
    const r = await staff.post('/admin/v1/mirrors/de-berlin/drain');
    expect(r.status).toBe(200);
    expect(r.json.drain).toEqual({ startMs: expect.any(Number), overMs: 0 });

    // A counted GET as a tool would send it: 302 to the next mirror, and the header says which.
    const res = await fetch(`${net.url}/download/pub/README.txt`, { headers: { Accept: '*/*', 'X-Forwarded-For': CLIENT_IPS.DE.ip }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('fr-paris');
    expect(res.headers.get('location')).toBe(`${net.mirrors['fr-paris']!.baseUrl}pub/README.txt`);
    expect(res.headers.get('link') ?? '').not.toContain(net.mirrors['de-berlin']!.baseUrl);

    for (const ip of germanClients(40)) expect(await choice(net.url, ip)).not.toBe('de-berlin');
    // Not even when asked for by name.
    const named = await fetch(`${net.url}/download/pub/README.txt?mirror=de-berlin`, {
      method: 'HEAD',
      headers: { Accept: '*/*', 'X-Forwarded-For': CLIENT_IPS.DE.ip },
      redirect: 'manual',
    });
    expect(named.headers.get('x-mirrorgate-mirror')).not.toBe('de-berlin');

    expect(await mirrorStatus(net.url, 'de-berlin')).toBe('draining');
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.drain).toEqual(r.json.drain);
  });

  it('POST undrain restores it at once', async () => {
    const r = await staff.post('/admin/v1/mirrors/de-berlin/undrain');
    expect(r.status).toBe(200);
    expect(r.json.drain).toBeNull();
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
    for (const ip of germanClients(20)) expect(await choice(net.url, ip)).toBe('de-berlin');
    expect(await mirrorStatus(net.url, 'de-berlin')).toBe('up');
  });

  it('drain takes an empty body, {} and a ramp of zero alike, as "at once"; a ramp over 30 days is refused', async () => {
    const far = await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '99999h' });
    expect(far.status).toBe(422);
    expect(far.json.fields).toEqual({ over: 'must be at most 30d: a longer wind-down is a lower weight' });
    for (const body of [undefined, {}, { over: '0s' }, { over: 0 }]) {
      const r = await staff.post('/admin/v1/mirrors/de-berlin/drain', body);
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(await choice(net.url, 'DE')).not.toBe('de-berlin');
      expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
      expect(await choice(net.url, 'DE')).toBe('de-berlin');
    }
  });

  it('ramped drain {"over":"2s"}: its share falls (≈75% near 0.5 s, ≈25% near 1.5 s), clients only ever leave, none after 2 s', async () => {
    const clients = germanClients(240);
    const start = await sample(net.url, clients);
    expect(share(start.choice, 'de-berlin')).toBe(1);

    const r = await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '2s' });
    expect(r.status).toBe(200);
    const { startMs, overMs } = r.json.drain as { startMs: number; overMs: number };
    expect(overMs).toBe(2000);
    const expected = (atMs: number) => Math.min(1, Math.max(0, 1 - (atMs - startMs) / overMs));

    await sleep(Math.max(0, startMs + 300 - Date.now()));
    const early = await sample(net.url, clients);
    await sleep(Math.max(0, startMs + 1200 - Date.now()));
    const late = await sample(net.url, clients);

    const earlyShare = share(early.choice, 'de-berlin');
    const lateShare = share(late.choice, 'de-berlin');
    // Expected shares are taken at each sample's mean time (the share falls linearly, so that is exact);
    // binomial noise on 240 clients is ±0.03 (1σ).
    expect(Math.abs(earlyShare - expected(early.atMs)), `early share ${earlyShare} vs expected ${expected(early.atMs)}`).toBeLessThan(0.12);
    expect(Math.abs(lateShare - expected(late.atMs)), `late share ${lateShare} vs expected ${expected(late.atMs)}`).toBeLessThan(0.12);
    // The fall between the samples, against what the ramp predicts for the moments they really took
    // (on a loaded machine a sample can land later than planned; the ramp is judged where it was read).
    expect(earlyShare - lateShare).toBeGreaterThan(expected(early.atMs) - expected(late.atMs) - 0.15);
    expect(earlyShare).toBeGreaterThan(lateShare);
    // Sticky while ramping: a client moved away is never sent back.
    for (const ip of clients) if (late.choice.get(ip) === 'de-berlin') expect(early.choice.get(ip)).toBe('de-berlin');
    // The share handed over really moved to other mirrors, not to the origin.
    expect([...late.choice.values()].filter((m) => m === 'origin')).toEqual([]);
    expect(await mirrorStatus(net.url, 'de-berlin')).toBe('draining');

    await sleep(Math.max(0, startMs + overMs + 50 - Date.now()));
    const done = await sample(net.url, clients);
    expect(share(done.choice, 'de-berlin')).toBe(0);

    expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
    expect(share((await sample(net.url, clients)).choice, 'de-berlin')).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(skipRedis)('two instances sharing Redis', () => {
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    a = await net.startServer({ env });
    b = await net.startServer({ env });
    expect(a.store.kind).toBe('redis');
    expect(b.store.kind).toBe('redis');
  });

  afterAll(async () => {
    if (a) await net.stopServer(a);
    if (b) await net.stopServer(b);
    await flushRedis(REDIS_DB).catch(() => {});
  });

  it('drain on instance A: instance B stops sending downloads there within 1 s; undrain on A restores B within 1 s', async () => {
    const sa = client(a.url, STAFF_TOKEN);
    expect(await choice(b.url, 'DE')).toBe('de-berlin');

    const t0 = performance.now();
    const r = await sa.post('/admin/v1/mirrors/de-berlin/drain');
    expect(r.status).toBe(200);
    const drained = await waitFor(async () => (await choice(b.url, 'DE')) !== 'de-berlin', { timeoutMs: 3_000, everyMs: 50 });
    expect(drained, 'instance B never stopped sending downloads to the drained mirror').toBeDefined();
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(1_000);
    expect(await choice(b.url, 'DE')).toBe('fr-paris');
    for (const ip of germanClients(20)) expect(await choice(b.url, ip)).not.toBe('de-berlin');
    expect((await client(b.url, STAFF_TOKEN).get('/admin/v1/mirrors/de-berlin')).json.drain).toEqual(r.json.drain);
    expect(await mirrorStatus(b.url, 'de-berlin')).toBe('draining');

    const t1 = performance.now();
    expect((await sa.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
    const back = await waitFor(async () => (await choice(b.url, 'DE')) === 'de-berlin', { timeoutMs: 3_000, everyMs: 50 });
    expect(back, 'instance B never sent downloads to the mirror again').toBeDefined();
    expect(performance.now() - t1).toBeLessThan(1_000);
  });

  it('a drain made on B is seen on A the same way (either direction)', async () => {
    const sb = client(b.url, STAFF_TOKEN);
    // Japanese clients that A sends to jp-tokyo-a now (the pair shares Japan 3:1).
    const onA: string[] = [];
    for (let i = 1; onA.length < 10 && i < 200; i++) if ((await choice(a.url, `133.11.7.${i}`)) === 'jp-tokyo-a') onA.push(`133.11.7.${i}`);
    expect(onA).toHaveLength(10);
    const watched = onA[0]!;

    const t0 = performance.now();
    expect((await sb.post('/admin/v1/mirrors/jp-tokyo-a/drain')).status).toBe(200);
    const ok = await waitFor(async () => (await choice(a.url, watched)) === 'jp-tokyo-b', { timeoutMs: 3_000, everyMs: 50 });
    expect(ok, 'instance A never stopped sending downloads to the drained mirror').toBeDefined();
    expect(performance.now() - t0).toBeLessThan(1_000);
    for (const ip of onA) expect(await choice(a.url, ip)).toBe('jp-tokyo-b');
    expect((await sb.post('/admin/v1/mirrors/jp-tokyo-a/undrain')).status).toBe(200);
    expect(await waitFor(async () => (await choice(a.url, watched)) === 'jp-tokyo-a', { timeoutMs: 3_000, everyMs: 50 })).toBeDefined();
  });
});
