// The sharded snapshot at the edge, in real workerd: a core plus file shards fetched on demand give Node's answers, and only the shards a request needs are fetched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDownloadPath } from '../../src/core/paths.js';
import { shardOf } from '../../src/core/snapshotShards.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { encodePath, FILES, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client, header, rawRequest, readyz } from '../support/requests.js';
import { until } from '../support/wait.js';
import { cfBlob, edgeHeaders, linkOf, nodeHeaders, SHARED_CASES, type SharedCase } from './sharedCases.js';
import { countingProxy, startEdge, type CountingProxy, type EdgeRun } from './workerd.js';

/** One file per shard at most: the 8 fixture files spread over 8 shards (some empty, some shared). */
const SHARD_FILES = '1';
const SHARDS = 8;

let net: MirrorNetwork;
let proxy: CountingProxy;
let edgeRun: EdgeRun;

beforeAll(async () => {
  net = await startNetwork();
  proxy = await countingProxy(net.url);
  const common = { SNAPSHOT_TOKEN: STAFF_TOKEN, STAFF_TOKEN, SNAPSHOT_TTL_SECONDS: '1', LOG_LEVEL: 'warn' };
  // The shard size is read by the control plane's /admin/v1/snapshot/core and /shards routes on every request.
  edgeRun = await startEdge(
    'test/edge/sharded',
    [
      // Default SNAPSHOT_MODE (auto): the control plane has a core, so the Worker runs sharded.
      { name: 'edge', bindings: { ...common, CONTROL_URL: `${proxy.url}/edge` } },
      // A cache of a few bytes: it holds the last shard only.
      { name: 'edge-tiny', bindings: { ...common, CONTROL_URL: `${proxy.url}/tiny`, SNAPSHOT_MODE: 'sharded', SHARD_CACHE_MB: '0.000001' } },
    ],
    { shardFiles: SHARD_FILES },
  );
});

afterAll(async () => {
  await edgeRun?.close();
  await proxy?.close();
  await net?.close();
});

/** The shard requests (200s: bodies) one Worker made, by shard number. */
function shardLoads(prefix: string): Map<number, number> {
  const loads = new Map<number, number>();
  for (const s of proxy.seen) {
    const m = new RegExp(`^${prefix}/admin/v1/snapshot/shards/(\\d+)$`).exec(s.path);
    if (m && s.status === 200) loads.set(Number(m[1]), (loads.get(Number(m[1])) ?? 0) + 1);
  }
  return loads;
}

/** The shards a download request needs, as the Worker works them out (and a .meta4 its base file's too). */
function shardsNeeded(target: string): number[] {
  const raw = target.split('?')[0]!.slice('/download/'.length);
  const parsed = parseDownloadPath(raw);
  if (!parsed.ok) return [];
  const known = new Set<string>(Object.values(FILES));
  const out = [shardOf(parsed.path, SHARDS)];
  if (parsed.path.endsWith('.meta4') && !known.has(parsed.path)) out.push(shardOf(parsed.path.slice(0, -'.meta4'.length), SHARDS));
  return out;
}

