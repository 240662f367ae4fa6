// The control plane's probe loop end to end, one instance on the memory store: loopback mirrors that die,
// lose a file, lag or stall are taken out of routing within the promised window, shown with a reason on
// /mirrors, and brought back only after enough good probes.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import {
  ALL_FILES,
  CFILES,
  CONTROL_SETUP,
  healthFacts,
  probeRounds,
  INTERVAL_MS,
  startNetwork,
  TIMEOUT_MS,
  TRACE_TIME,
  type CFileKey,
  type ControlNetwork,
  STEADY_HEALTH,
} from '../support/network.js';
import { choice, download, mirrorsJson } from '../support/requests.js';
import { sleep, waitFor } from '../support/wait.js';

const FAILURES_TO_DOWN = 2;
const SUCCESSES_TO_UP = 2;
/** The promise: a dead mirror gets no new downloads within interval × failuresToDown + timeout. */
const WINDOW_MS = INTERVAL_MS * FAILURES_TO_DOWN + TIMEOUT_MS;

/** Waits until every mirror of the server has been probed up and a client in Germany is sent to de-near. */
async function allUp(server: RunningServer, ids: readonly string[]): Promise<void> {
  const ms = await waitFor(async () => ids.every((id) => server.control.healthOf(id)?.health === 'up') && (await choice(server.url, 'DE')) === 'de-near', {
    timeoutMs: 5_000,
  });
  if (ms === undefined) {
    const facts = ids.map((id) => `${id}=${server.control.healthOf(id)?.health} (${server.control.healthOf(id)?.reason ?? ''})`);
    throw new Error(`mirrors not all up and routed: ${facts.join(', ')}`);
  }
}

/** Waits (up to 5 s) until a German client is sent to `id` for `key`; fails the test with the health facts if never. */
async function routedTo(server: RunningServer, id: string, key: CFileKey = 'readme'): Promise<void> {
  const ms = await waitFor(async () => (await choice(server.url, 'DE', key)) === id, { timeoutMs: 5_000 });
  expect(ms, `never routed to ${id}: ${JSON.stringify(server.control.healthOf(id))}`).toBeDefined();
}

const MIRRORS = ['de-near', 'fr-far', 'us-far'];

/** The Location a redirect to `mirror` ('origin' for the origin) must carry for `path`. */
function expectedLocation(net: ControlNetwork, mirror: string, path: string): string {
  const base = mirror === 'origin' ? net.origin.baseUrl : net.mirrors[mirror]!.baseUrl;
  return `${base}${encodeURI(path)}`;
}

