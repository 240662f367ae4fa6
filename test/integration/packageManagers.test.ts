// Real package managers through two Mirrorgate instances on Redis, against a network with a mirror caught
// mid-sync, a mirror without a trace file and a corrupt copy: apt (http:// and mirror+http://), an rpm
// repodata/ tree as dnf reads it, aria2c, wget and curl. None of them may ever see a size or hash mismatch.
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type RunningServer } from '../../src/node.js';
import { launchChromium } from '../support/browser.js';
import { freePort, LoopbackFileServer } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { mirrorsJson } from '../support/requests.js';
import { waitFor } from '../support/wait.js';
import { buildDebianArchive, buildRpmRepo, copyFiles, listTree, sh, sha256 } from '../support/packageRepos.js';

const REDIS_DB = 9;
const T1 = 1_767_225_600; // generation 1 of the archive
const T2 = T1 + 86_400; // generation 2: hello 2.0, new indexes
const RPM = 'fedora/44/x86_64/os';
/** Output that means a client got a mirror's inconsistent or corrupt copy. */
const MISMATCH = /Mirror sync in progress|Hash Sum mismatch|unexpected size|Size mismatch|checksum|Failed to fetch|failed/i;
/** apt 2.6 quietly discards an index that does not match its Release ("Ign:4 … Packages") and fetches it again elsewhere. */
const DISCARDED = /^Ign:\d+ .*(Packages|Sources|Translation|Contents|\.deb)/m;

function haveTool(name: string, args = ['--version']): boolean {
  const found = spawnSync(name, args, { stdio: 'ignore' }).error === undefined;
  if (!found && process.env.CI !== 'true') console.warn(`[packageManagers.test] ${name} is not installed; its tests are skipped (they fail under CI=true)`);
  return found || process.env.CI === 'true';
}

