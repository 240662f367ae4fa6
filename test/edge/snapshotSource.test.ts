// The edge's snapshot source against a real HTTP server publishing encoded snapshots (and a KV stand-in): 304s, staleness, first-load 503s.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec } from '../../src/core/model.js';
import { encodeSnapshot } from '../../src/core/snapshotCodec.js';
import { parseEdgeEnv } from '../../src/edge/config.js';
import { createEdge } from '../../src/edge/edgeApp.js';
import type { KvNamespaceLike, WorkerContext } from '../../src/edge/runtime.js';
import { headerTag, SnapshotSource, SNAPSHOT_PATH } from '../../src/edge/snapshotSource.js';
import type { LogLike } from '../../src/http/services.js';
import { mirrorSpec } from '../support/specs.js';

const TOKEN = 'edge-snapshot-token';
const silent: LogLike = { info() {}, warn() {}, error() {} };

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { baseUrl: `https://${id}.example/pub/`, ...over });
}

function builder(): SnapshotBuilder {
  return new SnapshotBuilder({
    mirrors: [mirror('de-one'), mirror('fr-two', { country: 'FR' })],
    files: FileIndex.from([{ path: 'pub/a.iso', size: 10, mtime: 1 }]),
    originBaseUrl: 'https://origin.example/pub/',
    routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    clock: () => 1_000,
  });
}

/** A stand-in control plane: GET /admin/v1/snapshot with the staff token, ETag and 304, like src/http/admin.ts. */
async function controlPlane(b: SnapshotBuilder, opts: { delayMs?: number } = {}) {
  const seen: { auth?: string; ifNoneMatch?: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    seen.push({ auth: req.headers.authorization, ifNoneMatch: req.headers['if-none-match'] });
    // Only later checks are slow: the first load is not what the wait budget is about.
    if (opts.delayMs && seen.length > 1) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (req.url !== SNAPSHOT_PATH) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    const s = b.current();
    const etag = `"mgs-${s.version}-${s.builtAtMs}"`;
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { ETag: etag }).end();
    res.writeHead(200, { ETag: etag, 'Content-Type': 'application/vnd.mirrorgate.snapshot' }).end(encodeSnapshot(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  toClose.push(close);
  return { url, seen, close };
}

const toClose: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of toClose.splice(0)) await fn().catch(() => {});
});

/** Collects what a Worker would hand to ctx.waitUntil. */
function background() {
  const pending: Promise<unknown>[] = [];
  return { hand: (p: Promise<unknown>) => void pending.push(p), settle: () => Promise.all(pending.splice(0)) };
}

describe('SnapshotSource (control plane)', () => {
  it('loads once, checks ahead of the TTL in the background (If-None-Match), and past the TTL waits for the check', async () => {
    const b = builder();
    const cp = await controlPlane(b);
    let now = 0;
    const source = new SnapshotSource({ controlUrl: cp.url, token: TOKEN, ttlMs: 10_000, waitMs: 5_000, clock: () => now, log: silent });
    const installed: number[] = [];
    source.onChange((s) => installed.push(s.version));
    const bg = background();

    const first = await source.ensure(bg.hand);
    expect(first?.version).toBe(b.current().version);
    expect(cp.seen).toEqual([{ auth: `Bearer ${TOKEN}`, ifNoneMatch: undefined }]);

    now = 7_499;
    expect(await source.ensure(bg.hand)).toBe(first);
    await bg.settle();
    expect(cp.seen).toHaveLength(1);

    now = 7_500; // three quarters of the TTL: served at once, checked behind it
    expect(await source.ensure(bg.hand)).toBe(first);
    await bg.settle();
    expect(cp.seen).toHaveLength(2);
    expect(cp.seen[1]!.ifNoneMatch).toBe(`"mgs-${first!.version}-${first!.builtAtMs}"`);
    expect(installed).toEqual([first!.version]); // 304: nothing decoded
    expect(source.status().checkedAtMs).toBe(7_500); // when the check was sent

    // An idle spell, and a change meanwhile: the next request waits for the check and answers from the new snapshot.
    b.setState('fr-two', { health: 'down' });
    now = 60_000;
    const next = await source.ensure(bg.hand);
    expect(next?.version).toBe(b.current().version);
    expect(installed).toEqual([first!.version, b.current().version]);
    expect(source.status()).toMatchObject({ source: 'control-plane', version: b.current().version, checkedAtMs: 60_000 });
    expect(source.status().freshness).toMatchObject({ waits: 1, staleAnswers: 0 });
  });

  it('past the TTL, answers from the old snapshot when the check takes longer than the wait budget', async () => {
    const b = builder();
    const cp = await controlPlane(b, { delayMs: 400 });
    let now = 0;
    const source = new SnapshotSource({ controlUrl: cp.url, token: TOKEN, ttlMs: 1_000, waitMs: 50, clock: () => now, log: silent });
    const bg = background();
    const first = await source.ensure(bg.hand);
    b.setState('fr-two', { health: 'down' });
    now = 5_000;
    expect(await source.ensure(bg.hand)).toBe(first); // the check is still out: the old snapshot answers
    expect(source.status().freshness).toMatchObject({ waits: 1, staleAnswers: 1 });
    // A request while that check is still out waits no longer: the attempt's budget is spent.
    now = 5_050;
    expect(await source.ensure(bg.hand)).toBe(first);
    expect(source.status().freshness).toMatchObject({ waits: 1, staleAnswers: 2 });
    await bg.settle();
    expect((await source.ensure(bg.hand))?.version).toBe(b.current().version);
  });

  it('serves the last snapshot while the control plane is unreachable, and says so', async () => {
    const b = builder();
    const cp = await controlPlane(b);
    let now = 0;
    const source = new SnapshotSource({ controlUrl: cp.url, token: TOKEN, ttlMs: 1000, clock: () => now, log: silent });
    const bg = background();
    const first = await source.ensure(bg.hand);
    await cp.close();
    now = 5_000;
    expect(await source.ensure(bg.hand)).toBe(first);
    await bg.settle();
    expect(source.status().lastError).toBeTypeOf('string');
    expect(source.status().checkedAtMs).toBe(0);
    // A failed check waits a TTL before the next one.
    now = 5_500;
    await source.ensure(bg.hand);
    await expect(bg.settle()).resolves.toEqual([]);
  });

  it('has nothing before the first load succeeds, and retries at most once per retryMs', async () => {
    const b = builder();
    const cp = await controlPlane(b);
    let now = 0;
    const source = new SnapshotSource({ controlUrl: cp.url, token: 'wrong', ttlMs: 1000, retryMs: 1000, clock: () => now, log: silent });
    const bg = background();
    expect(await source.ensure(bg.hand)).toBeUndefined();
    expect(source.status().lastError).toContain('401');
    expect(await source.ensure(bg.hand)).toBeUndefined();
    expect(cp.seen).toHaveLength(1);
    now = 1000;
    expect(await source.ensure(bg.hand)).toBeUndefined();
    expect(cp.seen).toHaveLength(2);
  });

  it('shares one first load among concurrent requests', async () => {
    const cp = await controlPlane(builder());
    const source = new SnapshotSource({ controlUrl: cp.url, token: TOKEN, ttlMs: 1000, log: silent });
    const bg = background();
    const all = await Promise.all(Array.from({ length: 10 }, () => source.ensure(bg.hand)));
    expect(new Set(all).size).toBe(1);
    expect(all[0]).toBeDefined();
    expect(cp.seen).toHaveLength(1);
  });
});

