// Trace files are optional, end to end on loopback: a mirror without one is up with lag "unknown" and
// gets downloads; mirrors publishing an Arch `lastsync` or a Debian ftpsync trace at their own path
// (config `trace:`, or through the API) get a measured lag; a sample 404 on a mirror with a trace is
// handled as before; a mirror answering 404 to everything is still down.
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { MirrorView } from '../../src/control/adminService.js';
import type { RunningServer } from '../../src/node.js';
import { CONTROL_SETUP, healthFacts, mirrorIn, STAFF_TOKEN, startNetwork, STEADY_HEALTH, TRACE_TIME, type ControlNetwork } from '../support/network.js';
import { choice, download, mirrorsJson, staffCall } from '../support/requests.js';
import { waitFor } from '../support/wait.js';

// Under a minute: every origin file's mtime is TRACE_TIME - 60, and a mirror synced before it does not carry it.
const ARCH_LAG = 30;
const DEBIAN_LAG = 45;

/** `date -u` in the C locale, as ftpsync writes the first line of a trace. */
function dateLine(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const [wd, , mon] = d.toUTCString().split(/[\s,]+/);
  const hms = d.toISOString().slice(11, 19);
  return `${wd} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms} UTC ${d.getUTCFullYear()}`;
}

/** A Debian ftpsync trace (project/trace/<host>). */
function debianTrace(epochSeconds: number): string {
  return [
    dateLine(epochSeconds),
    `Date: ${new Date(epochSeconds * 1000).toUTCString().replace('GMT', '+0000')}`,
    `Date-Started: ${new Date((epochSeconds - 600) * 1000).toUTCString().replace('GMT', '+0000')}`,
    'Archive serial: 2026010101',
    'Used ftpsync version: 20180513',
    'Running on host: ftp.example.org',
    '',
  ].join('\n');
}

async function cliRun(server: RunningServer, args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await run(args, {
    stdout: { write: (t) => (out += t) },
    stderr: { write: (t) => (out += t) },
    env: { MIRRORGATE_URL: server.url, MIRRORGATE_TOKEN: STAFF_TOKEN },
  });
  return { code, out };
}