let dir: string;
const mirrors: Record<string, LoopbackFileServer> = {};
let origin: LoopbackFileServer;
let a: RunningServer;
let b: RunningServer;
/** A control instance with no consistency groups: what every client got before them. */
let withoutGroups: RunningServer;
let archive: Awaited<ReturnType<typeof buildDebianArchive>>;
let rpm: Awaited<ReturnType<typeof buildRpmRepo>>;
let originTree: Awaited<ReturnType<typeof listTree>>;
const toClose: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-pkg-'));
  const originRoot = path.join(dir, 'origin');
  const gen1 = path.join(dir, 'gen1');

  // Generation 1, kept aside as a mirror that has not finished syncing has it; then generation 2 at the origin.
  await buildDebianArchive(path.join(originRoot, 'debian'), ['1.0'], T1);
  const rpm1 = await buildRpmRepo(path.join(originRoot, RPM), 'g1', T1);
  await cp(originRoot, gen1, { recursive: true, preserveTimestamps: true });
  archive = await buildDebianArchive(path.join(originRoot, 'debian'), ['2.0'], T2);
  rpm = await buildRpmRepo(path.join(originRoot, RPM), 'g2', T2);
  await rm(path.join(originRoot, ...RPM.split('/'), ...rpm1.primary.split('/')));
  originTree = await listTree(originRoot);
  await writeFile(path.join(originRoot, 'TIME'), `${T2 + 60}\n`);
  await writeFile(path.join(dir, 'origin.jsonl'), originTree.map((f) => `${JSON.stringify(f)}\n`).join(''));

  const deb2 = `debian/${archive.debs['2.0']!}`;
  const mirrorRoot = (id: string) => path.join(dir, 'mirrors', id);
  // whole: a full current copy with a trace file.
  await cp(originRoot, mirrorRoot('whole'), { recursive: true, preserveTimestamps: true });
  // notrace: a full current copy that publishes no trace file (and no inventory: its rules stand for it).
  await cp(originRoot, mirrorRoot('notrace'), { recursive: true, preserveTimestamps: true });
  await rm(path.join(mirrorRoot('notrace'), 'TIME'));
  // midsync: the pool and the new Release/repomd.xml arrived, the indexes and primary did not yet.
  await cp(gen1, mirrorRoot('midsync'), { recursive: true, preserveTimestamps: true });
  await copyFiles(originRoot, mirrorRoot('midsync'), [deb2, 'debian/dists/stable/Release', `${RPM}/${rpm.repomd}`, `${RPM}/${rpm.rpm}`]);
  await writeFile(path.join(mirrorRoot('midsync'), 'TIME'), `${T1 + 60}\n`);
  // corrupt: everything current but the new .deb, cut short by a failed transfer.
  await cp(originRoot, mirrorRoot('corrupt'), { recursive: true, preserveTimestamps: true });
  await truncate(path.join(mirrorRoot('corrupt'), ...deb2.split('/')), 100_000);

  origin = new LoopbackFileServer('origin', originRoot);
  await origin.start();
  toClose.push(() => origin.close());
  const mirrorEntries: Record<string, unknown>[] = [];
  for (const [id, weight] of [
    ['whole', 1],
    ['notrace', 1],
    ['midsync', 1000],
    ['corrupt', 1000],
  ] as const) {
    const server = new LoopbackFileServer(id, mirrorRoot(id));
    await server.start();
    toClose.push(() => server.close());
    mirrors[id] = server;
    const entry: Record<string, unknown> = { id, name: `Mirror ${id}`, baseUrl: server.baseUrl, country: 'DE', weight };
    if (id !== 'notrace') {
      // What a scan would have found there: its real files, sizes and mtimes.
      const manifest = path.join(dir, `${id}.jsonl`);
      await writeFile(manifest, (await listTree(mirrorRoot(id))).map(({ path: p, size, mtime }) => `${JSON.stringify({ path: p, size, mtime })}\n`).join(''));
      entry.content = { manifest };
    }
    mirrorEntries.push(entry);
  }

  const useRedis = !(await skipWithoutRedis(REDIS_DB, 'packageManagers.test'));
  if (useRedis) await flushRedis(REDIS_DB);
  const start = async (n: number, extra: Record<string, unknown> = {}, redis = useRedis) => {
    const port = await freePort();
    const config = {
      publicUrl: `http://127.0.0.1:${port}`,
      dataDir: path.join(dir, `var-${n}`),
      allowPrivateMirrorAddresses: true,
      allowFastProbes: true,
      origin: { baseUrl: origin.baseUrl, manifest: path.join(dir, 'origin.jsonl') },
      // The mid-sync mirror is a day behind: lag alone must not be what keeps it out.
      // Generous: a loaded CI machine must not turn a slow answer into a down mirror mid-test.
      health: { interval: '2s', timeout: '1500ms', failuresToDown: 10, successesToUp: 1, maxLag: '30d', sampleFiles: 2 },
      mirrors: mirrorEntries,
      ...extra,
    };
    const file = path.join(dir, `mirrorgate-${n}.yaml`);
    await writeFile(file, stringify(config));
    const running = await serve({ configPath: file, port, hostname: '127.0.0.1', logLevel: 'silent', env: redis ? { REDIS_URL: redisUrl(REDIS_DB) } : {} });
    toClose.unshift(() => running.close());
    return running;
  };
  a = await start(0);
  b = await start(1);
  // (The corrupt copy's weight is lowered there so the mid-sync mirror is the clear pick.)
  withoutGroups = await start(2, { consistencyGroups: [], mirrors: mirrorEntries.map((m) => (m.id === 'corrupt' ? { ...m, weight: 1 } : m)) }, false);
  // Every mirror answers its probes; the one without a trace file is up too, its lag unknown.
  const allUp = async () => {
    for (const s of [a, b]) {
      const rows = await mirrorsJson(s.url);
      if (!['whole', 'notrace', 'midsync', 'corrupt'].every((id) => rows[id]?.status === 'up')) return false;
    }
    return true;
  };
  const waited = await waitFor(allUp, { timeoutMs: 15_000 });
  if (waited === undefined) throw new Error(`mirrors not all up: ${JSON.stringify(await mirrorsJson(a.url))}`);
}, 120_000);

