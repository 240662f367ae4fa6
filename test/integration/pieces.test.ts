// Piece hashes end to end: origin manifest → .meta4 <pieces> (Node, and the edge from both snapshot forms) → aria2c re-fetching only the corrupt piece from another mirror.
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge } from '../../src/edge/edgeApp.js';
import type { WorkerContext } from '../../src/edge/runtime.js';
import { serve, type RunningServer } from '../../src/node.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { freePort, LoopbackFileServer, type LoggedRequest } from '../support/network.js';

const PIECE = 256 * 1024;
/** Thirteen pieces, the last one short. */
const SIZE = 13 * PIECE - 1000;
const FILE = 'pub/images/pieces test.img';
const MTIME = 1_767_225_600;
const TRACE = `${MTIME + 60}\n`;
const TOKEN = 'staff-token-for-pieces-tests';
/** The one byte the DE mirror's copy gets wrong: in the middle of the file, so in piece 6. */
const BAD_OFFSET = Math.floor(SIZE / 2);
const BAD_PIECE = Math.floor(BAD_OFFSET / PIECE);
const DE = CLIENT_IPS.DE.ip;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let dir: string;
let data: Buffer;
let pieceHashes: string[];
let server: RunningServer;
let origin: LoopbackFileServer;
let bad: LoopbackFileServer;
let good: LoopbackFileServer;

async function place(root: string, bytes: Buffer): Promise<void> {
  const local = path.join(root, ...FILE.split('/'));
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, bytes);
  await utimes(local, MTIME, MTIME);
  await writeFile(path.join(root, 'TIME'), TRACE);
}

async function fileServer(id: string, bytes: Buffer): Promise<LoopbackFileServer> {
  const root = path.join(dir, id);
  await place(root, bytes);
  const s = new LoopbackFileServer(id, root);
  await s.start();
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-pieces-'));
  data = randomBytes(SIZE);
  pieceHashes = [];
  for (let at = 0; at < SIZE; at += PIECE) pieceHashes.push(sha256(data.subarray(at, at + PIECE)));
  const corrupt = Buffer.from(data);
  corrupt[BAD_OFFSET] = corrupt[BAD_OFFSET]! ^ 0xff;

  origin = await fileServer('origin', data);
  bad = await fileServer('de-corrupt', corrupt);
  good = await fileServer('fr-good', data);

  const manifest = path.join(dir, 'origin.jsonl');
  await writeFile(
    manifest,
    [
      { path: FILE, size: SIZE, mtime: MTIME, sha256: sha256(data), pieces: { length: PIECE, sha256: pieceHashes } },
      { path: 'pub/plain.txt', size: 5, mtime: MTIME },
    ]
      .map((line) => `${JSON.stringify(line)}\n`)
      .join(''),
  );
  const port = await freePort();
  const mirror = (s: LoopbackFileServer, country: string, lat: number, lon: number) => ({
    id: s.id,
    name: s.id,
    baseUrl: s.baseUrl,
    country,
    lat,
    lon,
    weight: 100,
  });
  const config = {
    publicUrl: `http://127.0.0.1:${port}`,
    dataDir: path.join(dir, 'var'),
    allowPrivateMirrorAddresses: true,
    origin: { baseUrl: origin.baseUrl, manifest },
    routing: { bandKm: 50 },
    tokens: [{ token: TOKEN, role: 'staff', name: 'ops' }],
    // The DE client's nearest mirror holds the corrupt copy: it comes first in the metalink.
    mirrors: [mirror(bad, 'DE', 52.52, 13.405), mirror(good, 'FR', 48.857, 2.352)],
  };
  const configPath = path.join(dir, 'mirrorgate.yaml');
  await writeFile(configPath, stringify(config));
  server = await serve({ configPath, port, hostname: '127.0.0.1', logLevel: 'silent', env: {} });
});

