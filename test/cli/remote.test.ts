// The remote commands as staff and providers run them, in process through run(), against a real server over
// loopback HTTP (and a real rsync daemon for scans); once through the real bin launcher in a child process (the smoke test).
import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MirrorView } from '../../src/control/adminService.js';
import { serve, type RunningServer } from '../../src/node.js';
import type { AuditEntry, Offer } from '../../src/core/records.js';
import { startRsyncDaemon, type RsyncDaemon } from '../support/rsyncDaemon.js';
import { runCli, spawnCli, type CliRun } from './cliRun.js';

const STAFF_TOKEN = 'staff-secret-token-4f1c9a7e2b';
const PROVIDER_TOKEN = 'provider-secret-token-8d3e6b0a1c';
const MTIME = 1_767_225_600; // 2026-01-01T00:00:00Z

/** The origin file set; the mirror tree holds the first two, so a scan finds it 2/3 complete. */
const ORIGIN = [
  { path: 'pub/README.txt', size: 120 },
  { path: 'pub/releases/app-1.0.tar.gz', size: 4_097 },
  { path: 'pub/images/missing.iso', size: 999 },
];

let dir: string;
let server: RunningServer;
let deadPort: number;
/** A real rsync daemon serving the mirror tree as a module of a random name (see its url). */
let rsyncd: RsyncDaemon | undefined;
/** Every output of every run, to check that no token is ever printed. */
const transcript: string[] = [];