describe('a dead mirror (connection refused)', () => {
  let net: ControlNetwork;
  let server: RunningServer;
  const detections: number[] = [];

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    server = await net.startServer();
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    await net?.close();
  });

  it(`gets no new downloads within interval × failuresToDown + timeout (${WINDOW_MS} ms), three times over`, async () => {
    const victim = net.mirrors['de-near']!;
    for (let trial = 0; trial < 3; trial++) {
      await routedTo(server, 'de-near');
      // Kill it at a random point of the probe cycle.
      await sleep(Math.random() * INTERVAL_MS);
      const r0 = probeRounds(net);
      const t0 = performance.now();
      await victim.setMode('down');
      const elapsed = await waitFor(async () => (await choice(server.url, 'DE')) !== 'de-near', { since: t0, timeoutMs: 5_000, everyMs: 5 });
      expect(elapsed, 'the dead mirror was never taken out of routing').toBeDefined();
      detections.push(elapsed!);
      // failuresToDown rounds after the kill, plus the round in flight at the kill.
      // The window in the control plane's own unit (milliseconds stretch on a loaded machine; rounds do not).
      expect(probeRounds(net) - r0, healthFacts(server)).toBeLessThanOrEqual(FAILURES_TO_DOWN + 1);

      // Counted downloads go elsewhere (the next mirror, or the origin should a loaded machine time out
      // the others' probes too), and keep doing so: no flapping back.
      for (let i = 0; i < 20; i++) {
        const d = await download(server.url, 'DE');
        expect(d.status).toBe(302);
        expect(d.mirror, healthFacts(server)).not.toBe('de-near');
        expect(d.location).toBe(expectedLocation(net, d.mirror!, CFILES.readme.path));
        await sleep(25);
      }

      const rows = await mirrorsJson(server.url);
      expect(rows['de-near']).toMatchObject({ status: 'down', reason: 'connection refused' });

      await victim.setMode('ok');
      await routedTo(server, 'de-near');
    }
    console.info(`[controlPlane.health] dead-mirror detection (ms): ${detections.map((d) => d.toFixed(0)).join(', ')} (promise ${WINDOW_MS} ms)`);
  });

  it(`comes back only after successesToUp (${SUCCESSES_TO_UP}) good probes in a row`, async () => {
    const victim = net.mirrors['de-near']!;
    await victim.setMode('down');
    expect(await waitFor(async () => (await choice(server.url, 'DE')) !== 'de-near', { timeoutMs: 5_000 })).toBeDefined();
    // Stays down while it is dead: several more rounds, never routed.
    for (let i = 0; i < 10; i++) {
      expect(await choice(server.url, 'DE')).not.toBe('de-near');
      await sleep(INTERVAL_MS / 4);
    }
    expect(server.control.healthOf('de-near')!.consecutiveFailures).toBeGreaterThanOrEqual(FAILURES_TO_DOWN + 2);

    const seen: { health: string; successes: number; routedTo: string }[] = [];
    const t0 = performance.now();
    await victim.setMode('ok');
    const back = await waitFor(
      async () => {
        const h = server.control.healthOf('de-near')!;
        const routedTo = await choice(server.url, 'DE');
        seen.push({ health: h.health, successes: h.consecutiveSuccesses, routedTo });
        return routedTo === 'de-near';
      },
      { since: t0, timeoutMs: 5_000, everyMs: 5 },
    );
    expect(back).toBeDefined();
    console.info(`[controlPlane.health] recovery after ${back!.toFixed(0)} ms`);
    // One good probe was seen and did not bring it back on its own.
    expect(seen.some((s) => s.health === 'down' && s.successes === 1 && s.routedTo !== 'de-near')).toBe(true);
    const h = server.control.healthOf('de-near')!;
    expect(h.health).toBe('up');
    expect(h.consecutiveSuccesses).toBeGreaterThanOrEqual(SUCCESSES_TO_UP);
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']!.status).toBe('up');
    expect(rows['de-near']!.reason).toBeNull();
  });

  it('shows the probe latency (moving average) on /mirrors', async () => {
    // One more round, driven here rather than waited for.
    await server.control.probeAll(['de-near']);
    expect(server.control.healthOf('de-near')!.latencyMs).toEqual(expect.any(Number));
    const rows = await mirrorsJson(server.url);
    // The probe latency's moving average is shown on /mirrors.
    expect(rows['de-near']!.latencyMs).toEqual(expect.any(Number));
  });
});

describe('a file a probe finds missing', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    // More samples than files: every file each mirror carries is checked every round.
    server = await net.startServer({ health: { ...STEADY_HEALTH, sampleFiles: 10 } });
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('is taken off that mirror by the next probe round, while its other files still go to it', async () => {
    for (const key of ALL_FILES) await routedTo(server, 'de-near', key);
    const r0 = probeRounds(net);
    const t0 = performance.now();
    await net.removeFile('de-near', 'readme');
    // Taken off for the right reason: de-near's own record lists the file missing (not a probe timeout).
    const missing = () => server.control.healthOf('de-near')?.missing?.includes(CFILES.readme.path) === true;
    const elapsed = await waitFor(async () => missing() && (await choice(server.url, 'DE', 'readme')) !== 'de-near', {
      since: t0,
      timeoutMs: 8_000,
      everyMs: 5,
    });
    expect(elapsed, healthFacts(server)).toBeDefined();
    const took = probeRounds(net) - r0;
    console.info(`[controlPlane.health] missing file taken off after ${elapsed!.toFixed(0)} ms (${took} probe rounds started meanwhile)`);
    // At once: by the next probe round (the one in flight at the removal may have sampled it already).
    expect(took, healthFacts(server)).toBeLessThanOrEqual(2);

    const d = await download(server.url, 'DE', 'readme');
    expect(d.status).toBe(302);
    expect(d.mirror).not.toBe('de-near');
    for (const key of ALL_FILES.filter((k) => k !== 'readme')) await routedTo(server, 'de-near', key);

    // The mirror itself stays up; the file is listed as missing on its health record.
    await routedTo(server, 'de-near', 'app10');
    const health = server.control.healthOf('de-near')!;
    expect(health.health).toBe('up');
    expect(health.missing).toEqual([CFILES.readme.path]);
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']!.status).toBe('up');
    expect(rows['de-near']!.files).toBe(ALL_FILES.length - 1);
    const file = (await (await fetch(`${server.url}/api/v1/files/${CFILES.readme.path}`, { headers: { 'X-Forwarded-For': CLIENT_IPS.SE.ip } })).json()) as {
      mirrors: { id: string }[];
    };
    expect(file.mirrors.map((m) => m.id).sort()).toEqual(['fr-far', 'us-far']);

    // Still off a few rounds later.
    await sleep(INTERVAL_MS * 3);
    expect(await choice(server.url, 'DE', 'readme')).not.toBe('de-near');
    await routedTo(server, 'de-near', 'app10');
  });
});

