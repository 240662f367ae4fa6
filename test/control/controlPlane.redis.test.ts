// Two Mirrorgate instances on one Redis: one probes (it holds the 'probe' lease), both route alike —
// a dead mirror, a missing file and a staff drain reach both within their windows — and the other
// instance takes the probing over when the holder stops.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import {
  CFILES,
  CONTROL_SETUP,
  healthFacts,
  INTERVAL_MS,
  probeRounds,
  startNetwork,
  TIMEOUT_MS,
  type CFileKey,
  type ControlNetwork,
} from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { choice, mirrorsJson, staffCall } from '../support/requests.js';
import { sleep, waitFor } from '../support/wait.js';

const REDIS_DB = 11;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'controlPlane.redis: two instances sharing Redis');

const FAILURES_TO_DOWN = 2;
const WINDOW_MS = INTERVAL_MS * FAILURES_TO_DOWN + TIMEOUT_MS;
/** Lease hand-over is wall-clock by nature (a lease runs out in milliseconds): timer and event-loop slack on a busy 2-core machine. */
const SLACK_MS = 50 + 200;
const MIRRORS = ['de-near', 'fr-far', 'us-far'];

/** Waits (3 s at most) until `s` sends a German client to `id` for `key`; a precondition, so it fails loudly. */
async function routesTo(s: RunningServer, id: string, key: CFileKey = 'readme'): Promise<void> {
  const ms = await waitFor(async () => (await choice(s.url, 'DE', key)) === id, { timeoutMs: 3_000 });
  expect(ms, `${s.url} never sent ${key} to ${id}: ${healthFacts(s)}`).toBeDefined();
}