/** `mirrorgate <args>` in this process, as staff unless `env` says otherwise. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const run = await runCli(args, { cwd: dir, env: { MIRRORGATE_URL: server.url, MIRRORGATE_TOKEN: STAFF_TOKEN, ...env } });
  transcript.push(run.stdout, run.stderr);
  return run;
}

const asProvider = { MIRRORGATE_TOKEN: PROVIDER_TOKEN };

async function cliJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const run = await cli([...args, '--json'], env);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function postOffer(organisation: string, country: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/offers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      contact: { name: 'Pat Provider', email: 'pat@example.org' },
      organisation,
      location: { country, city: 'Somewhere' },
      storageTB: 12,
      bandwidthMbps: 1000,
      baseUrl: `http://127.0.0.1:${deadPort}/${country.toLowerCase()}/`,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-cli-remote-'));
  // mkdtemp makes the folder 0700; a daemon that drops privileges must still traverse it.
  await chmod(dir, 0o755);
  const tree = path.join(dir, 'tree');
  for (const f of ORIGIN.slice(0, 2)) {
    const local = path.join(tree, ...f.path.split('/'));
    await mkdir(path.dirname(local), { recursive: true });
    await writeFile(local, Buffer.alloc(f.size, 0x61));
    await utimes(local, MTIME, MTIME);
  }
  await writeFile(path.join(dir, 'manifest.jsonl'), ORIGIN.map((f) => JSON.stringify({ ...f, mtime: MTIME })).join('\n') + '\n');
  rsyncd = await startRsyncDaemon(dir, tree);
  const rsyncUrl = rsyncd.url;
  // Nothing listens here: mirrors and origin need not serve files, and probes fail fast.
  deadPort = await freePort();
  const config = path.join(dir, 'mirrorgate.yaml');
  await writeFile(
    config,
    `publicUrl: http://127.0.0.1
allowPrivateMirrorAddresses: true
dataDir: ${path.join(dir, 'var')}
tokens:
  - { token: env:MG_STAFF, role: staff, name: ops-alice }
  - { token: env:MG_PROVIDER, role: provider, mirrors: [alpha], name: acme }
origin: { baseUrl: "http://127.0.0.1:${deadPort}/origin/", manifest: manifest.jsonl }
health: { enabled: false, timeout: 2s }
mirrors:
  - { id: alpha, name: Alpha Hosting, baseUrl: "http://127.0.0.1:${deadPort}/alpha/", rsyncUrl: "${rsyncUrl}", country: DE }
  - { id: beta, name: Beta Mirror, baseUrl: "http://127.0.0.1:${deadPort}/beta/", country: FR }
`,
  );
  server = await serve({
    configPath: config,
    port: 0,
    hostname: '127.0.0.1',
    logLevel: process.env.MG_TEST_LOG ?? 'silent',
    env: { MG_STAFF: STAFF_TOKEN, MG_PROVIDER: PROVIDER_TOKEN },
  });
});

afterAll(async () => {
  await server?.close();
  rsyncd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  // Never printed, on any path.
  for (const text of transcript) {
    expect(text).not.toContain(STAFF_TOKEN);
    expect(text).not.toContain(PROVIDER_TOKEN);
  }
});

describe('mirrors', () => {
  it('list prints an aligned table of every mirror; --json is the API answer', async () => {
    const run = await cli(['mirrors', 'list']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+CC\s+WEIGHT\s+SHARE\s+LAG\s+NAME\s+URL\s+NOTE$/);
    // Health unknown, and said why: nothing has probed these mirrors yet.
    expect(lines[1]).toMatch(/\bunknown\b.*not probed yet$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['alpha', 'beta']);
    // Aligned: every row's NAME starts in the header's NAME column.
    const nameAt = lines[0]!.indexOf('NAME');
    expect(lines[1]!.slice(nameAt)).toMatch(/^Alpha Hosting/);
    expect(lines[2]!.slice(nameAt)).toMatch(/^Beta Mirror/);

    const body = await cliJson<{ mirrors: MirrorView[] }>(['mirrors', 'list']);
    expect(body.mirrors.map((m) => m.spec.id)).toEqual(['alpha', 'beta']);
    expect(body.mirrors[0]).toMatchObject({ source: 'config', lifecycle: 'active', drain: null });
  });

  it('show prints one mirror; an unknown one exits 6 naming it', async () => {
    const run = await cli(['mirrors', 'show', 'alpha']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^id\s+alpha$/m);
    expect(run.stdout).toMatch(/^name\s+Alpha Hosting$/m);
    expect(run.stdout).toMatch(/^rsync URL\s+rsync:\/\/127\.0\.0\.1:\d+\/mg[0-9a-f]+\/$/m);
    expect(run.stdout).toMatch(/^drain\s+not draining$/m);

    const missing = await cli(['mirrors', 'show', 'nope']);
    expect(missing.code).toBe(6);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('mirrorgate: no mirror "nope" (404)\n');
  });

  it('add creates a mirror with every option; a duplicate or bad fields exit 1 naming the flags', async () => {
    const run = await cli([
      'mirrors',
      'add',
      'gamma',
      '--name',
      'Gamma Networks',
      '--base-url',
      `http://127.0.0.1:${deadPort}/gamma`,
      '--country',
      'nl',
      '--weight',
      '30',
      '--lat',
      '52.37',
      '--lon',
      '4.9',
      '--asn',
      '1136,AS1103',
      '--asn',
      '3320',
      '--bandwidth',
      '2500',
      '--country-only',
      '--include',
      'pub/**',
      '--exclude',
      '**/*.iso',
      '--sponsor-name',
      'Gamma Inc',
      '--sponsor-url',
      'https://gamma.example/',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^added mirror gamma$/m);
    expect(run.stdout).toMatch(/^sponsor\s+Gamma Inc <https:\/\/gamma\.example\/>$/m);

    const view = await cliJson<MirrorView>(['mirrors', 'show', 'gamma']);
    expect(view.source).toBe('runtime');
    expect(view.spec).toMatchObject({
      id: 'gamma',
      name: 'Gamma Networks',
      baseUrl: `http://127.0.0.1:${deadPort}/gamma/`,
      country: 'NL',
      weight: 30,
      lat: 52.37,
      lon: 4.9,
      asn: [1136, 1103, 3320],
      bandwidthMbps: 2500,
      countryOnly: true,
      enabled: true,
      sponsor: { name: 'Gamma Inc', url: 'https://gamma.example/' },
      content: { include: ['pub/**'], exclude: ['**/*.iso'] },
    });

    const again = await cli(['mirrors', 'add', 'gamma', '--name', 'G', '--base-url', 'https://g.example/', '--country', 'NL']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('mirrorgate: refused (409): mirror "gamma" already exists\n');

    const bad = await cli(['mirrors', 'add', 'delta', '--name', 'D', '--base-url', 'ftp://d.example/', '--country', 'XX']);
    expect(bad.code).toBe(1);
    const lines = bad.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('mirrorgate: invalid body (422)');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}baseUrl \(--base-url\): .+/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}country \(--country\): unknown country code "XX"$/));
  });

  it('usage errors exit 2', async () => {
    const [missing, notNumber, unknown, badTimeout] = await Promise.all([
      cli(['mirrors', 'add', 'delta', '--name', 'D']),
      cli(['mirrors', 'weight', 'beta', 'heavy']),
      cli(['mirrors', 'frobnicate']),
      cli(['mirrors', 'list', '--timeout', 'soon']),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--base-url <url>' not specified");
    expect(notNumber.code).toBe(2);
    expect(notNumber.stderr).toContain('expected a whole number');
    expect(unknown.code).toBe(2);
    expect(badTimeout.code).toBe(2);
  });

  it('weight sets the share; show reflects it', async () => {
    const run = await cli(['mirrors', 'weight', 'beta', '250']);
    expect(run).toEqual({ code: 0, stdout: 'beta: weight 250\n', stderr: '' });
    expect((await cliJson<MirrorView>(['mirrors', 'show', 'beta'])).spec.weight).toBe(250);
  });

  it('drain --over 10m ramps the mirror down; show reflects it; undrain ends it', async () => {
    const run = await cli(['mirrors', 'drain', 'alpha', '--over', '10m']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^alpha: draining since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, share ramping to zero over 10m \(no new downloads from .+\)$/m);

    const shown = await cli(['mirrors', 'show', 'alpha']);
    expect(shown.stdout).toMatch(/^status\s+draining\b/m);
    expect(shown.stdout).toMatch(/^drain\s+draining since .+ over 10m/m);
    const view = await cliJson<MirrorView>(['mirrors', 'show', 'alpha']);
    expect(view.drain).toMatchObject({ overMs: 600_000 });
    const listed = await cli(['mirrors', 'list']);
    expect(listed.stdout).toMatch(/^alpha\s+draining\s+DE\b/m);

    const undrain = await cli(['mirrors', 'undrain', 'alpha']);
    expect(undrain.code).toBe(0);
    expect(undrain.stdout).toMatch(/^alpha: no longer draining/);
    expect((await cliJson<MirrorView>(['mirrors', 'show', 'alpha'])).drain).toBeNull();

    const atOnce = await cliJson<MirrorView>(['mirrors', 'drain', 'beta']);
    expect(atOnce.drain).toMatchObject({ overMs: 0 });
    await cli(['mirrors', 'undrain', 'beta']);

    const badOver = await cli(['mirrors', 'drain', 'beta', '--over', 'soon']);
    expect(badOver.code).toBe(1);
    expect(badOver.stderr).toMatch(/^ {2}over \(--over\): invalid duration "soon"$/m);
  });

  it('disable takes a mirror out of service and enable brings it back', async () => {
    const off = await cli(['mirrors', 'disable', 'beta']);
    expect(off).toEqual({ code: 0, stdout: 'beta: disabled (status disabled)\n', stderr: '' });
    expect((await cli(['mirrors', 'list'])).stdout).toMatch(/^beta\s+disabled\s+FR\b/m);
    const on = await cli(['mirrors', 'enable', 'beta']);
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/^beta: enabled \(status (?!disabled)/);
    expect((await cliJson<MirrorView>(['mirrors', 'show', 'beta'])).spec.enabled).toBe(true);
  });

  it('edit changes only the options given; remove needs --yes', async () => {
    const run = await cli(['mirrors', 'edit', 'gamma', '--name', 'Gamma Networks NL', '--no-country-only', '--sponsor-url', 'https://gamma.example/nl']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('updated mirror gamma: name, countryOnly, sponsor\n');
    const view = await cliJson<MirrorView>(['mirrors', 'show', 'gamma']);
    expect(view.spec).toMatchObject({
      name: 'Gamma Networks NL',
      countryOnly: false,
      weight: 30,
      sponsor: { name: 'Gamma Inc', url: 'https://gamma.example/nl' },
    });
    expect((await cli(['mirrors', 'edit', 'gamma'])).code).toBe(2);

    const refused = await cli(['mirrors', 'remove', 'gamma']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect(await cli(['mirrors', 'remove', 'gamma', '--yes'])).toEqual({ code: 0, stdout: 'removed mirror gamma\n', stderr: '' });
    expect((await cli(['mirrors', 'show', 'gamma'])).code).toBe(6);
  });
});

describe('offers', () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    first = await postOffer('Lambda Hosting', 'SE');
    second = await postOffer('Mu Mirrors', 'PL');
  });

  it('list shows the offers with short ids; --status filters', async () => {
    const run = await cli(['offers', 'list']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^ID\s+STATUS\s+RECEIVED\s+ORGANISATION\s+LOCATION\s+STORAGE\s+BANDWIDTH\s+CONTACT\s+BASE URL\s+RSYNC URL\s+PEERINGS\s+MIRROR$/m,
    );
    expect(run.stdout).toMatch(
      new RegExp(
        `^${first.slice(0, 8)}\\s+offered\\s+\\S+\\s+Lambda Hosting\\s+Somewhere, SE\\s+12 TB\\s+1000 Mbps\\s+Pat Provider <pat@example.org>\\s+http://127\\.0\\.0\\.1:\\d+/se/\\s+-\\s+-\\s+-$`,
        'm',
      ),
    );
    expect(run.stdout).toContain('Mu Mirrors');

    const offered = await cliJson<{ offers: Offer[] }>(['offers', 'list', '--status', 'offered']);
    expect(offered.offers.map((o) => o.id).sort()).toEqual([first, second].sort());
    expect((await cli(['offers', 'list', '--status', 'pending'])).code).toBe(2);
  });

  it('accept (by unique prefix) creates the mirror; reject records the decision', async () => {
    const run = await cli([
      'offers',
      'accept',
      first.slice(0, 8),
      '--mirror-id',
      'lambda-se',
      '--base-url',
      `http://127.0.0.1:${deadPort}/lambda/`,
      '--note',
      'welcome aboard',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`accepted offer ${first} from Lambda Hosting: mirror lambda-se added (syncing)`);
    const mirror = await cliJson<MirrorView>(['mirrors', 'show', 'lambda-se']);
    expect(mirror).toMatchObject({ lifecycle: 'syncing', spec: { name: 'Lambda Hosting', country: 'SE', bandwidthMbps: 1000 } });

    const rejected = await cliJson<{ offer: Offer }>(['offers', 'reject', second, '--note', 'too small']);
    expect(rejected.offer).toMatchObject({ id: second, status: 'rejected', decidedBy: 'ops-alice', decisionNote: 'too small' });

    const accepted = await cliJson<{ offers: Offer[] }>(['offers', 'list', '--status', 'accepted']);
    expect(accepted.offers).toEqual([expect.objectContaining({ id: first, mirrorId: 'lambda-se', decisionNote: 'welcome aboard' })]);

    const twice = await cli(['offers', 'accept', first]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe(`mirrorgate: refused (409): offer "${first}" was already accepted\n`);

    const unknown = await cli(['offers', 'reject', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toBe('mirrorgate: no offer "00000000-0000-4000-8000-000000000000" (404)\n');
    expect((await cli(['offers', 'reject', 'zzzz'])).stderr).toBe('mirrorgate: no offer "zzzz" (404)\n');
    // As git does: a prefix of one to three characters is a typo waiting to act on the wrong offer.
    const short = await cli(['offers', 'reject', first.slice(0, 1)]);
    expect(short.code).toBe(2);
    expect(short.stderr).toBe(`mirrorgate: offer id "${first.slice(0, 1)}" is too short: give at least 4 characters of it\n`);
  });
});

describe('stats and audit', () => {
  it('stats: --json is the API shape; the table shows each mirror', async () => {
    const day = new Date().toISOString().slice(0, 10);
    await server.store.addStats({
      downloads: [
        { day, mirror: 'alpha', country: 'DE', count: 3, bytes: 3_000_000 },
        { day, mirror: 'beta', country: 'FR', count: 2, bytes: 500 },
      ],
      files: [{ day, path: 'pub/README.txt', count: 5, mirror: 'alpha' }],
      impressions: [{ day, mirror: 'alpha', count: 4 }],
    });
    const stats = await cliJson<Record<string, unknown>>(['stats']);
    expect(Object.keys(stats).sort()).toEqual(['byCountry', 'byDay', 'byMirror', 'from', 'mirrors', 'to', 'topFiles', 'totals']);
    expect(stats).toMatchObject({ to: day, mirrors: null, totals: { downloads: 5, bytes: 3_000_500, impressions: 4 } });

    const run = await cli(['stats', '--from', '7d']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/all mirrors: 5 downloads, 3\.00 MB sent on, 4 logo impressions/);
    expect(run.stdout).toMatch(/^alpha\s+3\s+3\.00 MB\s+4$/m);
    expect(run.stdout).toMatch(/^beta\s+2\s+500 B\s+0$/m);

    const one = await cliJson<{ mirrors: string[]; totals: { downloads: number } }>(['stats', '--mirror', 'beta', '--from', day, '--to', day]);
    expect(one).toMatchObject({ mirrors: ['beta'], totals: { downloads: 2 } });

    const backwards = await cli(['stats', '--from', '2026-02-01', '--to', '2026-01-01']);
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toBe('mirrorgate: invalid query (400)\n  from (--from): from (2026-02-01) is after to (2026-01-01)\n');
    expect((await cli(['stats', '--from', 'yesterdayish'])).code).toBe(2);
  });

  it('audit shows every change with the token name, newest first, filtered', async () => {
    const { entries } = await cliJson<{ entries: AuditEntry[] }>(['audit', '--actor', 'ops-alice', '--limit', '1000']);
    const actions = entries.map((e) => `${e.action} ${e.target}`);
    for (const expected of [
      'mirror.add mirror:gamma',
      'mirror.update mirror:beta',
      'mirror.drain mirror:alpha',
      'mirror.undrain mirror:alpha',
      'mirror.delete mirror:gamma',
      'offer.accept offer:' + entries.find((e) => e.action === 'offer.accept')?.target.slice(6),
      'offer.reject offer:' + entries.find((e) => e.action === 'offer.reject')?.target.slice(6),
    ]) {
      expect(actions).toContain(expected);
    }
    expect(entries.every((e) => e.actor === 'ops-alice')).toBe(true);
    expect([...entries].sort((a, b) => b.at - a.at).map((e) => e.id)).toEqual(entries.map((e) => e.id));

    const run = await cli(['audit', '--target', 'alpha', '--action', 'mirror.drain']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+ACTOR\s+ACTION\s+TARGET\s+CHANGE$/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+ops-alice\s+mirror\.drain\s+mirror:alpha\s+overMs=600000$/)]);

    const since = await cliJson<{ entries: AuditEntry[] }>(['audit', '--since', '1h', '--limit', '2']);
    expect(since.entries).toHaveLength(2);
    expect((await cli(['audit', '--since', 'the dawn of time'])).code).toBe(2);
  });
});

describe('scan and probe', () => {
  it('scan <id> reads the real rsync listing, prints a completion line and exits 0', async () => {
    const run = await cli(['scan', 'alpha']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scan alpha: 66\.7% complete: 2 of 3 expected files current, 1 missing, 0 stale; 2 entries listed in \S+\n$/);
  });

  it('scan <id> --json gives the report', async () => {
    const outcome = await cliJson<{ mirror: string; report: Record<string, unknown> }>(['scan', 'alpha']);
    expect(outcome).toMatchObject({
      mirror: 'alpha',
      report: { entries: 2, expected: 3, current: 2, missing: 1, stale: 0, foreign: 0, unparsed: 0, missingSample: ['pub/images/missing.iso'] },
    });
    expect(outcome.report.completion).toBeCloseTo(2 / 3);
  });

  it('scan without an id scans every mirror with an rsync URL; a mirror without one fails with exit 1', async () => {
    const all = await cli(['scan']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^scan alpha: 66\.7% complete/);
    expect(all.stdout).not.toContain('beta');

    const none = await cli(['scan', 'beta']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('scan of beta failed: mirror "beta" has no rsyncUrl or content.manifest to scan\n');
    expect((await cli(['scan', 'nope'])).code).toBe(6);
  });

  it('draws a progress bar only on a terminal', async () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    let drawn = '';
    terminal.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
    const run = await runCli(['scan', 'alpha'], { env: { MIRRORGATE_URL: server.url, MIRRORGATE_TOKEN: STAFF_TOKEN }, stdout: terminal });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(drawn).toContain('scan alpha [');
    // The bar clears its line when done; the completion line comes last.
    expect(drawn.slice(drawn.lastIndexOf('scan alpha: '))).toMatch(/^scan alpha: 66\.7% complete.*\n$/);
  });

  it('probe <id> shows the health the probe found, and exits 1 when a mirror does not answer', async () => {
    const json = await cli(['probe', 'beta', '--json']);
    expect(json.code).toBe(1);
    const outcome = JSON.parse(json.stdout) as { mirror: string; ok: boolean; health: { health: string; reason?: string } };
    expect(outcome).toMatchObject({ mirror: 'beta', ok: false });
    expect(outcome.health.reason).toBeTruthy();
    const run = await cli(['probe']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^MIRROR\s+PROBE\s+HEALTH\s+LATENCY\s+LAST SYNC\s+LAG\s+MISSING\s+REASON$/m);
    for (const id of ['alpha', 'beta']) expect(run.stdout).toMatch(new RegExp(`^${id}\\s+FAILED\\s+(up|down|unknown)\\b`, 'm'));
    expect(run.stderr).toMatch(/^\d mirrors did not answer: alpha, beta\b/);
    // Health stays unknown until failuresToDown probes in a row; the list says why, honestly.
    const listed = await cli(['mirrors', 'list']);
    expect(listed.stdout).toMatch(/^beta\s+unknown\b.*connection refused, 2 failed probes in a row$/m);
  });
});

describe('tokens, roles and reachability', () => {
  it('a provider token sees only its mirror, and gets exit 5 on staff actions', async () => {
    const [body, stats] = await Promise.all([
      cliJson<{ mirrors: MirrorView[] }>(['mirrors', 'list'], asProvider),
      cliJson<{ mirrors: string[] }>(['stats'], asProvider),
    ]);
    expect(body.mirrors.map((m) => m.spec.id)).toEqual(['alpha']);
    expect(stats.mirrors).toEqual(['alpha']);

    const [drain, ...others] = await Promise.all([
      cli(['mirrors', 'drain', 'beta'], asProvider),
      cli(['mirrors', 'show', 'beta'], asProvider),
      cli(['offers', 'list'], asProvider),
      cli(['scan', 'beta'], asProvider),
      cli(['tokens', 'list'], asProvider),
      cli(['mirrors', 'add', 'zeta', '--name', 'Z', '--base-url', 'https://z.example/', '--country', 'DE'], asProvider),
    ]);
    expect(drain!.code).toBe(5);
    expect(drain!.stderr).toBe('mirrorgate: not allowed with this token (403): not one of your mirrors\n');
    expect(others.map((r) => r.code)).toEqual([5, 5, 5, 5, 5]);

    // Its own mirror it runs itself: drain, undrain, weight within the ceiling, its audit entries.
    expect((await cli(['mirrors', 'drain', 'alpha'], asProvider)).code).toBe(0);
    expect((await cli(['mirrors', 'undrain', 'alpha'], asProvider)).code).toBe(0);
    const above = await cli(['mirrors', 'weight', 'alpha', '101'], asProvider);
    expect(above.code).toBe(1);
    expect(above.stderr).toContain('must be at most 100');
    const audit = await cliJson<{ entries: AuditEntry[] }>(['audit', '--actor', 'acme'], asProvider);
    expect(audit.entries.map((e) => e.action)).toEqual(['mirror.undrain', 'mirror.drain']);
  });

  it('a wrong or missing token exits 4', async () => {
    const wrong = await cli(['mirrors', 'list'], { MIRRORGATE_TOKEN: 'not-the-token-at-all' });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toBe('mirrorgate: the token was refused (401): invalid token\n');
    expect(wrong.stdout + wrong.stderr).not.toContain('not-the-token-at-all');

    const none = await cli(['mirrors', 'list'], { MIRRORGATE_TOKEN: '' });
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('pass --token or set MIRRORGATE_TOKEN');

    // The flag wins over the environment.
    expect((await cli(['mirrors', 'list', '--token', STAFF_TOKEN], { MIRRORGATE_TOKEN: 'wrong' })).code).toBe(0);
  });

  it('an unreachable server exits 3; --url wins over MIRRORGATE_URL', async () => {
    const dead = `http://127.0.0.1:${deadPort}`;
    const run = await cli(['mirrors', 'list'], { MIRRORGATE_URL: dead });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(`mirrorgate: cannot reach ${dead}: connection refused (ECONNREFUSED)\n`);

    expect((await cli(['mirrors', 'list', '--url', server.url], { MIRRORGATE_URL: dead })).code).toBe(0);
    expect((await cli(['mirrors', 'list', '--url', 'ftp://example.org'])).code).toBe(2);
  });

  it('a --url without its scheme is named as given (not "null"), with the likely fix; a password in it is not echoed', async () => {
    const bare = await cli(['mirrors', 'list', '--url', 'localhost:8080']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe('mirrorgate: invalid server URL "localhost:8080": expected http:// or https:// (did you mean http://localhost:8080?)\n');
    const ftp = await cli(['mirrors', 'list', '--url', 'ftp://ops:secret@example.org/']);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toBe('mirrorgate: invalid server URL "ftp://example.org/": expected http:// or https://\n');
  });

  it('https:// to a plain-http server, or a server that is not Mirrorgate, is said in words', async () => {
    const tls = await cli(['mirrors', 'list'], { MIRRORGATE_URL: server.url.replace('http://', 'https://') });
    expect(tls.code).toBe(3);
    expect(tls.stderr).toMatch(/no TLS there: the server answers plain http \(use http:\/\/\)/);
    const other = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE HTML>\n<html><body>Not Found</body></html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const run = await cli(['mirrors', 'show', 'alpha'], { MIRRORGATE_URL: url });
      expect(run.code).toBe(6);
      expect(run.stderr).toBe(`mirrorgate: an HTML page, not Mirrorgate's API: is ${url} the service's address? (404)\n`);
    } finally {
      other.close();
    }
  });

  it('a server that never answers exits 3 after --timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const run = await cli(['mirrors', 'list', '--timeout', '1s'], { MIRRORGATE_URL: url });
      expect(run.code).toBe(3);
      expect(run.stderr).toBe(`mirrorgate: cannot reach ${url}: no answer within 1 s (--timeout)\n`);
    } finally {
      silent.close();
      for (const socket of sockets) socket.destroy();
    }
  });
  it('an answer of another shape than the API promises exits 1 naming the field; fields it does not know pass through --json', async () => {
    let tokens: unknown;
    const other = createServer((req, res) => {
      if (req.url?.endsWith('/scan')) {
        res.setHeader('content-type', 'application/x-ndjson');
        res.end('{"entries":1}\n{"progress":"half"}\n');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(tokens));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      tokens = { tokens: [{ id: null, name: 7 }] };
      const wrong = await cli(['tokens', 'list'], { MIRRORGATE_URL: url });
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toBe('');
      expect(wrong.stderr).toContain(`mirrorgate: unexpected answer from ${url} to GET /admin/v1/tokens: tokens.0.name: `);
      expect(wrong.stderr).toMatch(/\(is this a Mirrorgate server of the same version\?\)\n$/);

      tokens = { tokens: [], nextPage: null };
      const newer = await cli(['tokens', 'list', '--json'], { MIRRORGATE_URL: url });
      expect(newer).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(newer.stdout)).toEqual({ tokens: [], nextPage: null });

      const scan = await cli(['scan', 'alpha'], { MIRRORGATE_URL: url });
      expect(scan.code).toBe(1);
      expect(scan.stderr).toContain(`mirrorgate: unexpected answer from ${url} to POST /admin/v1/mirrors/alpha/scan: the stream line {"progress":"half"}: `);
    } finally {
      other.close();
    }
  });
});

describe('node bin/mirrorgate.js (smoke: the launcher against a running server)', () => {
  it('mirrors list --json exits 0 with the API answer on stdout', async () => {
    const run = await spawnCli(['mirrors', 'list', '--json'], { cwd: dir, env: { MIRRORGATE_URL: server.url, MIRRORGATE_TOKEN: STAFF_TOKEN } });
    transcript.push(run.stdout, run.stderr);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as { mirrors: MirrorView[] };
    expect(body.mirrors.map((m) => m.spec.id)).toEqual(expect.arrayContaining(['alpha', 'beta']));
  });
});