afterAll(async () => {
  await server?.close();
  for (const s of [origin, bad, good]) await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const metalinkUrl = () => `${server.url}/download/${FILE.split('/').map(encodeURIComponent).join('/')}.meta4`;

/** The <pieces> element of a metalink, as text. */
function piecesElement(xml: string): string | undefined {
  return /<pieces[\s\S]*?<\/pieces>/.exec(xml)?.[0];
}

describe('piece hashes from the origin manifest', () => {
  it('the .meta4 lists them after the whole-file hash, in order; /api/v1/files shows only their shape', async () => {
    const res = await fetch(metalinkUrl(), { headers: { 'X-Forwarded-For': DE } });
    expect(res.status).toBe(200);
    const xml = await res.text();
    const file = /<file [\s\S]*<\/file>/.exec(xml)![0];
    expect(file).toMatch(new RegExp(`<hash type="sha-256">${sha256(data)}</hash>\\s*<pieces length="${PIECE}" type="sha-256">`));
    expect([...piecesElement(xml)!.matchAll(/<hash>([0-9a-f]{64})<\/hash>/g)].map((m) => m[1])).toEqual(pieceHashes);
    // Nearest first: the DE mirror (with the corrupt copy) is priority 1.
    expect([...xml.matchAll(/<url location="(\w+)" priority="(\d)">/g)].map((m) => [m[1], m[2]])).toEqual([
      ['de', '1'],
      ['fr', '2'],
    ]);

    const facts = (await (await fetch(`${server.url}/api/v1/files/${FILE.replace(/ /g, '%20')}`)).json()) as Record<string, unknown>;
    expect(facts).toMatchObject({ path: FILE, size: SIZE, sha256: sha256(data), pieces: { length: PIECE, count: 13 } });
    const plain = (await (await fetch(`${server.url}/api/v1/files/pub/plain.txt`)).json()) as Record<string, unknown>;
    expect(plain).not.toHaveProperty('pieces');
    const plainXml = await (await fetch(`${server.url}/download/pub/plain.txt.meta4`)).text();
    expect(plainXml).not.toContain('<pieces');
  });

  it('the edge gives the same <pieces>, from the whole snapshot and from shards', async () => {
    const node = piecesElement(await (await fetch(metalinkUrl(), { headers: { 'X-Forwarded-For': DE } })).text());
    expect(node).toBeDefined();
    const pending: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException() {} } as unknown as WorkerContext;
    const silent = { info() {}, warn() {}, error() {} };
    for (const mode of ['single', 'sharded'] as const) {
      const edge = createEdge({ CONTROL_URL: server.url, SNAPSHOT_TOKEN: TOKEN, SNAPSHOT_MODE: mode, LOG_LEVEL: 'silent' }, { log: silent });
      const res = await edge.fetch(new Request(metalinkUrl().replace(server.url, 'https://edge.example'), { headers: { 'CF-Connecting-IP': DE } }), ctx);
      expect(res.status, mode).toBe(200);
      expect(edge.mode()).toBe(mode);
      expect(piecesElement(await res.text()), mode).toBe(node);
    }
    await Promise.all(pending);
  });
});

// ---------------------------------------------------------------------------------------------

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const hasAria2 = spawnSync('aria2c', ['--version'], { stdio: 'ignore' }).error === undefined;
if (!hasAria2 && process.env.CI !== 'true') console.warn('[pieces.test] skipping the aria2c test: aria2c is not installed');

/** The client's GETs for the file (probes never send X-Forwarded-For). */
function clientGets(s: LoopbackFileServer): LoggedRequest[] {
  return s.requestsFor(FILE).filter((r) => r.method === 'GET' && r.headers['x-forwarded-for'] !== undefined);
}

/** The first byte a logged request asked for (0 without a Range). */
function rangeStart(r: LoggedRequest): number {
  return r.range === undefined ? 0 : Number(/^bytes=(\d+)-/.exec(r.range)?.[1] ?? Number.NaN);
}

describe.skipIf(!hasAria2 && process.env.CI !== 'true')('aria2c and a mirror with a corrupt copy', () => {
  it('checks each piece as it arrives and fetches only the bad one again, from the other mirror', async () => {
    const out = path.join(dir, 'download');
    await mkdir(out, { recursive: true });
    for (const s of [origin, bad, good]) s.clearLog();
    const r = await run('aria2c', [
      '--no-conf=true',
      '--no-netrc=true',
      `--dir=${out}`,
      '--allow-overwrite=true',
      '--auto-file-renaming=false',
      '--file-allocation=none',
      '--summary-interval=0',
      '--download-result=hide',
      '--connect-timeout=2',
      '--timeout=5',
      // One connection: the pieces come in order from the first mirror until one fails its hash.
      '--split=1',
      // A piece that fails its hash takes its mirror out at once (aria2's default retries it 5 times).
      '--max-tries=1',
      '--follow-metalink=mem',
      // Both mirrors are 127.0.0.1: by default aria2 drops a metalink's other URIs on the host that answered, taking them for the same mirror over another protocol.
      '--metalink-enable-unique-protocol=false',
      `--header=X-Forwarded-For: ${DE}`,
      // aria2's own account of each piece's check.
      '--log=-',
      '--log-level=info',
      '--console-log-level=error',
      metalinkUrl(),
    ]);
    const log = `${r.stdout}\n${r.stderr}`;
    expect(r.code, log.slice(-4000)).toBe(0);
    const saved = await readFile(path.join(out, path.basename(FILE)));
    expect(sha256(saved)).toBe(sha256(data));

    // aria2 found exactly one piece bad, the one with the flipped byte, and every other piece good.
    const failed = [...log.matchAll(/Chunk checksum validation failed\. checksumIndex=(\d+)/g)].map((m) => Number(m[1]));
    expect(failed).toEqual([BAD_PIECE]);
    expect(log.match(/Good chunk checksum/g)?.length).toBe(13);

    // The pieces before it came from the DE mirror once; the FR mirror was asked from the bad piece on, never before.
    const fromBad = clientGets(bad);
    const fromGood = clientGets(good);
    expect(fromBad.map(rangeStart)).toEqual([0]);
    expect(fromGood.length).toBeGreaterThan(0);
    expect(Math.min(...fromGood.map(rangeStart))).toBe(BAD_PIECE * PIECE);
    expect(clientGets(origin)).toEqual([]);
  });
});