afterAll(async () => {
  for (const close of toClose) await close().catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the network as staff see it', () => {
  it('a mirror without a trace file is up with lag unknown; the mid-sync one is up with its lag', async () => {
    const rows = await mirrorsJson(b.url);
    expect(rows.notrace).toMatchObject({ status: 'up', lagSeconds: null });
    expect(rows.midsync!.lagSeconds).toBe(86_400);
  });
});

/** An apt-get with a root of its own: its own sources, lists, cache and dpkg status; nothing of the host's. */
async function apt(sourcesLine: string, commands: string[][]): Promise<{ code: number; out: string; cwd: string }> {
  const root = await mkdtemp(path.join(dir, 'apt-'));
  for (const d of [
    'etc/apt/apt.conf.d',
    'etc/apt/preferences.d',
    'etc/apt/sources.list.d',
    'etc/apt/trusted.gpg.d',
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
    'var/lib/dpkg',
    'dl',
  ]) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  await writeFile(path.join(root, 'var/lib/dpkg/status'), '');
  await writeFile(path.join(root, 'etc/apt/sources.list'), `${sourcesLine}\n`);
  const options = [
    `Dir=${root}/`,
    `Dir::State::status=${root}/var/lib/dpkg/status`,
    'Debug::NoLocking=1',
    'APT::Sandbox::User=root',
    'APT::Architecture=amd64',
    'APT::Architectures=amd64',
    'Acquire::Languages=none',
    'Acquire::Retries=0',
  ].flatMap((o) => ['-o', o]);
  let out = '';
  let code = 0;
  for (const cmd of commands) {
    const r = await sh('apt-get', [...options, ...cmd], { cwd: path.join(root, 'dl'), timeoutMs: 60_000 });
    out += `$ apt-get ${cmd.join(' ')}\n${r.stdout}${r.stderr}`;
    if (r.code !== 0) {
      code = r.code;
      break;
    }
  }
  return { code, out, cwd: path.join(root, 'dl') };
}

const hasApt = haveTool('apt-get');