describe.skipIf(skipRedis)('two instances on one Redis', () => {
  let net: ControlNetwork;
  let a: RunningServer;
  let b: RunningServer;
  let redis: Redis;

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    redis = new Redis(redisUrl(REDIS_DB), { lazyConnect: true });
    await redis.connect();
    net = await startNetwork(CONTROL_SETUP);
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    // Every file sampled every round, so a missing one is certain to be seen.
    a = await net.startServer({ env, health: { sampleFiles: 10 } });
    b = await net.startServer({ env, health: { sampleFiles: 10 } });
    const up = await waitFor(() => [a, b].every((s) => MIRRORS.every((id) => s.control.healthOf(id)?.health === 'up')), { timeoutMs: 5_000 });
    if (up === undefined) throw new Error('mirrors not probed up on both instances');
    // And routed up on both (the rebuild follows the health record by the coalescing delay).
    await waitFor(async () => (await choice(a.url, 'DE')) === 'de-near' && (await choice(b.url, 'DE')) === 'de-near', { timeoutMs: 2_000 });
  });

  afterAll(async () => {
    await net?.close();
    redis?.disconnect();
    if (!skipRedis) await flushRedis(REDIS_DB).catch(() => {});
  });

  it('only one instance probes: probe traffic is one round per interval, not two', async () => {
    const holder = await redis.get('mirrorgate:lease:probe');
    expect([a.control.instanceId, b.control.instanceId]).toContain(holder);

    net.clearLogs();
    const windowMs = 2_000;
    await sleep(windowMs);
    const rounds = windowMs / INTERVAL_MS;
    const originTraceReads = net.origin.requests.filter((r) => r.path === '/TIME').length;
    const perMirror = MIRRORS.map((id) => net.mirrors[id]!.requests.filter((r) => r.path === '/TIME').length);
    console.info(
      `[controlPlane.redis] in ${windowMs} ms (${rounds} intervals): origin TIME read ${originTraceReads}×, mirror TIME read ${perMirror.join('/')}×`,
    );
    // Doubled probing would be ~2 × rounds.
    for (const n of [originTraceReads, ...perMirror]) {
      expect(n).toBeGreaterThanOrEqual(rounds * 0.5);
      expect(n).toBeLessThanOrEqual(rounds * 1.4);
    }
    // The lease did not move while its holder kept renewing it.
    expect(await redis.get('mirrorgate:lease:probe')).toBe(holder);

    // Yet both know what the prober learned (the same records, give or take the round in flight).
    const agree = await waitFor(
      () => MIRRORS.every((id) => b.control.healthOf(id)?.checkedAt !== undefined && b.control.healthOf(id)?.checkedAt === a.control.healthOf(id)?.checkedAt),
      { timeoutMs: 2_000, everyMs: 5 },
    );
    expect(agree, `A: ${healthFacts(a)} / B: ${healthFacts(b)}`).toBeDefined();
    const [ra, rb] = [await mirrorsJson(a.url), await mirrorsJson(b.url)];
    for (const id of MIRRORS) expect(rb[id]!.status).toBe(ra[id]!.status);
  });

  it('a dead mirror gets no new downloads from either instance within the window', async () => {
    const t0 = performance.now();
    const r0 = probeRounds(net);
    await net.mirrors['de-near']!.setMode('down');
    const gone = (s: RunningServer) => waitFor(async () => (await choice(s.url, 'DE')) !== 'de-near', { since: t0, timeoutMs: 5_000, everyMs: 5 });
    const [ta, tb] = await Promise.all([gone(a), gone(b)]);
    console.info(`[controlPlane.redis] dead mirror out of routing: instance A ${ta?.toFixed(0)} ms, instance B ${tb?.toFixed(0)} ms (promise ${WINDOW_MS} ms)`);
    expect(ta).toBeDefined();
    expect(tb).toBeDefined();
    // The window in probe rounds: failuresToDown after the kill, plus the one in flight at it.
    expect(probeRounds(net) - r0, `A: ${healthFacts(a)} / B: ${healthFacts(b)}`).toBeLessThanOrEqual(FAILURES_TO_DOWN + 1);
    const [ra, rb] = [await mirrorsJson(a.url), await mirrorsJson(b.url)];
    expect(ra['de-near']).toMatchObject({ status: 'down', reason: 'connection refused' });
    expect(rb['de-near']).toMatchObject({ status: 'down', reason: 'connection refused' });
    for (let i = 0; i < 10; i++) {
      expect(await choice(a.url, 'DE')).not.toBe('de-near');
      expect(await choice(b.url, 'DE')).not.toBe('de-near');
      await sleep(30);
    }

    await net.mirrors['de-near']!.setMode('ok');
    const back = (s: RunningServer) => waitFor(async () => (await choice(s.url, 'DE')) === 'de-near', { timeoutMs: 5_000 });
    const [ba, bb] = await Promise.all([back(a), back(b)]);
    expect(ba).toBeDefined();
    expect(bb).toBeDefined();
  });

  it('a file a probe finds missing is taken off that mirror on both instances', async () => {
    await routesTo(a, 'de-near', 'guide');
    await routesTo(b, 'de-near', 'guide');
    const t0 = performance.now();
    await net.removeFile('de-near', 'guide');
    // The prober records it at once (its in-memory health record) ...
    expect(
      await waitFor(() => [a, b].some((s) => s.control.healthOf('de-near')?.missing?.includes(CFILES.guide.path)), { since: t0, timeoutMs: 3_000 }),
    ).toBeDefined();
    const off = (s: RunningServer) => waitFor(async () => (await choice(s.url, 'DE', 'guide')) !== 'de-near', { since: t0, timeoutMs: 3_000, everyMs: 10 });
    const [ta, tb] = await Promise.all([off(a), off(b)]);
    console.info(`[controlPlane.redis] missing file off de-near: instance A ${ta?.toFixed(0) ?? 'never'} ms, instance B ${tb?.toFixed(0) ?? 'never'} ms`);
    // The record travels through Redis with its `missing` list, so both instances route around the file.
    expect(ta).toBeDefined();
    expect(tb).toBeDefined();
    expect(b.control.healthOf('de-near')?.missing).toEqual([CFILES.guide.path]);
    await routesTo(b, 'de-near', 'readme');
    await routesTo(a, 'de-near', 'readme');
  });

  it('a drain on instance A reaches instance B within one second, and so does the undrain', async () => {
    await routesTo(b, 'de-near');
    const t0 = performance.now();
    const r = await staffCall(a.url, 'POST', '/admin/v1/mirrors/de-near/drain');
    expect(r.status).toBe(200);
    const onA = performance.now() - t0;
    expect(await choice(a.url, 'DE')).not.toBe('de-near');
    const onB = await waitFor(async () => (await choice(b.url, 'DE')) !== 'de-near', { since: t0, timeoutMs: 3_000, everyMs: 5 });
    console.info(`[controlPlane.redis] drain: A answered (and routes around it) after ${onA.toFixed(0)} ms, B avoids it after ${onB?.toFixed(0)} ms`);
    expect(onB).toBeDefined();
    expect(onB!).toBeLessThan(1_000);
    expect((await mirrorsJson(b.url))['de-near']!.status).toBe('draining');

    const t1 = performance.now();
    expect((await staffCall(a.url, 'POST', '/admin/v1/mirrors/de-near/undrain')).status).toBe(200);
    const backOnB = await waitFor(async () => (await choice(b.url, 'DE')) === 'de-near', { since: t1, timeoutMs: 3_000, everyMs: 5 });
    console.info(`[controlPlane.redis] undrain reached B after ${backOnB?.toFixed(0)} ms`);
    expect(backOnB).toBeDefined();
    expect(backOnB!).toBeLessThan(1_000);
  });

  it('when the probing instance stops, the other takes the lease over and a dead mirror still leaves routing', async () => {
    const holder = await redis.get('mirrorgate:lease:probe');
    const [prober, other] = holder === a.control.instanceId ? [a, b] : [b, a];
    expect(holder).toBe(prober.control.instanceId);
    expect(await waitFor(async () => (await choice(other.url, 'US_EAST')) === 'us-far', { timeoutMs: 3_000 })).toBeDefined();

    const t0 = performance.now();
    await net.stopServer(prober);
    const takeover = await waitFor(async () => (await redis.get('mirrorgate:lease:probe')) === other.control.instanceId, { since: t0, timeoutMs: 3_000 });
    console.info(`[controlPlane.redis] the survivor took the probe lease ${takeover?.toFixed(0)} ms after the prober stopped`);
    expect(takeover).toBeDefined();
    // The stopped holder's lease runs out (2 × interval after its last renewal), then the survivor's next tick takes it.
    expect(takeover!).toBeLessThan(INTERVAL_MS * 3 + SLACK_MS);

    const t1 = performance.now();
    const r1 = probeRounds(net);
    await net.mirrors['us-far']!.setMode('down');
    const out = await waitFor(async () => (await choice(other.url, 'US_EAST')) !== 'us-far', { since: t1, timeoutMs: 5_000, everyMs: 5 });
    console.info(`[controlPlane.redis] survivor: dead mirror out of routing after ${out?.toFixed(0)} ms`);
    expect(out).toBeDefined();
    expect(probeRounds(net) - r1, healthFacts(other)).toBeLessThanOrEqual(FAILURES_TO_DOWN + 1);
    expect((await mirrorsJson(other.url))['us-far']).toMatchObject({ status: 'down', reason: 'connection refused' });
    await net.mirrors['us-far']!.setMode('ok');
  });
});
