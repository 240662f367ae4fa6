import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile, utimes } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedLookup } from '../../src/control/guardedLookup.js';
import { RsyncError, rsyncList } from '../../src/control/rsyncListing.js';
import { httpManifestList, scanMirror, type ScanFetch, type ScanTarget } from '../../src/control/scan.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { InventoryEntry, OriginFile } from '../../src/core/model.js';
import { startRsyncDaemon as startDaemon, type RsyncDaemon } from '../support/rsyncDaemon.js';
import { UNMATCHED_KEPT } from '../../src/core/availability.js';

const MTIME = 1_767_225_600; // 2026-01-01T00:00:00Z

/** The origin file set; `size` is also the size of each current mirror copy. */
const ORIGIN: OriginFile[] = [
  { path: 'pub/README.txt', size: 120, mtime: MTIME },
  { path: 'pub/releases/v1.0/app-1.0.tar.gz', size: 4_097, mtime: MTIME },
  { path: 'pub/Ünïcode (2026)/file name.txt', size: 333, mtime: MTIME },
  { path: "pub/docs/a+b & c's (draft).txt", size: 55, mtime: MTIME },
  { path: 'pub/no-mtime-known.txt', size: 10 },
  { path: 'pub/releases/v1.0/stale.bin', size: 2_000, mtime: MTIME },
  { path: 'pub/releases/v1.0/older.bin', size: 700, mtime: MTIME },
  { path: 'pub/images/missing.iso', size: 9_999, mtime: MTIME },
  // Covered by the exclude rule: on the mirror, yet not expected.
  { path: 'pub/tmp/upload.tmp', size: 5, mtime: MTIME },
  // Outside the include rule: neither expected nor on the mirror.
  { path: 'incoming/only-on-origin.bin', size: 42, mtime: MTIME },
];

const TARGET_CONTENT = { include: ['pub/**'], exclude: ['**/*.tmp'] };

interface Placed {
  path: string;
  size: number;
  mtime: number;
}

/** What the mirror tree holds: current copies, a stale (other size) and an older (same size, older mtime) copy, extras. */
const MIRROR_TREE: Placed[] = [
  { path: 'pub/README.txt', size: 120, mtime: MTIME },
  { path: 'pub/releases/v1.0/app-1.0.tar.gz', size: 4_097, mtime: MTIME },
  { path: 'pub/Ünïcode (2026)/file name.txt', size: 333, mtime: MTIME },
  { path: "pub/docs/a+b & c's (draft).txt", size: 55, mtime: MTIME },
  { path: 'pub/no-mtime-known.txt', size: 10, mtime: MTIME - 999 },
  { path: 'pub/releases/v1.0/stale.bin', size: 1_500, mtime: MTIME },
  { path: 'pub/releases/v1.0/older.bin', size: 700, mtime: MTIME - 3_600 },
  { path: 'pub/tmp/upload.tmp', size: 5, mtime: MTIME },
  { path: 'pub/extra-not-in-origin.txt', size: 77, mtime: MTIME },
];

let dir: string;
/** Every daemon started here, stopped in afterAll. */
const daemons = new Set<RsyncDaemon>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-scan-'));
  // mkdtemp makes the folder 0700; a daemon that drops privileges must still traverse it.
  await chmod(dir, 0o755);
});

afterAll(async () => {
  for (const daemon of daemons) daemon.stop();
  daemons.clear();
  await rm(dir, { recursive: true, force: true });
});