describe('SnapshotSource (KV)', () => {
  it('reads the "snapshot" key and decodes only when its header names another snapshot', async () => {
    const b = builder();
    const store = new Map<string, ArrayBuffer>();
    const put = () => {
      const bytes = encodeSnapshot(b.current());
      store.set('snapshot', bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    };
    let reads = 0;
    const kv: KvNamespaceLike = {
      get: async (key) => (reads++, store.get(key) ?? null),
    };
    let now = 0;
    const source = new SnapshotSource({ kv, ttlMs: 1000, clock: () => now, log: silent });
    const installed: number[] = [];
    source.onChange((s) => installed.push(s.version));
    const bg = background();

    expect(await source.ensure(bg.hand)).toBeUndefined();
    expect(source.status().lastError).toContain('empty');
    put();
    now = 1000;
    expect((await source.ensure(bg.hand))?.version).toBe(b.current().version);
    now = 2000;
    await source.ensure(bg.hand);
    await bg.settle();
    expect(reads).toBe(3);
    expect(installed).toHaveLength(1);
    b.setState('de-one', { health: 'down' });
    put();
    now = 3000;
    await source.ensure(bg.hand);
    await bg.settle();
    expect(installed).toEqual([installed[0], b.current().version]);
    expect(source.status().source).toBe('kv');
  });

  it('headerTag reads version and build time without decoding', () => {
    const s = builder().current();
    expect(headerTag(encodeSnapshot(s))).toBe(`${s.version}-${s.builtAtMs}`);
    expect(headerTag(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});

describe('edge env', () => {
  it('names each problem by its binding', () => {
    expect(parseEdgeEnv({})).toEqual({ ok: false, problems: ['CONTROL_URL: required unless a SNAPSHOT KV namespace is bound'] });
    expect(parseEdgeEnv({ CONTROL_URL: 'https://c.example' })).toEqual({
      ok: false,
      problems: ['SNAPSHOT_TOKEN: required to fetch the snapshot from CONTROL_URL (an edge or staff token)'],
    });
    const bad = parseEdgeEnv({ CONTROL_URL: 'ftp://c.example', SNAPSHOT_TOKEN: 't', SNAPSHOT_TTL_SECONDS: 'soon' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems.map((p) => p.split(':')[0])).toEqual(['CONTROL_URL', 'SNAPSHOT_TTL_SECONDS']);
  });

  it('applies defaults and treats empty vars as unset', () => {
    const r = parseEdgeEnv({ CONTROL_URL: 'https://c.example/', SNAPSHOT_TOKEN: 't', PUBLIC_URL: '', SNAPSHOT_TTL_SECONDS: '2.5' });
    expect(r).toEqual({ ok: true, config: expect.objectContaining({ controlUrl: 'https://c.example', ttlMs: 2500, logLevel: 'warn', publicUrl: undefined }) });
  });

  it('a misconfigured Worker answers 500 without naming its bindings', async () => {
    const errors: object[] = [];
    const edge = createEdge({ CONTROL_URL: 'https://c.example' }, { log: { info() {}, warn() {}, error: (o) => errors.push(o) } });
    const ctx = { waitUntil() {}, passThroughOnException() {} } as unknown as WorkerContext;
    const res = await edge.fetch(new Request('https://edge.example/download/pub/a.iso'), ctx);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('SNAPSHOT_TOKEN');
    expect(JSON.stringify(errors)).toContain('SNAPSHOT_TOKEN');
  });
});