describe('trace files are optional', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork({ ...CONTROL_SETUP, plans: [mirrorIn('de-notrace', 'DE'), mirrorIn('fr-arch', 'FR'), mirrorIn('us-debian', 'US')] });
    const root = (id: string) => net.mirrors[id]!.root;
    for (const id of ['de-notrace', 'fr-arch', 'us-debian']) await unlink(path.join(root(id), 'TIME'));
    await writeFile(path.join(root('fr-arch'), 'lastsync'), `${TRACE_TIME - ARCH_LAG}\n`);
    await mkdir(path.join(root('us-debian'), 'project', 'trace'), { recursive: true });
    await writeFile(path.join(root('us-debian'), 'project', 'trace', 'ftp.example.org'), debianTrace(TRACE_TIME - DEBIAN_LAG));
    // About traces, files and reasons, not outages: probes a loaded machine cannot time out into "down".
    server = await net.startServer({
      health: STEADY_HEALTH,
      mutate: (config) => {
        for (const m of config.mirrors) {
          if (m.id === 'fr-arch') m.trace = 'lastsync';
          if (m.id === 'us-debian') m.trace = 'project/trace/ftp.example.org';
        }
      },
    });
    const up = await waitFor(() => ['de-notrace', 'fr-arch', 'us-debian'].every((id) => server.control.healthOf(id)?.health === 'up'), { timeoutMs: 10_000 });
    if (up === undefined) throw new Error(`mirrors not all up: ${healthFacts(server)}`);
  });
  afterAll(async () => {
    await net?.close();
  });

  it('a mirror without a trace file is up, lag unknown, and gets downloads', async () => {
    // Several rounds in (driven here, not waited for): the missing trace never counts as a failure.
    for (let round = 0; round < 3; round++) await server.control.probeAll(['de-notrace']);
    expect(server.control.healthOf('de-notrace')!.consecutiveSuccesses).toBeGreaterThanOrEqual(3);
    const h = server.control.healthOf('de-notrace')!;
    expect(h, healthFacts(server)).toMatchObject({ health: 'up', consecutiveFailures: 0 });
    expect(h).not.toHaveProperty('lagSeconds');
    expect(h).not.toHaveProperty('lastSync');

    const d = await download(server.url, 'DE');
    expect(d).toMatchObject({ status: 302, mirror: 'de-notrace' });
    expect(d.location).toBe(`${net.mirrors['de-notrace']!.baseUrl}pub/README.txt`);

    const rows = (await mirrorsJson(server.url)) as unknown as Record<string, Record<string, unknown>>;
    expect(rows['de-notrace']).toMatchObject({ status: 'up', reason: null, lagSeconds: null, lag: 'unknown', lastSync: null });
  });

  it('reads an Arch lastsync and a Debian ftpsync trace at the paths the mirrors set', async () => {
    const rows = (await mirrorsJson(server.url)) as unknown as Record<string, Record<string, unknown>>;
    expect(rows['fr-arch']).toMatchObject({
      status: 'up',
      lagSeconds: ARCH_LAG,
      lag: ARCH_LAG,
      lastSync: new Date((TRACE_TIME - ARCH_LAG) * 1000).toISOString(),
    });
    expect(rows['us-debian']).toMatchObject({ status: 'up', lagSeconds: DEBIAN_LAG, lag: DEBIAN_LAG });
    expect(await choice(server.url, 'FR')).toBe('fr-arch');
    expect(await choice(server.url, 'US')).toBe('us-debian');
    // Each mirror was asked for its own trace only, never for the origin's TIME.
    expect(net.mirrors['fr-arch']!.requests.some((r) => r.path === '/lastsync')).toBe(true);
    expect(net.mirrors['fr-arch']!.requests.some((r) => r.path === '/TIME')).toBe(false);
    expect(net.mirrors['us-debian']!.requests.some((r) => r.path === '/project/trace/ftp.example.org')).toBe(true);
  });

  it('shows the unknown lag as "unknown" on /mirrors, in /admin/v1/mirrors and in `mirrors list`', async () => {
    const page = await fetch(`${server.url}/mirrors`, { headers: { Accept: 'text/html', 'X-Forwarded-For': '198.51.100.77' } });
    const html = await page.text();
    const row = html.slice(html.indexOf('id="mirror-de-notrace"'));
    expect(row.slice(0, row.indexOf('</tr>'))).toContain('lag unknown');
    const arch = html.slice(html.indexOf('id="mirror-fr-arch"'));
    expect(arch.slice(0, arch.indexOf('</tr>'))).toContain(`lag ${ARCH_LAG} s`);

    const admin = await staffCall(server.url, 'GET', '/admin/v1/mirrors');
    const view = (admin.json.mirrors as MirrorView[]).find((m) => m.spec.id === 'de-notrace')!;
    expect(view.summary).toMatchObject({ status: 'up', lagSeconds: null, lag: 'unknown' });
    expect(view.health).toMatchObject({ health: 'up' });

    const list = await cliRun(server, ['mirrors', 'list']);
    expect(list.code).toBe(0);
    const lines = list.out.trimEnd().split('\n');
    const lagAt = lines[0]!.indexOf('LAG');
    const cells = (id: string) => lines.find((l) => l.startsWith(`${id} `))!.split(/\s{2,}/);
    expect(cells('de-notrace')).toContain('unknown');
    expect(cells('fr-arch')).toContain(`${ARCH_LAG}s`);
    expect(lagAt).toBeGreaterThan(0);
    const show = await cliRun(server, ['mirrors', 'show', 'us-debian']);
    expect(show.out).toMatch(/^trace file\s+project\/trace\/ftp\.example\.org$/m);
    expect(show.out).toMatch(new RegExp(`^lag\\s+${DEBIAN_LAG}s$`, 'm'));
  });

  it('a mirror with a trace and a sample that 404s: that file is taken off it, the mirror stays up (as before)', async () => {
    await net.removeFile('fr-arch', 'readme');
    // Waits for the record's own reason (the file listed as missing), not for any change of answer.
    expect(
      await waitFor(() => server.control.healthOf('fr-arch')?.missing?.includes('pub/README.txt') === true, { timeoutMs: 10_000 }),
      healthFacts(server),
    ).toBeDefined();
    expect(server.control.healthOf('fr-arch')).toMatchObject({ health: 'up', lagSeconds: ARCH_LAG, missing: ['pub/README.txt'] });
    expect(await waitFor(async () => (await choice(server.url, 'FR', 'readme')) !== 'fr-arch', { timeoutMs: 5_000 })).toBeDefined();
    expect(await choice(server.url, 'FR', 'app10')).toBe('fr-arch');
    await net.placeFile('fr-arch', 'readme');
  });

  it('a mirror without a trace that answers 404 to everything is down, and says why', async () => {
    const victim = net.mirrors['de-notrace']!;
    await victim.setMode('404');
    try {
      // Down for the 404s themselves (the reason says so), not for a probe a loaded machine timed out.
      const downFor404 = async () => {
        const row = (await mirrorsJson(server.url))['de-notrace'];
        return row?.status === 'down' && /^no trace file \(HTTP 404\); sample missing: pub\//.test(String(row.reason));
      };
      expect(await waitFor(downFor404, { timeoutMs: 10_000, everyMs: 50 }), healthFacts(server)).toBeDefined();
      expect(await waitFor(async () => (await choice(server.url, 'DE')) !== 'de-notrace', { timeoutMs: 2_000 })).toBeDefined();
    } finally {
      await victim.setMode('ok');
    }
    expect(await waitFor(async () => (await choice(server.url, 'DE')) === 'de-notrace', { timeoutMs: 10_000 }), healthFacts(server)).toBeDefined();
  });

  it("takes a mirror's trace path through the API: set, measured, cleared", async () => {
    await writeFile(path.join(net.mirrors['de-notrace']!.root, 'lastsync'), `${TRACE_TIME - 42}\n`);
    const patched = await staffCall(server.url, 'PATCH', '/admin/v1/mirrors/de-notrace', { trace: 'lastsync' });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.spec.trace).toBe('lastsync');
    expect(await waitFor(() => server.control.healthOf('de-notrace')?.lagSeconds === 42, { timeoutMs: 5_000 }), healthFacts(server)).toBeDefined();

    const bad = await staffCall(server.url, 'PATCH', '/admin/v1/mirrors/de-notrace', { trace: '../etc/passwd' });
    expect(bad.status).toBe(422);
    expect(bad.json.fields.trace).toMatch(/relative to the mirror's baseUrl/);

    const cleared = await staffCall(server.url, 'PATCH', '/admin/v1/mirrors/de-notrace', { trace: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.json.spec).not.toHaveProperty('trace');
    // Back to origin.trace (TIME), which it does not have: lag unknown again, still up.
    expect(await waitFor(() => server.control.healthOf('de-notrace')?.lagSeconds === undefined, { timeoutMs: 5_000 }), healthFacts(server)).toBeDefined();
    expect(server.control.healthOf('de-notrace')!.health).toBe('up');

    const added = await staffCall(server.url, 'POST', '/admin/v1/mirrors', {
      id: 'nl-new',
      name: 'New',
      baseUrl: net.mirrors['us-debian']!.baseUrl,
      country: 'NL',
      trace: 'project/trace/ftp.example.org',
    });
    expect(added.status, added.text).toBe(201);
    expect(added.json.spec.trace).toBe('project/trace/ftp.example.org');
  });

  it('a file changed at the origin after the index was loaded is not sent to it on its rules alone: the origin has it meanwhile', async () => {
    // Before: the guide goes to the mirror without a trace, as its rules say.
    expect(await choice(server.url, 'DE', 'guide')).toBe('de-notrace');
    // A new version at the origin, newer than anything the index held when it was first loaded.
    await net.changeOriginFile('guide', 3_333, TRACE_TIME + 3_600);
    await server.control.refreshOrigin();
    // Its copy is the old one: no lastSync says it synced since, so the rules do not vouch for the new version.
    expect(await waitFor(async () => (await choice(server.url, 'DE', 'guide')) === 'origin', { timeoutMs: 5_000 })).toBeDefined();
    const listed = (await (
      await fetch(`${server.url}/download/pub/docs/guide.txt?mirrorlist`, { headers: { Accept: 'application/json', 'X-Forwarded-For': '130.149.7.1' } })
    ).json()) as { excluded: { id: string; reason: string }[] };
    expect(listed.excluded).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'de-notrace', reason: 'stale-copy' })]));
    // Files the origin had then still go to it.
    expect(await choice(server.url, 'DE', 'app10')).toBe('de-notrace');
  });
});