async function writeTree(root: string, placed: readonly Placed[]): Promise<void> {
  for (const f of placed) {
    const local = path.join(root, ...f.path.split('/'));
    await mkdir(path.dirname(local), { recursive: true });
    await writeFile(local, Buffer.alloc(f.size, 0x61));
    await utimes(local, f.mtime, f.mtime);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real rsync daemon on loopback serving `root` (module name: see `url`), in its own process group, stopped in afterAll. */
async function startRsyncDaemon(name: string, root: string): Promise<RsyncDaemon> {
  const daemon = await startDaemon(path.join(dir, name), root);
  daemons.add(daemon);
  return daemon;
}

/** `text` as a literal inside a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A stand-in rsync binary: a shell script given the body to run (it gets rsync's arguments). */
async function fakeRsync(name: string, body: string): Promise<string> {
  const file = path.join(dir, `${name}.sh`);
  await writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

function sortByPath(entries: InventoryEntry[]): InventoryEntry[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

describe('scanMirror over a real rsync daemon', () => {
  let daemon: RsyncDaemon;
  const files = FileIndex.from(ORIGIN);
  const target = (url: string): ScanTarget => ({ id: 'acme-de', rsyncUrl: url, content: TARGET_CONTENT });

  beforeAll(async () => {
    const root = path.join(dir, 'mirror');
    await writeTree(root, MIRROR_TREE);
    // A symlinked folder, listed as the folder it points to (the origin has no pub/latest: foreign here), and
    // an empty directory, which a listing passes over.
    await symlink('releases', path.join(root, 'pub', 'latest'));
    await mkdir(path.join(root, 'pub', 'empty-dir'));
    daemon = await startRsyncDaemon('daemon-main', root);
  });

  it('lists regular files with decoded names, UTC mtimes and sizes', async () => {
    const listed: InventoryEntry[] = [];
    for await (const e of rsyncList(daemon.url, { timeoutMs: 20_000 })) listed.push(e);
    const throughLink = MIRROR_TREE.filter((f) => f.path.startsWith('pub/releases/')).map((f) => ({
      ...f,
      path: f.path.replace('pub/releases/', 'pub/latest/'),
    }));
    expect(sortByPath(listed)).toEqual(sortByPath([...MIRROR_TREE, ...throughLink]));
  });

  it('reports current, stale and missing files, and keeps the paths the origin lacks too', async () => {
    const progress: number[] = [];
    const { record, report } = await scanMirror(target(daemon.url), files, {
      timeoutMs: 20_000,
      now: () => 1_800_000_000_000,
      onProgress: (n) => progress.push(n),
    });
    expect(report).toEqual({
      entries: 12,
      expected: 8,
      current: 5,
      missing: 1,
      stale: 2,
      completion: 5 / 8,
      missingSample: ['pub/images/missing.iso'],
      staleSample: ['pub/releases/v1.0/stale.bin', 'pub/releases/v1.0/older.bin'],
      foreign: 4,
      unparsed: 0,
    });
    expect(record.source).toBe('rsync');
    expect(record.scannedAt).toBe(1_800_000_000_000);
    // The mirror's copies of origin files, as listed (stale ones too; the excluded one too), and the
    // paths the origin index lacks: one published just after it was read matches them then.
    const originPaths = new Set(ORIGIN.map((f) => f.path));
    const ofOrigin = record.entries.filter((e) => originPaths.has(e.path));
    expect(sortByPath(ofOrigin)).toEqual(sortByPath(MIRROR_TREE.filter((f) => originPaths.has(f.path))));
    expect(record.entries).toContainEqual({ path: 'pub/extra-not-in-origin.txt', size: 77, mtime: MTIME });
    expect(progress.at(-1)).toBe(12);
  });

  it('lists by a name the machine cannot resolve, through the address the lookup gave (rsync never resolves it)', async () => {
    const byName = daemon.url.replace(/^rsync:\/\/127\.0\.0\.1:/, 'rsync://mirror.invalid:');
    expect(byName).toContain('mirror.invalid');
    const zone: LookupFunction = (_host, _options, callback) =>
      (callback as unknown as (e: null, a: unknown) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
    const { report } = await scanMirror(target(byName), files, { timeoutMs: 20_000, lookup: zone });
    expect(report.entries).toBe(12);
  });

  it('credits symlinked files and folders as what they point to (a "latest" link, dists/testing -> stable); a dangling link is no failure', async () => {
    const root = path.join(dir, 'linked');
    await writeTree(root, [
      { path: 'isos/live-1.0.iso', size: 1_000, mtime: MTIME },
      { path: 'dists/stable/Release', size: 300, mtime: MTIME },
    ]);
    await symlink('live-1.0.iso', path.join(root, 'isos', 'latest.iso'));
    await symlink('stable', path.join(root, 'dists', 'testing'));
    await symlink('nowhere.iso', path.join(root, 'isos', 'broken.iso'));
    const linked = await startRsyncDaemon('linked', root);
    // The origin index reads its own tree through links the same way (originTree.ts).
    const origin = FileIndex.from([
      { path: 'isos/live-1.0.iso', size: 1_000, mtime: MTIME },
      { path: 'isos/latest.iso', size: 1_000, mtime: MTIME },
      { path: 'dists/stable/Release', size: 300, mtime: MTIME },
      { path: 'dists/testing/Release', size: 300, mtime: MTIME },
    ]);
    const { report } = await scanMirror({ id: 'linked', rsyncUrl: linked.url, content: { include: ['**'], exclude: [] } }, origin, { timeoutMs: 20_000 });
    expect(report).toMatchObject({ expected: 4, current: 4, missing: 0, stale: 0 });
  });

  it('rejects with rsync exit code and message when nothing listens', async () => {
    const url = `rsync://127.0.0.1:${await freePort()}/pub/`;
    const scan = scanMirror(target(url), files, { timeoutMs: 20_000 });
    await expect(scan).rejects.toThrow(
      /scan of mirror acme-de via rsync:\/\/127\.0\.0\.1:\d+\/pub\/ failed after 0 entries: .*exit code 10 \(error in socket I\/O\).*Connection refused/s,
    );
  });

  it('rejects for a module the daemon does not have, with the daemon’s own words', async () => {
    const url = daemon.url.replace(/[^/]+\/$/, 'nope/');
    const error = await scanMirror(target(url), files, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exit code 5 \(error starting client-server protocol\).*Unknown module 'nope'/s);
    expect((error as Error).cause).toBeInstanceOf(RsyncError);
    expect(((error as Error).cause as RsyncError).exitCode).toBe(5);
  });
});

describe('scanMirror when the daemon goes away during the scan', () => {
  it('rejects, and never returns a partial record', async () => {
    const root = path.join(dir, 'mirror-dying');
    await writeTree(root, MIRROR_TREE);
    const daemon = await startRsyncDaemon('daemon-dying', root);
    const pid = daemon.process.pid!;
    // Freeze the daemon so the scan is surely in flight, then kill it under the waiting client.
    process.kill(-pid, 'SIGSTOP');
    const scan = scanMirror({ id: 'dying', rsyncUrl: daemon.url, content: TARGET_CONTENT }, FileIndex.from(ORIGIN), { timeoutMs: 20_000 });
    const settled = scan.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    daemon.stop();
    const outcome = await settled;
    expect(outcome).toMatch(
      new RegExp(`^scan of mirror dying via ${escapeRegExp(daemon.url)} failed after 0 entries: rsync listing of .* failed with exit code \\d+`),
    );
  });
});

describe('rsyncList with a stand-in rsync', () => {
  it('passes the listing options, the C locale and UTC to rsync', async () => {
    const out = path.join(dir, 'args.txt');
    const rsyncPath = await fakeRsync('args', `echo "$LC_ALL $TZ $*" > '${out}'`);
    for await (const _ of rsyncList('rsync://example.org/pub/', { rsyncPath, timeoutMs: 90_000 })) void _;
    expect((await readFile(out, 'utf8')).trim()).toBe('C UTC --list-only -r --copy-links --no-motd --timeout=120 --contimeout=60 -- rsync://example.org/pub/');
  });

  it('fails midway with rsync’s exit code and stderr tail, after yielding what came before', async () => {
    const rsyncPath = await fakeRsync(
      'dies',
      `awk 'BEGIN { for (i = 0; i < 5000; i++) printf "-rw-r--r--          1,000 2026/01/01 00:00:00 pub/f%d\\n", i }'
echo 'rsync: connection unexpectedly closed (1234 bytes received so far) [receiver]' >&2
echo 'rsync error: error in rsync protocol data stream (code 12) at io.c(232) [receiver=3.5.0]' >&2
exit 12`,
    );
    let seen = 0;
    const error = await (async () => {
      for await (const _ of rsyncList('rsync://example.org/pub/', { rsyncPath })) seen++;
    })().catch((e: unknown) => e);
    expect(seen).toBe(5000);
    expect(error).toBeInstanceOf(RsyncError);
    expect((error as RsyncError).exitCode).toBe(12);
    expect((error as RsyncError).message).toMatch(/exit code 12 \(error in rsync protocol data stream\): rsync: connection unexpectedly closed.*code 12/s);

    const files = FileIndex.from([{ path: 'pub/f1', size: 1000 }]);
    const scan = scanMirror({ id: 'm', rsyncUrl: 'rsync://example.org/pub/', content: TARGET_CONTENT }, files, { rsyncPath });
    await expect(scan).rejects.toThrow(/scan of mirror m via rsync:\/\/example\.org\/pub\/ failed after 5000 entries: .*exit code 12/);
  });

  it('refuses a listing with no file at all (an unmounted disk, a wrong module): the previous inventory stays', async () => {
    const rsyncPath = await fakeRsync('empty', `echo 'drwxr-xr-x          4,096 2026/01/01 00:00:00 .'`);
    const scan = scanMirror({ id: 'm', rsyncUrl: 'rsync://example.org/pub/', content: TARGET_CONTENT }, FileIndex.from(ORIGIN), { rsyncPath });
    await expect(scan).rejects.toThrow(/listed no file at all/);
  });

  it("stores a copy listed without its mtime with the origin version's mtime, so a later version of the same size is not vouched for", async () => {
    // A manifest may leave mtimes out: the copy matched by size is the origin's version of now, not any later one.
    const files = FileIndex.from([{ path: 'pub/a', size: 1000, mtime: MTIME }]);
    const body = `${JSON.stringify({ path: 'pub/a', size: 1000 })}\n`;
    const fetch = (async () => new Response(body, { status: 200, headers: { 'Content-Type': 'application/x-ndjson' } })) as unknown as ScanFetch;
    const { record } = await scanMirror({ id: 'm', manifestUrl: 'https://m.example/inv.jsonl', content: TARGET_CONTENT }, files, { fetch });
    expect(record.entries).toEqual([{ path: 'pub/a', size: 1000, mtime: MTIME }]);
    // Read again against a later version of the same size, the stored inventory does not vouch for it.
    const later = FileIndex.from([{ path: 'pub/a', size: 1000, mtime: MTIME + 60 }]);
    expect(later.isCurrent(0, record.entries[0]!.size, record.entries[0]!.mtime)).toBe(false);
  });

  it('accepts exit code 24 (files vanished during the listing)', async () => {
    const rsyncPath = await fakeRsync(
      'vanished',
      `echo '-rw-r--r--          1,000 2026/01/01 00:00:00 pub/a'\necho 'file has vanished: "/pub/b"' >&2\nexit 24`,
    );
    const listed: InventoryEntry[] = [];
    for await (const e of rsyncList('rsync://example.org/pub/', { rsyncPath })) listed.push(e);
    expect(listed).toEqual([{ path: 'pub/a', size: 1000, mtime: MTIME }]);
  });

  it('kills rsync at the deadline and says so', async () => {
    const pidFile = path.join(dir, 'slow.pid');
    const rsyncPath = await fakeRsync('slow', `echo $$ > '${pidFile}'\nexec sleep 30`);
    const started = Date.now();
    const error = await (async () => {
      for await (const _ of rsyncList('rsync://example.org/pub/', { rsyncPath, timeoutMs: 300 })) void _;
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(isAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('kills rsync when the consumer stops early or the scan is aborted', async () => {
    const pidFile = path.join(dir, 'endless.pid');
    const rsyncPath = await fakeRsync(
      'endless',
      `echo $$ > '${pidFile}'\nexec awk 'BEGIN { for (i = 0; ; i++) printf "-rw-r--r--          1,000 2026/01/01 00:00:00 f%d\\n", i }'`,
    );
    let n = 0;
    for await (const _ of rsyncList('rsync://example.org/pub/', { rsyncPath })) if (++n === 10) break;
    expect(isAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);

    const controller = new AbortController();
    const scan = scanMirror({ id: 'm', rsyncUrl: 'rsync://example.org/pub/', content: TARGET_CONTENT }, FileIndex.from(ORIGIN), {
      rsyncPath,
      signal: controller.signal,
      onProgress: (entries) => {
        if (entries >= 20_000) controller.abort(new Error('staff cancelled the scan'));
      },
    });
    await expect(scan).rejects.toThrow(/failed after \d+ entries: rsync listing of rsync:\/\/example\.org\/pub\/ was aborted/);
    expect(isAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('says so when the rsync binary is missing', async () => {
    const error = await (async () => {
      for await (const _ of rsyncList('rsync://example.org/pub/', { rsyncPath: path.join(dir, 'no-such-rsync') })) void _;
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/cannot run rsync .*ENOENT/);
  });

  it('streams a 1,000,000-entry listing in bounded memory, keeping the origin files and a bounded share of the rest', async () => {
    // 1,000 origin files hidden among a million foreign ones (every 1000th listed file is an origin file).
    const origin: OriginFile[] = [];
    for (let i = 0; i < 1_000_000; i += 1_000) origin.push({ path: `pub/d${i % 997}/file-${i}.bin`, size: 1_234_567, mtime: MTIME });
    const files = FileIndex.from(origin);
    const rsyncPath = await fakeRsync(
      'million',
      `exec awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "-rw-r--r--      1,234,567 2026/01/01 00:00:00 pub/d%d/%s-%d.bin\\n", i % 997, (i % 1000 == 0 ? "file" : "junk"), i }'`,
    );
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const { record, report } = await scanMirror({ id: 'big', rsyncUrl: 'rsync://example.org/pub/', content: { include: ['**'], exclude: [] } }, files, {
      rsyncPath,
      timeoutMs: 120_000,
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      },
    });
    const growthMb = (peak - before) / 2 ** 20;
    console.info(`1,000,000-entry listing: heap growth ${growthMb.toFixed(1)} MB`);
    expect(report.entries).toBe(1_000_000);
    expect(report.foreign).toBe(999_000);
    expect(report).toMatchObject({ expected: 1_000, current: 1_000, missing: 0, stale: 0, completion: 1 });
    // The origin's 1,000, then the first UNMATCHED_KEPT of the others.
    expect(record.entries).toHaveLength(1_000 + UNMATCHED_KEPT);
    expect(growthMb).toBeLessThan(200);
  }, 120_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('scanMirror over an HTTP manifest', () => {
  let server: Server;
  let base: string;
  const files = FileIndex.from(ORIGIN);
  const manifest =
    MIRROR_TREE.map((f) => JSON.stringify(f)).join('\n') +
    '\n# a comment\n{"path":"pub/broken", "size": \n' +
    // A duplicate: the first line wins, as in config manifests.
    `${JSON.stringify({ path: 'pub/README.txt', size: 1, mtime: MTIME })}\n`;
  let requests: Array<{ url: string; acceptEncoding: string | undefined }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', acceptEncoding: req.headers['accept-encoding'] });
      switch (req.url) {
        case '/inventory.jsonl':
          res.writeHead(200, { 'Content-Type': 'application/jsonl' });
          return void res.end(manifest);
        case '/encoded/inventory.jsonl':
          res.writeHead(200, { 'Content-Type': 'application/jsonl', 'Content-Encoding': 'gzip' });
          return void res.end(gzipSync(manifest));
        case '/inventory.jsonl.gz':
          res.writeHead(200, { 'Content-Type': 'application/gzip' });
          return void res.end(gzipSync(manifest));
        case '/corrupt.jsonl.gz':
          res.writeHead(200, { 'Content-Type': 'application/gzip' });
          return void res.end(gzipSync(manifest).subarray(0, 60));
        case '/moved/inventory.jsonl':
          // Same host: followed (as a mirror moving http to https on one name would).
          res.writeHead(301, { Location: '/inventory.jsonl' });
          return void res.end();
        case '/elsewhere':
          // Another host by address: an IP literal never goes through the guarded lookup, so it is never followed.
          res.writeHead(302, { Location: `http://localhost:${(server.address() as AddressInfo).port}/inventory.jsonl` });
          return void res.end();
        case '/twice':
          res.writeHead(302, { Location: '/moved/inventory.jsonl' });
          return void res.end();
        case '/error-page':
          res.writeHead(200, { 'Content-Type': 'text/html' });
          return void res.end('<html>\n<body>Mirror maintenance</body>\n</html>\n');
        case '/cut-short.jsonl':
          // Promises more than it sends, then drops the connection.
          res.writeHead(200, { 'Content-Type': 'application/jsonl', 'Content-Length': String(manifest.length * 10) });
          res.write(manifest);
          return void setTimeout(() => res.destroy(), 50);
        default:
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          return void res.end('not found\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const expectedReport = {
    // The duplicate README line counts as a listing entry but does not replace the first.
    entries: 10,
    expected: 8,
    current: 5,
    missing: 1,
    stale: 2,
    completion: 5 / 8,
    missingSample: ['pub/images/missing.iso'],
    staleSample: ['pub/releases/v1.0/stale.bin', 'pub/releases/v1.0/older.bin'],
    foreign: 1,
    unparsed: 1,
  };

  it.each(['/inventory.jsonl', '/encoded/inventory.jsonl', '/inventory.jsonl.gz'])('reads %s', async (urlPath) => {
    requests = [];
    const problems: string[] = [];
    const { record, report } = await scanMirror({ id: 'web', manifestUrl: base + urlPath, content: TARGET_CONTENT }, files, {
      onProblem: (p) => problems.push(`${p.line}: ${p.reason}`),
    });
    expect(report).toEqual(expectedReport);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^11: malformed JSON/);
    expect(record.source).toBe('http-manifest');
    expect(sortByPath(record.entries)).toEqual(sortByPath([...MIRROR_TREE]));
    expect(requests[0]?.acceptEncoding).toMatch(/gzip/);
  });

  it('follows one redirect on the same host, never one to another host (the way to 169.254.169.254) nor a second', async () => {
    expect((await scanMirror({ id: 'web', manifestUrl: `${base}/moved/inventory.jsonl`, content: TARGET_CONTENT }, files)).report).toEqual(expectedReport);
    requests = [];
    await expect(scanMirror({ id: 'web', manifestUrl: `${base}/elsewhere`, content: TARGET_CONTENT }, files)).rejects.toThrow(
      /failed after 0 entries: redirect to another host \(localhost:\d+\)/,
    );
    expect(requests.map((r) => r.url)).toEqual(['/elsewhere']);
    await expect(scanMirror({ id: 'web', manifestUrl: `${base}/twice`, content: TARGET_CONTENT }, files)).rejects.toThrow(/too many redirects/);
  });

  it('prefers rsync when a mirror has both, unless told otherwise', async () => {
    const rsyncPath = await fakeRsync('one-file', `echo '-rw-r--r--            120 2026/01/01 00:00:00 pub/README.txt'`);
    const target: ScanTarget = { id: 'both', rsyncUrl: 'rsync://example.org/pub/', manifestUrl: `${base}/inventory.jsonl`, content: TARGET_CONTENT };
    expect((await scanMirror(target, files, { rsyncPath })).record.source).toBe('rsync');
    expect((await scanMirror(target, files, { rsyncPath, prefer: 'http-manifest' })).record.source).toBe('http-manifest');
  });

  it.each([
    ['/missing.jsonl', /failed after 0 entries: HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/missing\.jsonl/],
    ['/corrupt.jsonl.gz', /failed after \d+ entries: .*(unexpected end of file|ended)/i],
    ['/error-page', /none of its 3 lines is a listing entry/],
    ['/cut-short.jsonl', /failed after \d+ entries: /],
  ])('rejects %s', async (urlPath, message) => {
    await expect(scanMirror({ id: 'web', manifestUrl: base + urlPath, content: TARGET_CONTENT }, files, { timeoutMs: 10_000 })).rejects.toThrow(message);
  });

  it('refuses a manifest or rsync host whose name resolves to this machine, before any request', async () => {
    requests = [];
    const port = new URL(base).port;
    // A zone that points mirror.example at loopback, where the test server listens.
    const toLoopback: LookupFunction = (_host, options, callback) =>
      options.all ? (callback as unknown as (e: null, a: unknown) => void)(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
    const lookup = guardedLookup((_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]));
    const target = { id: 'web', manifestUrl: `http://mirror.example:${port}/inventory.jsonl`, content: TARGET_CONTENT };
    await expect(scanMirror(target, files, { lookup })).rejects.toThrow(
      /scan of mirror web via http:\/\/mirror\.example:\d+\/inventory\.jsonl failed after 0 entries: .*mirror\.example resolves to an address Mirrorgate does not connect to: it points at this machine \(loopback address 127\.0\.0\.1\)/,
    );
    expect(requests).toEqual([]);
    // The same name through an unguarded lookup reaches the server: the refusal was the guard's.
    expect((await scanMirror(target, files, { lookup: toLoopback })).report.entries).toBe(10);
    const rsyncPath = await fakeRsync('never-run', 'echo ran >&2; exit 1');
    await expect(scanMirror({ id: 'sync', rsyncUrl: 'rsync://mirror.example/pub/', content: TARGET_CONTENT }, files, { rsyncPath, lookup })).rejects.toThrow(
      /failed after 0 entries: mirror\.example resolves to an address Mirrorgate does not connect to/,
    );
    // Allowed, rsync is handed the address that was checked, not the name it would resolve again; an
    // address whose daemon cannot be reached (rsync's exit 10) gives way to the next, as rsync does.
    const args = path.join(await mkdtemp(path.join(tmpdir(), 'mirrorgate-pinned-')), 'args');
    const pinned = await fakeRsync(
      'pinned',
      `echo "$*" >> '${args}'
case "$*" in *192.0.2.10*) echo 'rsync: failed to connect to 192.0.2.10: Connection refused (111)' >&2; exit 10;; esac
echo '-rw-r--r--          4,096 2026/01/01 00:00:00 README.txt'`,
    );
    const twoAddresses: LookupFunction = (_host, _options, callback) =>
      (callback as unknown as (e: null, a: unknown) => void)(null, [
        { address: '192.0.2.10', family: 4 },
        { address: '2001:db8::10', family: 6 },
      ]);
    const scanned = await scanMirror({ id: 'sync', rsyncUrl: 'rsync://mirror.example:8730/pub/', content: TARGET_CONTENT }, files, {
      rsyncPath: pinned,
      lookup: twoAddresses,
    });
    expect(scanned.record.source).toBe('rsync');
    const tried = (await readFile(args, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => line.split(' -- ')[1]);
    expect(tried).toEqual(['rsync://192.0.2.10:8730/pub/', 'rsync://[2001:db8::10]:8730/pub/']);
    // A daemon that answers and refuses (exit 5, protocol) is the scan's answer: the next address is not tried.
    const refusing = await fakeRsync('refusing', `echo "$*" >> '${args}.2'; echo '@ERROR: Unknown module' >&2; exit 5`);
    await expect(
      scanMirror({ id: 'sync', rsyncUrl: 'rsync://mirror.example/pub/', content: TARGET_CONTENT }, files, { rsyncPath: refusing, lookup: twoAddresses }),
    ).rejects.toThrow(/Unknown module/);
    expect((await readFile(`${args}.2`, 'utf8')).trimEnd().split('\n')).toHaveLength(1);
  });

  it('rejects when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}/inventory.jsonl`;
    await expect(scanMirror({ id: 'web', manifestUrl: url, content: TARGET_CONTENT }, files)).rejects.toThrow(
      /scan of mirror web via .* failed after 0 entries: fetch failed/,
    );
  });

  it('yields entries one by one from the stream', async () => {
    const listed: InventoryEntry[] = [];
    for await (const e of httpManifestList(`${base}/inventory.jsonl.gz`)) listed.push(e);
    expect(listed).toHaveLength(MIRROR_TREE.length + 1);
  });
});