describe('the sharded snapshot in workerd', () => {
  it('the control plane splits its 8 files into 8 shards', async () => {
    const res = await fetch(`${net.url}/admin/v1/snapshot/core`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } });
    expect(res.status).toBe(200);
    const core = (await res.json()) as { shards: { hash: string; files: number }[]; fileCount: number; version: number };
    expect(core.shards).toHaveLength(SHARDS);
    expect(core.fileCount).toBe(Object.keys(FILES).length);
    expect(core.shards.reduce((n, s) => n + s.files, 0)).toBe(core.fileCount);
    // ETag and 304 on the core and on a shard.
    const again = await fetch(`${net.url}/admin/v1/snapshot/core`, {
      headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'If-None-Match': res.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    const shard = await fetch(`${net.url}/admin/v1/snapshot/shards/0`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } });
    expect(shard.headers.get('etag')).toBe(`"${core.shards[0]!.hash}"`);
    await shard.arrayBuffer();
    expect(
      (
        await fetch(`${net.url}/admin/v1/snapshot/shards/0`, {
          headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'If-None-Match': `"${core.shards[0]!.hash}"` },
        })
      ).status,
    ).toBe(304);
    expect((await fetch(`${net.url}/admin/v1/snapshot/shards/${SHARDS}`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } })).status).toBe(404);
    expect((await fetch(`${net.url}/admin/v1/snapshot/core`)).status).toBe(401);
  });

  it.for(SHARED_CASES)('same answer as Node: $name', async (c, ctx) => {
    edgeRun.need(ctx);
    const node = await rawRequest(net.url, c.target, { method: c.method, headers: nodeHeaders(c) });
    const edge = await rawRequest(edgeRun.url(), c.target, { method: c.method, headers: edgeHeaders(c) });
    expect(edge.status, `${c.name}: ${edge.body.slice(0, 200)}`).toBe(node.status);
    expect(header(edge, 'location'), c.name).toBe(header(node, 'location'));
    expect(header(edge, 'x-mirrorgate-mirror'), c.name).toBe(header(node, 'x-mirrorgate-mirror'));
    if (node.status === 302) {
      expect(linkOf(edge, edgeRun.url()), c.name).toBe(linkOf(node, net.url));
      expect(header(edge, 'digest'), c.name).toBe(header(node, 'digest'));
    }
    if (node.status >= 400 && node.body !== '') expect(edge.body, c.name).toBe(node.body);
  });

  it('the same mirror lists (ranking, distances, exclusions) and file facts for every file', async (ctx) => {
    edgeRun.need(ctx);
    for (const p of Object.values(FILES)) {
      for (const client of ['DE', 'US_WEST', 'AU'] as const) {
        const list = `/download/${encodePath(p)}?mirrorlist`;
        const json = { Accept: 'application/json' };
        const node = await rawRequest(net.url, list, { headers: { 'X-Forwarded-For': CLIENT_IPS[client].ip, ...json } });
        const edge = await rawRequest(edgeRun.url(), list, {
          headers: { 'CF-Connecting-IP': CLIENT_IPS[client].ip, 'CF-Blob': JSON.stringify(cfBlob(client)), ...json },
        });
        expect(edge.status, p).toBe(200);
        const n = JSON.parse(node.body) as { client: unknown };
        const e = JSON.parse(edge.body) as { client: unknown };
        // The client differs by what each runtime knows of it (GeoIP vs request.cf); the rest must not.
        expect({ ...e, client: undefined }, `${p} for ${client}`).toEqual({ ...n, client: undefined });
      }
      const facts = `/api/v1/files/${encodePath(p)}`;
      const [node, edge] = await Promise.all([rawRequest(net.url, facts), rawRequest(edgeRun.url(), facts)]);
      expect(edge.status, p).toBe(200);
      expect(JSON.parse(edge.body), p).toEqual(JSON.parse(node.body));
    }
  });

  it('lists folders as Node does (the control plane answers them: no shard holds a whole folder)', async (ctx) => {
    edgeRun.need(ctx);
    for (const folder of ['/download/', '/download/pub/']) {
      const json = { Accept: 'application/json' };
      const [node, edge] = await Promise.all([rawRequest(net.url, folder, { headers: json }), rawRequest(edgeRun.url(), folder, { headers: json })]);
      expect(edge.status, folder).toBe(200);
      expect(JSON.parse(edge.body), folder).toEqual(JSON.parse(node.body));
      const page = await rawRequest(edgeRun.url(), folder, { headers: { Accept: 'text/html' } });
      expect(page.status, folder).toBe(200);
      expect(page.body).toContain('Index of');
    }
  });

  it('fetched only the shards its requests needed, each once', (ctx) => {
    edgeRun.need(ctx);
    const needed = new Set<number>();
    for (const c of SHARED_CASES) for (const k of shardsNeeded(c.target)) needed.add(k);
    for (const p of Object.values(FILES)) needed.add(shardOf(p, SHARDS));
    const loads = shardLoads('/edge');
    expect([...loads.keys()].sort((a, b) => a - b)).toEqual([...needed].sort((a, b) => a - b));
    for (const [k, n] of loads) expect(n, `shard ${k}`).toBe(1);
    // The 8 fixture files do not cover every shard: some shard was never asked for.
    expect(needed.size).toBeLessThan(SHARDS);
  });

  it('counts what each mirror carries of the whole file set on /api/v1/mirrors, as Node does', async (ctx) => {
    edgeRun.need(ctx);
    const pick = (body: string) =>
      (JSON.parse(body) as { mirrors: { id: string; files: number; share: number; status: string }[] }).mirrors.map(({ id, files, share, status }) => ({
        id,
        files,
        share,
        status,
      }));
    const [node, edge] = await Promise.all([rawRequest(net.url, '/api/v1/mirrors'), rawRequest(edgeRun.url(), '/api/v1/mirrors')]);
    expect(edge.status).toBe(200);
    expect(pick(edge.body)).toEqual(pick(node.body));
    expect(pick(edge.body).some((m) => m.files > 0)).toBe(true);
  });

  it('reports its shards in /readyz', async (ctx) => {
    edgeRun.need(ctx);
    const r = await readyz(edgeRun.url());
    expect(r).toMatchObject({ status: 'ready', snapshotMode: 'sharded', files: Object.keys(FILES).length, snapshotShards: SHARDS });
    expect(r.snapshotShardsCached).toBe(shardLoads('/edge').size);
    expect(r.snapshotVersion).toBe((await readyz(net.url)).snapshotVersion);
  });

  it('takes a staff change from the core alone: no shard is fetched again', async (ctx) => {
    edgeRun.need(ctx);
    const c = SHARED_CASES.find((x) => x.name === 'DE → Berlin')!;
    const mirrorOf = async (base: string, headers: Record<string, string>) => header(await rawRequest(base, c.target, { headers }), 'x-mirrorgate-mirror');
    const before = new Map(shardLoads('/edge'));
    expect(await mirrorOf(edgeRun.url(), edgeHeaders(c))).toBe('de-berlin');
    const patch = (enabled: boolean) => client(net.url, STAFF_TOKEN).patch('/admin/v1/mirrors/de-berlin', { enabled });
    try {
      expect((await patch(false)).status).toBe(200);
      await until(async () => (await mirrorOf(edgeRun.url(), edgeHeaders(c))) !== 'de-berlin', 10_000, 'the edge to drop the disabled mirror');
      expect(await mirrorOf(edgeRun.url(), edgeHeaders(c))).toBe(await mirrorOf(net.url, nodeHeaders(c)));
    } finally {
      expect((await patch(true)).status).toBe(200);
    }
    await until(async () => (await mirrorOf(edgeRun.url(), edgeHeaders(c))) === 'de-berlin', 10_000, 'the edge to take the mirror back');
    expect(shardLoads('/edge')).toEqual(before);
    // The core, though, was fetched anew for each change.
    expect(proxy.seen.filter((s) => s.path === '/edge/admin/v1/snapshot/core' && s.status === 200).length).toBeGreaterThanOrEqual(3);
  });

  it('bounds its shard cache by bytes: a tiny cache keeps the last shard only, and refetches', async (ctx) => {
    edgeRun.need(ctx);
    const a = FILES.readme;
    const b = [FILES.tarball, FILES.iso, FILES.unicode, FILES.stale].find((p) => shardOf(p, SHARDS) !== shardOf(a, SHARDS))!;
    const ask = (p: string) =>
      rawRequest(edgeRun.url('edge-tiny'), `/download/${encodePath(p)}`, {
        headers: edgeHeaders({ name: '', target: '', client: 'DE', expect: { status: 302, mirror: '' } }),
      });
    for (const p of [a, b, a, b]) {
      const res = await ask(p);
      expect(res.status, p).toBe(302);
      expect(header(res, 'location')).toBe(
        header(
          await rawRequest(net.url, `/download/${encodePath(p)}`, {
            headers: nodeHeaders({ name: '', target: '', client: 'DE', expect: { status: 302, mirror: '' } }),
          }),
          'location',
        ),
      );
    }
    expect(shardLoads('/tiny').get(shardOf(a, SHARDS))).toBe(2);
    expect(shardLoads('/tiny').get(shardOf(b, SHARDS))).toBe(2);
    expect((await readyz(edgeRun.url('edge-tiny'))).snapshotShardsCached).toBe(1);
  });

  it('a file published since its shards were fetched is served from the origin at once, through the control plane', async (ctx) => {
    edgeRun.need(ctx);
    const de = { name: '', target: '', client: 'DE' as const, expect: { status: 302 as const, mirror: '' } };
    // Its shard is fetched first, so the edge holds a version of it without the file.
    const target = '/download/pub/just-published.bin';
    expect((await rawRequest(edgeRun.url(), target, { headers: edgeHeaders(de) })).status).toBe(404);
    // (The control plane looks at its origin for a missing file at most four times a second: past that window.)
    await new Promise((r) => setTimeout(r, 300));
    const f = await net.addOriginFile('pub/just-published.bin', Buffer.from('fresh bytes\n'));
    const res = await rawRequest(edgeRun.url(), target, { headers: edgeHeaders(de) });
    expect(res.status, res.body.slice(0, 200)).toBe(302);
    expect(header(res, 'location')).toBe(net.origin.baseUrl + f.path);
    expect((await rawRequest(edgeRun.url(), '/download/pub/never-published.bin', { headers: edgeHeaders(de) })).status).toBe(404);
  });

  it('sends the place request.cf gives with what it passes to the control plane, and the control plane ranks for it', async (ctx) => {
    edgeRun.need(ctx);
    const json = { Accept: 'application/json' };
    // An address GeoIP places in Germany, which Cloudflare places in Australia (a VPN, a mobile network).
    // A client's own place and token headers never pass the edge.
    const folder = await rawRequest(edgeRun.url(), '/download/pub/', {
      headers: {
        'CF-Connecting-IP': CLIENT_IPS.DE.ip,
        'CF-Blob': JSON.stringify(cfBlob('AU')),
        'X-Mirrorgate-Edge-Place': JSON.stringify(cfBlob('DE')),
        'X-Mirrorgate-Edge-Token': 'forged',
        ...json,
      },
    });
    expect(folder.status, folder.body.slice(0, 200)).toBe(200);
    const sent = proxy.seen.filter((s) => s.path === '/edge/download/pub/').at(-1);
    expect(JSON.parse(sent?.edgePlace ?? '{}')).toMatchObject({ country: 'AU', continent: 'OC' });

    // At the control plane, the place counts only beside an edge or staff token.
    const list = `/download/${encodePath(FILES.tarball)}?mirrorlist`;
    const ranked = (body: string) => JSON.parse(body) as { client: { country?: string }; mirrors: { id: string }[] };
    const asked = (headers: Record<string, string>) => rawRequest(net.url, list, { headers: { 'X-Forwarded-For': CLIENT_IPS.DE.ip, ...json, ...headers } });
    const inDe = ranked((await asked({})).body);
    const inAu = ranked((await rawRequest(net.url, list, { headers: { 'X-Forwarded-For': CLIENT_IPS.AU.ip, ...json } })).body);
    expect(inAu.mirrors.map((m) => m.id)).not.toEqual(inDe.mirrors.map((m) => m.id));
    const place = { 'X-Mirrorgate-Edge-Place': JSON.stringify(cfBlob('AU')) };
    const forged = ranked((await asked({ ...place, 'X-Mirrorgate-Edge-Token': 'forged' })).body);
    expect(forged.client.country).toBe('DE');
    expect(forged.mirrors).toEqual(inDe.mirrors);
    const fromEdge = ranked((await asked({ ...place, 'X-Mirrorgate-Edge-Token': STAFF_TOKEN })).body);
    expect(fromEdge.client.country).toBe('AU');
    expect(fromEdge.mirrors.map((m) => m.id)).toEqual(inAu.mirrors.map((m) => m.id));
    // A download passed on the same way is the app's, not the fast path's (which places by address).
    const download = await rawRequest(net.url, `/download/${encodePath(FILES.tarball)}`, {
      headers: { 'X-Forwarded-For': CLIENT_IPS.DE.ip, ...place, 'X-Mirrorgate-Edge-Token': STAFF_TOKEN },
    });
    expect(header(download, 'x-mirrorgate-mirror')).toBe(inAu.mirrors[0]!.id);
  });

  it('reads escaped path prefixes and folder lists as Node does: /%64ownload/…, repository lists, a folder named without its slash', async (ctx) => {
    edgeRun.need(ctx);
    const de = { name: '', target: '', client: 'DE' as const, expect: { status: 302 as const, mirror: '' } };
    const escaped = `/%64ownload/${encodePath(FILES.readme)}`;
    const [node, edge] = await Promise.all([
      rawRequest(net.url, escaped, { headers: nodeHeaders(de) }),
      rawRequest(edgeRun.url(), escaped, { headers: edgeHeaders(de) }),
    ]);
    expect(edge.status, edge.body.slice(0, 200)).toBe(302);
    expect(header(edge, 'location')).toBe(header(node, 'location'));
    const facts = `/api/v1/%66iles/${encodePath(FILES.readme)}`;
    expect(JSON.parse((await rawRequest(edgeRun.url(), facts)).body)).toEqual(JSON.parse((await rawRequest(net.url, facts)).body));

    // Folder lists come from the whole tree, at the control plane: as on Node, whatever shards the edge holds.
    for (const [target, accept] of [
      ['/download/?mirrorlist', 'application/json'],
      ['/download/pub/?mirrorlist', 'application/json'],
      ['/download/pub/', 'text/plain'],
      ['/download/pub?mirrorlist', 'application/json'],
      ['/download/pub', 'text/plain'],
    ] as const) {
      const n = await rawRequest(net.url, target, { headers: { ...nodeHeaders(de), Accept: accept } });
      const e = await rawRequest(edgeRun.url(), target, { headers: { ...edgeHeaders(de), Accept: accept } });
      expect(e.status, `${target}: ${e.body.slice(0, 200)}`).toBe(n.status);
      expect(e.body.split(net.url).join('').split(edgeRun.url()).join(''), target).toBe(n.body.split(net.url).join('').split(edgeRun.url()).join(''));
    }
  });
});