describe('a file a probe finds missing, with fewer samples per probe than files', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    // One fresh sample a round: the file found missing is looked at again on top of it, never dropped unchecked.
    server = await net.startServer({ health: { ...STEADY_HEALTH, sampleFiles: 1 } });
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('stays off round after round while it is missing, and comes back once a probe finds it again', async () => {
    await net.removeFile('de-near', 'readme');
    const missing = () => server.control.healthOf('de-near')?.missing?.includes(CFILES.readme.path) === true;
    // A round samples one file at random: the removed one is found within some rounds (or a scan would find it).
    expect(
      await waitFor(async () => missing() && (await choice(server.url, 'DE', 'readme')) !== 'de-near', { timeoutMs: 30_000, everyMs: 20 }),
      healthFacts(server),
    ).toBeDefined();
    const r0 = probeRounds(net);
    while (probeRounds(net) - r0 < 6) {
      expect(missing(), healthFacts(server)).toBe(true);
      expect(await choice(server.url, 'DE', 'readme')).not.toBe('de-near');
      await sleep(INTERVAL_MS / 4);
    }
    await net.placeFile('de-near', 'readme');
    expect(
      await waitFor(async () => !missing() && (await choice(server.url, 'DE', 'readme')) === 'de-near', { timeoutMs: 8_000 }),
      healthFacts(server),
    ).toBeDefined();
  });
});

describe('a lagging mirror', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    server = await net.startServer({ health: STEADY_HEALTH });
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('within maxLag stays up and routed, its lag shown', async () => {
    await net.setTrace('de-near', TRACE_TIME - 30);
    expect(await waitFor(() => server.control.healthOf('de-near')?.lagSeconds === 30, { timeoutMs: 3_000 })).toBeDefined();
    await sleep(60);
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']).toMatchObject({ status: 'up', lagSeconds: 30, lastSync: new Date((TRACE_TIME - 30) * 1000).toISOString() });
    expect(await choice(server.url, 'DE')).toBe('de-near');
  });

  it('2 h behind the origin with maxLag 1h is syncing and gets no downloads; fixing its trace brings it back', async () => {
    const r0 = probeRounds(net);
    const t0 = performance.now();
    await net.setTrace('de-near', TRACE_TIME - 7_200);
    const lagging = () => server.control.healthOf('de-near')?.lagSeconds === 7_200;
    const out = await waitFor(async () => lagging() && (await choice(server.url, 'DE')) !== 'de-near', { since: t0, timeoutMs: 8_000, everyMs: 5 });
    expect(out, healthFacts(server)).toBeDefined();
    const took = probeRounds(net) - r0;
    console.info(`[controlPlane.health] lagging mirror out after ${out!.toFixed(0)} ms (${took} probe rounds started meanwhile)`);
    expect(took, healthFacts(server)).toBeLessThanOrEqual(2);
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']).toMatchObject({ status: 'syncing', lagSeconds: 7_200 });
    for (const key of ALL_FILES) {
      const d = await download(server.url, 'DE', key);
      expect(d.status).toBe(302);
      expect(d.mirror, healthFacts(server)).not.toBe('de-near');
    }
    // A lagging mirror still answers probes: it is not down, only not synced.
    expect(server.control.healthOf('de-near')!.health).toBe('up');

    const r1 = probeRounds(net);
    await net.setTrace('de-near', TRACE_TIME);
    const back = await waitFor(async () => (await choice(server.url, 'DE')) === 'de-near', { timeoutMs: 8_000, everyMs: 5 });
    expect(back, healthFacts(server)).toBeDefined();
    // A synced copy needs no hysteresis: the next good probe brings it back.
    expect(probeRounds(net) - r1, healthFacts(server)).toBeLessThanOrEqual(2);
    const after = await mirrorsJson(server.url);
    expect(after['de-near']).toMatchObject({ status: 'up', lagSeconds: 0 });
  });
});