describe.skipIf(!hasApt)('apt', () => {
  it('the mid-sync mirror is real: apt straight against it fails as users saw it fail', async () => {
    const r = await apt(`deb [trusted=yes] ${mirrors.midsync!.baseUrl}debian stable main`, [['update']]);
    expect(r.out).toMatch(/unexpected size|Hash Sum mismatch|Mirror sync in progress/i);
  });

  it('deb http://…/download/debian: update and download through one instance, never the mid-sync or corrupt copy', async () => {
    for (const m of Object.values(mirrors)) m.clearLog();
    for (const server of [a, b]) {
      const r = await apt(`deb [trusted=yes] ${server.url}/download/debian stable main`, [['update'], ['download', 'hello=2.0']]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).not.toMatch(MISMATCH);
      expect(r.out).not.toMatch(DISCARDED);
      const deb = await readFile(path.join(r.cwd, 'hello_2.0_all.deb'));
      expect(sha256(deb)).toBe(originTree.find((f) => f.path === `debian/${archive.debs['2.0']!}`)!.sha256);
    }
    // The Release went where its whole suite is current, and both instances chose alike.
    const release = 'debian/dists/stable/Release';
    const chosen = await Promise.all(
      [a, b].map(async (s) => (await fetch(`${s.url}/download/${release}`, { redirect: 'manual' })).headers.get('x-mirrorgate-mirror')),
    );
    expect(chosen[0]).toBe(chosen[1]);
    const why = await (await fetch(`${a.url}/download/${release}?mirrorlist`, { headers: { Accept: 'application/json' } })).text();
    expect(['whole', 'notrace', 'corrupt'], why).toContain(chosen[0]);
    expect(mirrors.midsync!.requestsFor(release).filter((r) => r.headers['user-agent']?.startsWith('Debian APT'))).toEqual([]);
  });

  it('control: without consistency groups the same network sends apt to the mid-sync mirror, and apt fails', async () => {
    const res = await fetch(`${withoutGroups.url}/download/debian/dists/stable/Release`, { redirect: 'manual' });
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('midsync');
    const r = await apt(`deb [trusted=yes] ${withoutGroups.url}/download/debian stable main`, [['update']]);
    // apt 2.6 throws the mismatched index away ("Ign") and asks again; a direct mirror line fails outright (above).
    expect(r.out).toMatch(DISCARDED);
  });

  it('deb mirror+http://…/download/debian/: apt reads the repository list and updates and downloads from it', async () => {
    const list = await fetch(`${b.url}/download/debian`, { headers: { Accept: 'text/*' } });
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toMatch(/^text\/plain/);
    const lines = (await list.text()).trim().split('\n');
    const bases = lines.map((l) => l.split('\t')[0]);
    expect(
      lines.every((l) => /^http:\/\/\S+\/debian\/\tpriority:\d+$/.test(l)),
      lines.join('\n'),
    ).toBe(true);
    expect(bases).not.toContain(`${mirrors.midsync!.baseUrl}debian/`);
    // Mirrors holding all of it come before the one with a broken pool file; the origin closes the list.
    expect(bases.slice(0, 2).sort()).toEqual([`${mirrors.notrace!.baseUrl}debian/`, `${mirrors.whole!.baseUrl}debian/`].sort());
    expect(bases[2]).toBe(`${mirrors.corrupt!.baseUrl}debian/`);
    expect(bases.at(-1)).toBe(`${origin.baseUrl}debian/`);

    const r = await apt(`deb [trusted=yes] mirror+${b.url}/download/debian/ stable main`, [['update'], ['download', 'hello=2.0', 'hello=1.0']]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(MISMATCH);
    expect(r.out).not.toMatch(DISCARDED);
    for (const v of ['1.0', '2.0']) {
      expect(sha256(await readFile(path.join(r.cwd, `hello_${v}_all.deb`)))).toBe(
        originTree.find((f) => f.path === `debian/pool/main/h/hello/hello_${v}_all.deb`)!.sha256,
      );
    }
  });
});

describe('an rpm repository (dnf reads repomd.xml, then repodata/* from the same mirror)', () => {
  const repomd = `${RPM}/repodata/repomd.xml`;

  it('the metalink of repomd.xml lists only mirrors whose whole repodata/ is current', async () => {
    const res = await fetch(`${a.url}/download/${repomd}.meta4`);
    expect(res.status).toBe(200);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(await res.text()) as {
      metalink: { file: { url: { '#text': string }[] | { '#text': string } } };
    };
    const urls = [doc.metalink.file.url].flat().map((u) => u['#text']);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    expect(urls.some((u) => u.startsWith(mirrors.midsync!.baseUrl))).toBe(false);
    for (const u of urls) {
      // Every mirror listed serves this repomd.xml and the primary it names.
      const base = u.slice(0, -'repodata/repomd.xml'.length);
      const xml = await (await fetch(u)).text();
      const href = /location href="([^"]+)"/.exec(xml)![1]!;
      const primary = await fetch(base + href);
      expect(primary.status, base + href).toBe(200);
      await primary.arrayBuffer();
    }
  });

  it('?mirrorlist says why the mid-sync mirror is left out; the repository list leaves it out too', async () => {
    const list = (await (await fetch(`${b.url}/download/${repomd}?mirrorlist`, { headers: { Accept: 'application/json' } })).json()) as {
      excluded: { id: string; reason: string }[];
    };
    expect(list.excluded).toContainEqual({ id: 'midsync', reason: 'incomplete-group' });
    const primary = (await (await fetch(`${b.url}/download/${RPM}/${rpm.primary}?mirrorlist`, { headers: { Accept: 'application/json' } })).json()) as {
      excluded: { id: string; reason: string }[];
    };
    expect(primary.excluded).toContainEqual({ id: 'midsync', reason: 'missing-file' });
    const deb = (await (await fetch(`${b.url}/download/debian/${archive.debs['2.0']!}?mirrorlist`, { headers: { Accept: 'application/json' } })).json()) as {
      excluded: { id: string; reason: string }[];
    };
    expect(deb.excluded).toContainEqual({ id: 'corrupt', reason: 'stale-copy' });
    const repo = await (await fetch(`${a.url}/download/${RPM}/?mirrorlist`, { headers: { Accept: 'text/plain' } })).text();
    expect(repo).not.toContain(mirrors.midsync!.baseUrl);
    expect(repo).toContain(`${mirrors.whole!.baseUrl}${RPM}/\tpriority:`);
  });
});

