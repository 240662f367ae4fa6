// Inventory scans through the control plane and the admin API, against a real rsync daemon on loopback:
// the report, the routing that follows it, a failed scan that keeps the previous inventory, and a scan
// that brings back a file a probe had taken off.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import {
  ALL_FILES,
  CFILES,
  CONTROL_SETUP,
  mirrorIn,
  haveProgram,
  IN_CI,
  INTERVAL_MS,
  MTIME,
  STAFF_TOKEN,
  startNetwork,
  STEADY_HEALTH,
  writeSized,
  type CFileKey,
  type ControlNetwork,
} from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { choice, mirrorsJson, staffCall } from '../support/requests.js';
import type { RsyncDaemon } from '../support/rsyncDaemon.js';
import { waitFor } from '../support/wait.js';

const hasRsync = await haveProgram('rsync');
const skip = !hasRsync && !IN_CI;
if (skip) console.warn('[controlPlane.scan] skipped: no rsync program on PATH');

/** What de-rsync really holds: two current files, one stale copy; the iso and the guide are missing. */
const CURRENT: CFileKey[] = ['readme', 'app10'];
const STALE: CFileKey[] = ['app11'];
const MISSING: CFileKey[] = ['iso', 'guide'];

describe.skipIf(skip)('scan via the admin API against a real rsync daemon', () => {
  let net: ControlNetwork;
  let daemon: RsyncDaemon;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork({ ...CONTROL_SETUP, plans: [mirrorIn('de-rsync', 'DE', { holds: CURRENT, stale: STALE }), mirrorIn('fr-far', 'FR')] });
    daemon = await net.startRsyncDaemon(net.mirrors['de-rsync']!.root);
    net.mirrorEntries.find((m) => m.id === 'de-rsync')!.rsyncUrl = daemon.url;
    // No probes: routing here follows inventories alone.
    server = await net.startServer({ health: { enabled: false } });
  });
  afterAll(async () => {
    await net?.close();
  });

  it('before any scan, the mirror is trusted by its include rules for every file', async () => {
    for (const key of ALL_FILES) expect(await choice(server.url, 'DE', key)).toBe('de-rsync');
  });

  it('POST /admin/v1/mirrors/{id}/scan returns the report, and routing follows it at once', async () => {
    const t0 = performance.now();
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/de-rsync/scan');
    console.info(`[controlPlane.scan] scan over rsync took ${(performance.now() - t0).toFixed(0)} ms`);
    expect(r.status).toBe(200);
    expect(r.json.mirror).toBe('de-rsync');
    expect(r.json.report).toMatchObject({
      expected: 5,
      current: 2,
      missing: 2,
      stale: 1,
      completion: 0.4,
      // Its trace file TIME is not in the origin file set.
      entries: 4,
      foreign: 1,
      unparsed: 0,
    });
    expect([...r.json.report.missingSample].sort()).toEqual(MISSING.map((k) => CFILES[k].path).sort());
    expect(r.json.report.staleSample).toEqual(STALE.map((k) => CFILES[k].path));

    // The stale and the missing files now go elsewhere; the current ones still go to it.
    for (const key of [...STALE, ...MISSING]) expect(await choice(server.url, 'DE', key), key).toBe('fr-far');
    for (const key of CURRENT) expect(await choice(server.url, 'DE', key), key).toBe('de-rsync');
    const rows = await mirrorsJson(server.url);
    expect(rows['de-rsync']).toMatchObject({ files: 2, share: 0.4 });

    const audit = await staffCall(server.url, 'GET', '/admin/v1/audit?action=mirror.scan');
    expect(audit.status).toBe(200);
    expect(audit.json.entries ?? audit.json).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'ops', target: 'mirror:de-rsync' })]));
  });

  it('streams progress and the report as NDJSON for the CLI', async () => {
    const res = await fetch(`${server.url}/admin/v1/mirrors/de-rsync/scan`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${STAFF_TOKEN}`, Accept: 'application/x-ndjson' },
    });
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ mirror: 'de-rsync', report: { completion: 0.4 } });
  });

  it('a scan of a mirror without rsyncUrl, or of no mirror, is refused with a reason', async () => {
    const none = await staffCall(server.url, 'POST', '/admin/v1/mirrors/fr-far/scan');
    expect(none.status).toBeGreaterThanOrEqual(400);
    expect(none.status).toBeLessThan(500);
    expect(none.json?.error).toMatch(/rsyncUrl/);
    const unknown = await staffCall(server.url, 'POST', '/admin/v1/mirrors/nope/scan');
    expect(unknown.status).toBe(404);
  });

  it('a scan against a dead daemon fails with a message and keeps the previous inventory', async () => {
    daemon.stop();
    await waitFor(() => daemon.process.exitCode !== null || daemon.process.signalCode !== null, { timeoutMs: 2_000 });
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/de-rsync/scan');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(600);
    expect(r.json?.error, r.text).toMatch(/rsync/);
    expect(r.json?.error).toMatch(/refused|socket/i);
    console.info(`[controlPlane.scan] dead daemon: ${r.status} ${r.json?.error}`);

    // Routing unchanged: the inventory of the last good scan still decides.
    for (const key of [...STALE, ...MISSING]) expect(await choice(server.url, 'DE', key), key).toBe('fr-far');
    for (const key of CURRENT) expect(await choice(server.url, 'DE', key), key).toBe('de-rsync');
    expect((await mirrorsJson(server.url))['de-rsync']).toMatchObject({ files: 2, share: 0.4 });
    // And the kept inventory is what the store holds, not only this instance's snapshot.
    const stored = await server.store.getInventory('de-rsync');
    expect(stored?.source).toBe('rsync');
    // The origin files it lists (and what the origin lacks: its trace file).
    expect(
      stored?.entries
        .map((e) => e.path)
        .filter((p) => p !== 'TIME')
        .sort(),
    ).toEqual([...CURRENT, ...STALE].map((k) => CFILES[k].path).sort());
  });
});

describe.skipIf(skip)('a scan after a probe found a file missing', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork({ ...CONTROL_SETUP, plans: [mirrorIn('de-rsync', 'DE'), mirrorIn('fr-far', 'FR')] });
    const daemon = await net.startRsyncDaemon(net.mirrors['de-rsync']!.root);
    net.mirrorEntries.find((m) => m.id === 'de-rsync')!.rsyncUrl = daemon.url;
    // About files, not outages: probes a loaded machine cannot time out into "down".
    server = await net.startServer({ health: { ...STEADY_HEALTH, sampleFiles: 10 } });
    const ok = await waitFor(async () => (await choice(server.url, 'DE')) === 'de-rsync' && server.control.healthOf('de-rsync')?.health === 'up', {
      timeoutMs: 10_000,
    });
    if (ok === undefined) throw new Error('de-rsync not probed up');
  });
  afterAll(async () => {
    await net?.close();
  });

  it('keeps the file off until a probe or a scan sees it again, then routes it back', async () => {
    const readme = CFILES.readme;
    const local = `${net.mirrors['de-rsync']!.root}/${readme.path}`;
    const bytes = await readFile(local);
    expect(bytes.length).toBe(readme.size);
    await net.removeFile('de-rsync', 'readme');
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'fr-far', { timeoutMs: 6_000 })).toBeDefined();

    // The provider puts it back: probes look at files they took off again, so it returns ...
    await writeSized(net.mirrors['de-rsync']!.root, readme.path, readme.size, MTIME);
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'de-rsync', { timeoutMs: 6_000 })).toBeDefined();

    // ... and a scan, which lists it with the origin's size and mtime, agrees and clears the record.
    await net.removeFile('de-rsync', 'readme');
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'fr-far', { timeoutMs: 6_000 })).toBeDefined();
    await writeSized(net.mirrors['de-rsync']!.root, readme.path, readme.size, MTIME);
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/de-rsync/scan');
    expect(r.status).toBe(200);
    expect(r.json.report).toMatchObject({ expected: 5, current: 5, completion: 1 });
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'de-rsync', { timeoutMs: 3_000 })).toBeDefined();
    expect(server.control.healthOf('de-rsync')?.missing).toBeUndefined();
  });
});

describe.skipIf(skip)('scans launch accepted mirrors, and run on their own', () => {
  let net: ControlNetwork;
  let server: RunningServer;
  const daemons: Record<string, RsyncDaemon> = {};

  beforeAll(async () => {
    net = await startNetwork({
      ...CONTROL_SETUP,
      plans: [
        mirrorIn('de-near', 'DE'),
        mirrorIn('fr-far', 'FR'),
        // Not in the config: trees offered later through the offers API.
        mirrorIn('se-full', 'SE'),
        mirrorIn('no-partial', 'NO', { holds: CURRENT, stale: STALE }),
        // In the config with an rsyncUrl, scanned by the scheduled loop only.
        mirrorIn('gb-sched', 'GB', { holds: CURRENT, stale: STALE }),
      ],
    });
    for (const id of ['se-full', 'no-partial', 'gb-sched']) daemons[id] = await net.startRsyncDaemon(net.mirrors[id]!.root);
    net.mirrorEntries.splice(0, net.mirrorEntries.length, ...net.mirrorEntries.filter((m) => m.id !== 'se-full' && m.id !== 'no-partial'));
    net.mirrorEntries.find((m) => m.id === 'gb-sched')!.rsyncUrl = daemons['gb-sched']!.url;
    server = await net.startServer({
      health: { enabled: false },
      mutate: (c) => {
        c.scan = { interval: '700ms', timeout: '20s', launchCompletion: 0.99 };
      },
    });
  });
  afterAll(async () => {
    await net?.close();
  });

  async function offerAndAccept(id: string, country: string, lat: number, lon: number): Promise<void> {
    const offered = await fetch(`${server.url}/api/v1/offers`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.7' },
      body: JSON.stringify({
        contact: { name: 'Provider', email: 'ops@example.org' },
        organisation: `Org ${id}`,
        location: { country },
        storageTB: 12,
        bandwidthMbps: 1_000,
        baseUrl: net.mirrors[id]!.baseUrl,
        rsyncUrl: daemons[id]!.url,
      }),
    });
    expect(offered.status).toBe(201);
    const { id: offerId } = (await offered.json()) as { id: string };
    const accepted = await staffCall(server.url, 'POST', `/admin/v1/offers/${offerId}/accept`, { mirror: { id, lat, lon, content: { include: ['pub/**'] } } });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.json.mirror).toMatchObject({ lifecycle: 'syncing', spec: { id, rsyncUrl: daemons[id]!.url } });
  }

  it('an accepted mirror is scanned at once, and goes live when the scan shows it complete, with no scan asked for', async () => {
    await offerAndAccept('se-full', 'SE', 59.33, 18.07);
    // The accept starts the first scan (test/admin/… cannot show it apart from this file's 700 ms scan rounds; by default they are hours apart).
    expect(await waitFor(async () => (await choice(server.url, 'SE')) === 'se-full', { timeoutMs: 10_000 })).toBeDefined();
    expect((await staffCall(server.url, 'GET', '/admin/v1/mirrors/se-full')).json.lifecycle).toBe('active');
    const audit = await staffCall(server.url, 'GET', '/admin/v1/audit?action=mirror.launch');
    expect(audit.json.entries).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'scanner', target: 'mirror:se-full' })]));
    // A scan asked for by hand reports the same.
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/se-full/scan');
    expect(r.status).toBe(200);
    expect(r.json.report).toMatchObject({ expected: 5, current: 5, completion: 1 });
  });

  it('one whose scan falls short of launchCompletion stays syncing', async () => {
    await offerAndAccept('no-partial', 'NO', 59.91, 10.75);
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/no-partial/scan');
    expect(r.status).toBe(200);
    expect(r.json.report.completion).toBe(0.4);
    // A launch would have been written before the scan answered: the store says at once.
    expect((await server.store.getOverrides()).get('no-partial')?.lifecycle).toBe('syncing');
    expect((await staffCall(server.url, 'GET', '/admin/v1/mirrors/no-partial')).json.lifecycle).toBe('syncing');
    expect((await mirrorsJson(server.url))['no-partial']!.status).toBe('syncing');
    expect(await choice(server.url, 'NO')).not.toBe('no-partial');
  });

  it('the scheduled scan loop scans mirrors with an rsyncUrl without being asked', async () => {
    const scanned = await waitFor(async () => (await server.store.getInventory('gb-sched')) !== undefined, { timeoutMs: 5_000, everyMs: 50 });
    expect(scanned).toBeDefined();
    const stale = await waitFor(async () => (await choice(server.url, 'GB', 'app11')) !== 'gb-sched', { timeoutMs: 2_000 });
    expect(stale).toBeDefined();
    expect(await choice(server.url, 'GB', 'iso')).not.toBe('gb-sched');
    expect(await choice(server.url, 'GB', 'readme')).toBe('gb-sched');
    expect((await mirrorsJson(server.url))['gb-sched']).toMatchObject({ files: 2, share: 0.4 });
  });
});

const REDIS_DB = 12;
const skipRedis = skip || (await skipWithoutRedis(REDIS_DB, 'controlPlane.scan: a scan seen by a second instance'));

describe.skipIf(skipRedis)('a scan on one instance sharing Redis', () => {
  let net: ControlNetwork;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    net = await startNetwork({ ...CONTROL_SETUP, plans: [mirrorIn('de-rsync', 'DE', { holds: CURRENT, stale: STALE }), mirrorIn('fr-far', 'FR')] });
    const daemon = await net.startRsyncDaemon(net.mirrors['de-rsync']!.root);
    net.mirrorEntries.find((m) => m.id === 'de-rsync')!.rsyncUrl = daemon.url;
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    a = await net.startServer({ env, health: { enabled: false } });
    b = await net.startServer({ env, health: { enabled: false } });
  });
  afterAll(async () => {
    await net?.close();
    if (!skipRedis) await flushRedis(REDIS_DB).catch(() => {});
  });

  it('changes routing on the other instance within a second', async () => {
    for (const key of ALL_FILES) expect(await choice(b.url, 'DE', key)).toBe('de-rsync');
    const r = await staffCall(a.url, 'POST', '/admin/v1/mirrors/de-rsync/scan');
    expect(r.status).toBe(200);
    const t0 = performance.now();
    // The instance that scanned answers by the new inventory as soon as it has answered the scan.
    const onA = await choice(a.url, 'DE', 'app11');
    const seen = await waitFor(async () => (await choice(b.url, 'DE', 'app11')) !== 'de-rsync', { since: t0, timeoutMs: 3_000, everyMs: 5 });
    console.info(`[controlPlane.scan] scan on A reached B ${seen?.toFixed(0)} ms after A answered`);
    expect(seen).toBeDefined();
    expect(seen!).toBeLessThan(1_000);
    for (const key of [...STALE, ...MISSING]) expect(await choice(b.url, 'DE', key), key).toBe('fr-far');
    for (const key of CURRENT) expect(await choice(b.url, 'DE', key), key).toBe('de-rsync');
    expect(onA).toBe('fr-far');
    for (const key of [...STALE, ...MISSING]) expect(await choice(a.url, 'DE', key), key).toBe('fr-far');
  });
});