describe('a stalling mirror', () => {
  let net: ControlNetwork;
  let server: RunningServer;
  let slowBody: Server;
  const held = new Set<ServerResponse>();

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    // Sends headers and a few bytes of every body, then nothing: a wedged disk behind a live web server.
    slowBody = createServer((_req, res) => {
      held.add(res);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
      res.write('17672');
    });
    await new Promise<void>((resolve) => slowBody.listen(0, '127.0.0.1', resolve));
    net.mirrorEntries.push({
      id: 'se-slow-body',
      name: 'Slow body',
      baseUrl: `http://127.0.0.1:${(slowBody.address() as AddressInfo).port}/`,
      country: 'SE',
      lat: 59.33,
      lon: 18.07,
      content: { include: ['pub/**'] },
    });
    server = await net.startServer();
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    slowBody?.closeAllConnections();
    await new Promise<void>((resolve) => (slowBody ? slowBody.close(() => resolve()) : resolve()));
    await net?.close();
  });

  it('that accepts and never answers is down with a timeout reason, within the window', async () => {
    await routedTo(server, 'de-near');
    const r0 = probeRounds(net);
    const t0 = performance.now();
    await net.mirrors['de-near']!.setMode('stall');
    const elapsed = await waitFor(async () => (await choice(server.url, 'DE')) !== 'de-near', { since: t0, timeoutMs: 5_000, everyMs: 5 });
    expect(elapsed).toBeDefined();
    console.info(`[controlPlane.health] stalled mirror out after ${elapsed!.toFixed(0)} ms`);
    expect(probeRounds(net) - r0, healthFacts(server)).toBeLessThanOrEqual(FAILURES_TO_DOWN + 1);
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']!.status).toBe('down');
    expect(rows['de-near']!.reason).toMatch(/^(timeout after 150 ms|stalled body)$/);

    await net.mirrors['de-near']!.setMode('ok');
    await routedTo(server, 'de-near');
  });

  it('whose body stalls after the headers is down with reason "stalled body"', async () => {
    expect(await waitFor(() => server.control.healthOf('se-slow-body')?.health === 'down', { timeoutMs: 5_000 })).toBeDefined();
    const rows = await mirrorsJson(server.url);
    expect(rows['se-slow-body']).toMatchObject({ status: 'down', reason: 'stalled body' });
    expect(await choice(server.url, 'SE')).not.toBe('se-slow-body');
  });

  it('that answers 404 to everything (its trace too) is down: no trace, and no sample vouches for it', async () => {
    await routedTo(server, 'de-near');
    await net.mirrors['de-near']!.setMode('404');
    expect(await waitFor(async () => (await choice(server.url, 'DE')) !== 'de-near', { timeoutMs: 5_000 })).toBeDefined();
    const rows = await mirrorsJson(server.url);
    expect(rows['de-near']!.status).toBe('down');
    expect(rows['de-near']!.reason).toMatch(/^no trace file \(HTTP 404\); sample missing: pub\/[^;]+; sample missing: pub\//);
    await net.mirrors['de-near']!.setMode('ok');
  });
});

describe('a file changed at the origin after the mirrors last synced', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    server = await net.startServer({ health: STEADY_HEALTH });
    await allUp(server, MIRRORS);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('is served from the origin until a probe sees a mirror synced past it, then from that mirror', async () => {
    await routedTo(server, 'de-near', 'app10');
    // A new release of the file and a new origin trace; the mirrors still carry the old copy.
    const newMtime = TRACE_TIME + 600;
    await net.changeOriginFile('app10', CFILES.app10.size + 10, newMtime);
    await net.setOriginTrace(newMtime + 60);
    // The origin index is looked at every 5 s (test/integration/download.test.ts waits for that); here the look is driven.
    await server.control.refreshOrigin();
    const served = await waitFor(async () => (await choice(server.url, 'DE', 'app10')) === 'origin', { timeoutMs: 2_000, everyMs: 50 });
    expect(served, healthFacts(server)).toBeDefined();
    const d = await download(server.url, 'DE', 'app10');
    expect(d).toMatchObject({ status: 302, mirror: 'origin', location: expectedLocation(net, 'origin', CFILES.app10.path) });
    // Other files stay on the (600 s behind, so within maxLag) mirrors.
    await routedTo(server, 'de-near', 'readme');
    await sleep(INTERVAL_MS * 2);
    expect(await choice(server.url, 'DE', 'app10')).toBe('origin');

    // de-near syncs: the new copy, then its trace. The next probe reads the trace and routes the file there.
    await net.placeFile('de-near', 'app10');
    await net.setTrace('de-near', newMtime + 60);
    await routedTo(server, 'de-near', 'app10');
    expect(server.control.healthOf('de-near')).toMatchObject({ lastSync: newMtime + 60, lagSeconds: 0 });
    // fr-far has not synced: a French client gets the new file from de-near, not from fr-far's old copy.
    expect(await choice(server.url, 'FR', 'app10')).toBe('de-near');
    expect(await choice(server.url, 'FR', 'readme')).toBe('fr-far');
  });
});
