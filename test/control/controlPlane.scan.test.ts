// Inventory scans through the control plane and the admin API, against a real rsync daemon on loopback:
// the report, the routing that follows it, a failed scan that keeps the previous inventory, and a scan
// that brings back a file a probe had taken off.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import {
  ALL_FILES,
  CFILES,
  choice,
  haveProgram,
  IN_CI,
  INTERVAL_MS,
  mirrorsJson,
  MTIME,
  sleep,
  STAFF_TOKEN,
  staffCall,
  startControlNetwork,
  waitFor,
  writeSized,
  type CFileKey,
  type ControlNetwork,
  type RsyncDaemon,
} from '../helpers/controlNetwork.js';

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
    net = await startControlNetwork([
      { id: 'de-rsync', country: 'DE', lat: 52.52, lon: 13.405, holds: CURRENT, stale: STALE },
      { id: 'fr-far', country: 'FR', lat: 48.857, lon: 2.352 },
    ]);
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
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
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
    expect(stored?.entries.map((e) => e.path).sort()).toEqual([...CURRENT, ...STALE].map((k) => CFILES[k].path).sort());
  });
});

describe.skipIf(skip)('a scan after a probe found a file missing', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startControlNetwork([
      { id: 'de-rsync', country: 'DE', lat: 52.52, lon: 13.405 },
      { id: 'fr-far', country: 'FR', lat: 48.857, lon: 2.352 },
    ]);
    const daemon = await net.startRsyncDaemon(net.mirrors['de-rsync']!.root);
    net.mirrorEntries.find((m) => m.id === 'de-rsync')!.rsyncUrl = daemon.url;
    server = await net.startServer({ health: { sampleFiles: 10 } });
    const ok = await waitFor(async () => (await choice(server.url, 'DE')) === 'de-rsync' && server.control.healthOf('de-rsync')?.health === 'up', {
      timeoutMs: 5_000,
    });
    if (ok === undefined) throw new Error('de-rsync not probed up');
  });
  afterAll(async () => {
    await net?.close();
  });

  it('keeps the file off until a scan sees it again, then routes it back', async () => {
    const readme = CFILES.readme;
    const local = `${net.mirrors['de-rsync']!.root}/${readme.path}`;
    const bytes = await readFile(local);
    expect(bytes.length).toBe(readme.size);
    await net.removeFile('de-rsync', 'readme');
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'fr-far', { timeoutMs: 3_000 })).toBeDefined();

    // The provider puts it back: probes no longer sample a file they took off, so it stays off ...
    await writeSized(net.mirrors['de-rsync']!.root, readme.path, readme.size, MTIME);
    await sleep(INTERVAL_MS * 3);
    expect(await choice(server.url, 'DE', 'readme')).toBe('fr-far');

    // ... until a scan lists it with the origin's size and mtime.
    const r = await staffCall(server.url, 'POST', '/admin/v1/mirrors/de-rsync/scan');
    expect(r.status).toBe(200);
    expect(r.json.report).toMatchObject({ expected: 5, current: 5, completion: 1 });
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'readme')) === 'de-rsync', { timeoutMs: 1_000 })).toBeDefined();
    expect(server.control.healthOf('de-rsync')?.missing).toBeUndefined();
  });
});