describe('origin.trace as a list of candidates', () => {
  let net: ControlNetwork;
  let server: RunningServer;

  beforeAll(async () => {
    net = await startNetwork({ ...CONTROL_SETUP, plans: [mirrorIn('de-time', 'DE'), mirrorIn('fr-lastsync', 'FR')] });
    // The origin publishes only `lastsync`; one mirror has the old TIME, the other lastsync.
    await unlink(path.join(net.origin.root, 'TIME'));
    await writeFile(path.join(net.origin.root, 'lastsync'), `${TRACE_TIME}\n`);
    await net.setTrace('de-time', TRACE_TIME - 10);
    await unlink(path.join(net.mirrors['fr-lastsync']!.root, 'TIME'));
    await writeFile(path.join(net.mirrors['fr-lastsync']!.root, 'lastsync'), `${TRACE_TIME - 20}\n`);
    server = await net.startServer({
      health: STEADY_HEALTH,
      mutate: (config) => {
        (config.origin as Record<string, unknown>).trace = ['TIME', 'lastsync'];
      },
    });
  });
  afterAll(async () => {
    await net?.close();
  });

  it('reads the first candidate each mirror (and the origin) has', async () => {
    const ok = await waitFor(() => server.control.healthOf('de-time')?.lagSeconds === 10 && server.control.healthOf('fr-lastsync')?.lagSeconds === 20, {
      timeoutMs: 10_000,
    });
    expect(ok, healthFacts(server)).toBeDefined();
    expect(await choice(server.url, 'DE')).toBe('de-time');
    expect(await choice(server.url, 'FR')).toBe('fr-lastsync');
  });
});
