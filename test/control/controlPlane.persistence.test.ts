// The memory store keeps health and staff overrides across a restart on the same dataDir: a server is
// stopped and started again with probes off, so whatever it shows can only have come from disk.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { CFILES, CONTROL_SETUP, startNetwork, STEADY_HEALTH, TRACE_TIME, type ControlNetwork } from '../support/network.js';
import { choice, mirrorsJson, staffCall } from '../support/requests.js';
import { waitFor } from '../support/wait.js';

const MIRRORS = ['de-near', 'fr-far', 'us-far'];

describe('restart on the same dataDir (memory store)', () => {
  let net: ControlNetwork;
  let dataDir: string;
  let first: RunningServer;

  beforeAll(async () => {
    net = await startNetwork(CONTROL_SETUP);
    dataDir = path.join(net.dir, 'persisted');
    // About what persists, not outages: probes a loaded machine cannot time out into "down".
    first = await net.startServer({ dataDir, health: { ...STEADY_HEALTH, sampleFiles: 10 } });
    const up = await waitFor(async () => MIRRORS.every((id) => first.control.healthOf(id)?.health === 'up') && (await choice(first.url, 'DE')) === 'de-near', {
      timeoutMs: 10_000,
    });
    if (up === undefined) throw new Error('mirrors not probed up');
  });
  afterAll(async () => {
    await net?.close();
  });

  it('keeps a drain, a weight, a dead mirror with its reason and a missing file', async () => {
    // Staff changes.
    expect((await staffCall(first.url, 'POST', '/admin/v1/mirrors/de-near/drain')).status).toBe(200);
    expect((await staffCall(first.url, 'PATCH', '/admin/v1/mirrors/fr-far', { weight: 250 })).status).toBe(200);
    // Probe findings: a dead mirror and a file gone from another.
    await net.mirrors['us-far']!.setMode('down');
    await net.removeFile('fr-far', 'guide');
    // Waits for the records' own reasons: us-far down for the refused connection, guide missing on fr-far.
    const seen = await waitFor(
      () =>
        first.control.healthOf('us-far')?.health === 'down' &&
        first.control.healthOf('fr-far')?.missing?.includes(CFILES.guide.path) === true &&
        first.control.healthOf('fr-far')?.health === 'up',
      { timeoutMs: 10_000 },
    );
    expect(seen).toBeDefined();
    expect(await waitFor(async () => (await choice(first.url, 'US_EAST')) !== 'us-far' && (await choice(first.url, 'FR', 'guide')) !== 'fr-far')).toBeDefined();
    const before = await mirrorsJson(first.url);
    expect(before['de-near']!.status).toBe('draining');
    expect(before['us-far']).toMatchObject({ status: 'down', reason: 'connection refused' });
    await net.stopServer(first);

    // Probes off: only the persisted state can speak.
    const second = await net.startServer({ dataDir, health: { enabled: false } });
    const rows = await mirrorsJson(second.url);
    expect(rows['de-near']!.status).toBe('draining');
    expect(rows['fr-far']).toMatchObject({ status: 'up', weight: 250 });
    expect(rows['us-far']).toMatchObject({ status: 'down', reason: 'connection refused' });
    expect(second.control.healthOf('us-far')?.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(second.control.healthOf('de-near')?.lastSync).toBe(TRACE_TIME);
    expect(rows['de-near']!.lastSync).toBe(before['de-near']!.lastSync);

    expect(await choice(second.url, 'DE')).toBe('fr-far');
    expect(await choice(second.url, 'US_EAST')).not.toBe('us-far');
    expect(await choice(second.url, 'FR', 'readme')).toBe('fr-far');
    // The file the probe found missing stays off fr-far after the restart.
    expect(second.control.healthOf('fr-far')?.missing).toEqual([CFILES.guide.path]);
    expect(await choice(second.url, 'FR', 'guide')).not.toBe('fr-far');

    // The audit trail came along too.
    const audit = await staffCall(second.url, 'GET', '/admin/v1/audit');
    const actions = (audit.json.entries as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['mirror.drain', 'mirror.update']));

    // A change on the second run survives the next restart as well.
    expect((await staffCall(second.url, 'POST', '/admin/v1/mirrors/de-near/undrain')).status).toBe(200);
    await net.stopServer(second);
    const third = await net.startServer({ dataDir, health: { enabled: false } });
    const after = await mirrorsJson(third.url);
    expect(after['de-near']!.status).toBe('up');
    expect(after['fr-far']!.weight).toBe(250);
    expect(await choice(third.url, 'DE')).toBe('de-near');
  });
});
