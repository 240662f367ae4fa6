// A mirror id freed by a delete. A config mirror's id stays the config file's (its override lies over the config
// entry, which would bring back its lat/lon, sponsor, manifest and source): adding it again is a 409 that says so.
// A runtime mirror's id is free again, and the mirror added under it starts unprobed: the old one's "up" is gone.
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { choice, client, type Client } from '../support/requests.js';
import { spawnCli } from '../cli/cliRun.js';
import { sleep, waitFor } from '../support/wait.js';

let net: MirrorNetwork;
let staff: Client;
let extra: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork({ mirrorgate: { health: { interval: '1s', timeout: '500ms', failuresToDown: 2, successesToUp: 2 } } });
  staff = client(net.url, STAFF_TOKEN);
  extra = await net.extraMirror('se-again');
});

afterAll(async () => {
  await net?.close();
});

describe('adding a mirror under the id of a deleted config mirror', () => {
  it('POST /admin/v1/mirrors: 409 naming the removed config mirror; nothing of the old one comes back', async () => {
    expect((await staff.get('/admin/v1/mirrors/au-sydney')).json).toMatchObject({ source: 'config' });
    expect((await staff.delete('/admin/v1/mirrors/au-sydney')).status).toBe(204);

    const r = await staff.post('/admin/v1/mirrors', { id: 'au-sydney', name: 'F', baseUrl: 'https://f.example/', country: 'ZA' });
    expect(r.status, r.text).toBe(409);
    expect(r.json.error).toMatch(/"au-sydney".*config file.*removed/);
    expect((await staff.get('/admin/v1/mirrors/au-sydney')).status).toBe(404);
    const pub = (await (await fetch(`${net.url}/api/v1/mirrors`)).json()) as { mirrors: { id: string }[] };
    expect(pub.mirrors.map((m) => m.id)).not.toContain('au-sydney');
    // Refused, so not audited as an add.
    const audit = await staff.get('/admin/v1/audit?target=mirror:au-sydney');
    expect(audit.json.entries.map((e: { action: string }) => e.action)).toEqual(['mirror.delete']);
  });

  it('mirrorgate mirrors add: exit 1 with the reason', async () => {
    const run = await spawnCli(['mirrors', 'add', 'au-sydney', '--name', 'F', '--base-url', 'https://f.example/', '--country', 'ZA'], {
      env: { MIRRORGATE_URL: net.url, MIRRORGATE_TOKEN: STAFF_TOKEN },
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('config file');
    expect(run.stderr).toContain('mirrorgate mirrors restore au-sydney');
  });

  it('mirrorgate mirrors restore brings it back with its staff changes, probed and routed again; audited', async () => {
    // A second config mirror: changed by staff, then deleted, then restored.
    expect((await staff.patch('/admin/v1/mirrors/fr-paris', { weight: 7 })).status).toBe(200);
    expect((await staff.delete('/admin/v1/mirrors/fr-paris')).status).toBe(204);
    expect((await staff.get('/admin/v1/mirrors/fr-paris')).status).toBe(404);

    const run = await spawnCli(['mirrors', 'restore', 'fr-paris'], { env: { MIRRORGATE_URL: net.url, MIRRORGATE_TOKEN: STAFF_TOKEN } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^fr-paris: restored \(status /);
    expect((await staff.get('/admin/v1/mirrors/fr-paris')).json).toMatchObject({ source: 'config', spec: { id: 'fr-paris', weight: 7 } });
    expect(await waitFor(async () => (await staff.get('/admin/v1/mirrors/fr-paris')).json.health?.health === 'up', { timeoutMs: 15_000 })).toBeDefined();
    const audit = await staff.get('/admin/v1/audit?target=mirror:fr-paris&action=restore');
    expect(audit.json.entries).toEqual([expect.objectContaining({ action: 'mirror.restore', actor: 'ops' })]);

    // Restoring what is not deleted, or a runtime mirror that is gone, says why.
    expect((await staff.post('/admin/v1/mirrors/fr-paris/restore')).status).toBe(409);
    expect((await staff.post('/admin/v1/mirrors/no-such-mirror/restore')).status).toBe(404);
  });
});

describe('adding a mirror under the id of a deleted runtime mirror', () => {
  it('is allowed, and starts pending and unprobed: the deleted mirror’s health does not carry over', async () => {
    const body = { id: 'se-again', name: 'Stockholm', baseUrl: extra.baseUrl, country: 'SE', lat: 59.33, lon: 18.07 };
    expect((await staff.post('/admin/v1/mirrors', body)).status).toBe(201);
    const routed = await waitFor(async () => (await choice(net.url, '130.237.1.1')) === 'se-again', { timeoutMs: 15_000 });
    expect(routed).toBeDefined();
    expect((await staff.get('/admin/v1/mirrors/se-again')).json.health?.health).toBe('up');
    expect((await staff.delete('/admin/v1/mirrors/se-again')).status).toBe(204);

    // The same id, at an address where nothing answers: it must never be taken for the old, healthy one.
    const again = await staff.post('/admin/v1/mirrors', { ...body, baseUrl: `http://127.0.0.1:${await freePort()}/pub/` });
    expect(again.status, again.text).toBe(201);
    expect(again.json).toMatchObject({ source: 'runtime', lifecycle: 'pending' });
    expect(again.json.health?.health ?? 'unknown').not.toBe('up');
    for (let i = 0; i < 10; i++) expect(await choice(net.url, `130.237.1.${i + 1}`)).not.toBe('se-again');
  });

  it('a probe of the old address still out when the id is added again elsewhere does not count for the new mirror', async () => {
    const held = await net.extraMirror('se-held');
    const body = { id: 'se-held', name: 'Held', baseUrl: held.baseUrl, country: 'SE', lat: 59.33, lon: 18.07 };
    expect((await staff.post('/admin/v1/mirrors', body)).status).toBe(201);
    expect(await waitFor(async () => (await staff.get('/admin/v1/mirrors/se-held')).json.health?.health === 'up', { timeoutMs: 15_000 })).toBeDefined();

    // A probe of the healthy address, answered only once the id has moved on (as a slow mirror would).
    const release = held.hold();
    held.clearLog();
    const probing = staff.post('/admin/v1/mirrors/se-held/probe', {});
    expect(await waitFor(() => held.requests.length > 0, { timeoutMs: 10_000 })).toBeDefined();
    expect((await staff.delete('/admin/v1/mirrors/se-held')).status).toBe(204);
    const again = await staff.post('/admin/v1/mirrors', { ...body, baseUrl: `http://127.0.0.1:${await freePort()}/pub/` });
    expect(again.status, again.text).toBe(201);
    release();
    // The probe lands on the old address and says nothing of the new one; the rounds held with it land too.
    expect((await probing).json).toMatchObject({ mirror: 'se-held', ok: false });
    await sleep(1_500);
    const view = (await staff.get('/admin/v1/mirrors/se-held')).json;
    expect(view).toMatchObject({ lifecycle: 'pending' });
    expect(view.health?.health ?? 'unknown').not.toBe('up');
    await held.close();
  });

  it('a scan of the old source still running when the id is added again elsewhere stores nothing for the new mirror', async () => {
    const root = path.join(net.dir, 'se-listed-tree');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'hello.txt'), 'a file, so the listing is not empty\n');
    const daemon = await net.startRsyncDaemon(root);
    const daemonUrl = new URL(daemon.url);
    // The daemon behind a door that opens only once the id has moved on (as a long listing would end late).
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    let knocked = 0;
    const door = createServer((client) => {
      knocked++;
      client.pause();
      void opened.then(() => {
        const upstream = connect(Number(daemonUrl.port), '127.0.0.1');
        client.pipe(upstream).on('error', () => client.destroy());
        upstream.pipe(client).on('error', () => upstream.destroy());
        client.resume();
      });
    });
    door.listen(0, '127.0.0.1');
    await once(door, 'listening');
    const rsyncAt = (port: number) => `rsync://127.0.0.1:${port}${daemonUrl.pathname}`;
    const body = (rsyncUrl: string) => ({ id: 'se-listed', name: 'Listed', baseUrl: 'http://127.0.0.1:1/pub/', country: 'SE', rsyncUrl });
    try {
      const added = await staff.post('/admin/v1/mirrors', body(rsyncAt((door.address() as AddressInfo).port)));
      expect(added.status, added.text).toBe(201);
      const scanning = staff.post('/admin/v1/mirrors/se-listed/scan', {});
      expect(await waitFor(() => knocked > 0, { timeoutMs: 10_000 })).toBeDefined();
      expect((await staff.delete('/admin/v1/mirrors/se-listed')).status).toBe(204);
      expect((await staff.post('/admin/v1/mirrors', body(daemon.url))).status).toBe(201);
      open();
      const scanned = await scanning;
      expect(scanned.status, scanned.text).toBe(409);
      expect(scanned.json.error).toMatch(/deleted or changed while it was scanned/);
    } finally {
      open();
      door.close();
      daemon.stop();
    }
  });
});