describe('download tools on the same network', () => {
  const deb = () => `debian/${archive.debs['2.0']!}`;
  const wanted = () => originTree.find((f) => f.path === deb())!.sha256;

  it.skipIf(!haveTool('aria2c'))('aria2c on the plain URL adds the Link alternatives from the 302 and gets the exact bytes', async () => {
    const out = await mkdtemp(path.join(dir, 'aria2-'));
    const r = await sh('aria2c', [
      '--log=-',
      '--log-level=debug',
      '--console-log-level=warn',
      '--allow-overwrite=true',
      `--dir=${out}`,
      '--out=hello.deb',
      `${a.url}/download/${deb()}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const added = [...r.stdout.matchAll(/Adding URI=(\S+)/g)].map((m) => m[1]!);
    expect(added.length, r.stdout.slice(-2000)).toBeGreaterThan(0);
    for (const u of added) expect(u.startsWith(mirrors.corrupt!.baseUrl)).toBe(false);
    expect(sha256(await readFile(path.join(out, 'hello.deb')))).toBe(wanted());
  });

  it.skipIf(!haveTool('wget'))('wget follows the 302 to a whole copy', async () => {
    const out = path.join(await mkdtemp(path.join(dir, 'wget-')), 'hello.deb');
    const r = await sh('wget', ['-q', '-O', out, `${b.url}/download/${deb()}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(await readFile(out))).toBe(wanted());
  });

  it.skipIf(!haveTool('curl'))('curl -L from either instance, for each file of the suite, gets the origin bytes', async () => {
    for (const f of originTree.filter((x) => x.path.startsWith('debian/'))) {
      for (const s of [a, b]) {
        const out = path.join(dir, 'curl.out');
        const r = await sh('curl', ['-fsSL', '-o', out, `${s.url}/download/${f.path}`]);
        expect(r.code, `${f.path}: ${r.stderr}`).toBe(0);
        expect(sha256(await readFile(out)), f.path).toBe(f.sha256);
      }
    }
  });
});

describe('Chromium on the download page', () => {
  it('the interstitial starts the download by itself, from a whole copy, with the origin bytes', async (ctx) => {
    const launched = await launchChromium();
    if (!launched.browser) return ctx.skip();
    const browser = launched.browser;
    try {
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      const path2 = `debian/${archive.debs['2.0']!}`;
      const download = page.waitForEvent('download', { timeout: 20_000 });
      const res = await page.goto(`${b.url}/download/${path2}`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['cross-origin-resource-policy']).toBe('cross-origin');
      const started = await download;
      expect(started.url().startsWith(mirrors.corrupt!.baseUrl)).toBe(false);
      const saved = path.join(dir, 'chromium.deb');
      await started.saveAs(saved);
      expect(sha256(await readFile(saved))).toBe(originTree.find((f) => f.path === path2)!.sha256);
      await context.close();
    } finally {
      await browser.close();
    }
  }, 40_000);
});
