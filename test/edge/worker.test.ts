// SPEC "Edge": the Worker bundle in the real workerd runtime gives the Node app's answers, with a real Mirrorgate as its control plane.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORBIDDEN_PACKAGES, forbiddenInputs } from '../../scripts/build-worker.js';
import type { RunningServer } from '../../src/node.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { encodePath, FILES, freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client, header, rawRequest, readyz, type RawResponse } from '../support/requests.js';
import { until } from '../support/wait.js';
import { cfBlob, edgeHeaders, linkOf, nodeHeaders, SHARED_CASES, type SharedCase } from './sharedCases.js';
import { startEdge, type EdgeRun } from './workerd.js';

let net: MirrorNetwork;
/** A second control plane, closed mid-test, behind the "edge-stale" Worker. */
let stalePlane: RunningServer;
let edgeRun: EdgeRun;

beforeAll(async () => {
  net = await startNetwork();
  stalePlane = await net.startServer();
  const common = { SNAPSHOT_TOKEN: STAFF_TOKEN, STAFF_TOKEN, SNAPSHOT_TTL_SECONDS: '1', LOG_LEVEL: 'warn' };
  edgeRun = await startEdge('test/edge', [
    { name: 'edge', bindings: { ...common, CONTROL_URL: net.url } },
    { name: 'edge-stale', bindings: { ...common, CONTROL_URL: stalePlane.url } },
    // Nothing listens there: this Worker never gets a snapshot.
    { name: 'edge-cold', bindings: { ...common, CONTROL_URL: `http://127.0.0.1:${await freePort()}` } },
  ]);
  if (!edgeRun.workerd) return;
  console.log(
    `test/edge: bundle ${(edgeRun.bundle.bytes / 1024).toFixed(1)} KiB raw, ${(edgeRun.bundle.gzipBytes / 1024).toFixed(1)} KiB gzip; ` +
      `workerd cold start (spawn → first 200, 3 Workers) ${edgeRun.workerd.coldStartMs.toFixed(0)} ms`,
  );
  // Compare answers over the same snapshot: wait until the edge holds the control plane's version.
  await until(
    async () => (await readyz(edgeRun.url())).snapshotVersion === (await readyz(net.url)).snapshotVersion,
    15_000,
    'the edge to load the current snapshot',
  );
});

afterAll(async () => {
  await edgeRun?.close();
  await net?.close();
});

// ---------------------------------------------------------------------------------------------
// helpers

function askNode(c: SharedCase, extra: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(net.url, c.target, { method: c.method, headers: { ...nodeHeaders(c), ...extra } });
}

function askEdge(c: SharedCase, extra: Record<string, string> = {}, name = 'edge'): Promise<RawResponse> {
  return rawRequest(edgeRun.url(name), c.target, { method: c.method, headers: { ...edgeHeaders(c), ...extra } });
}

function checkExpected(c: SharedCase, res: RawResponse, runtime: string): void {
  const e = c.expect;
  expect(res.status, `${runtime}: ${c.name} (${res.body.slice(0, 120)})`).toBe(e.status);
  if ('mirror' in e) {
    const mirror = header(res, 'x-mirrorgate-mirror');
    const allowed = typeof e.mirror === 'string' ? [e.mirror] : e.mirror;
    expect(allowed, `${runtime}: ${c.name} went to ${mirror}`).toContain(mirror);
  }
  if (e.status === 302) {
    expect(header(res, 'location'), `${runtime}: ${c.name}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  }
}

// ---------------------------------------------------------------------------------------------

describe('the Worker bundle', () => {
  it('holds no Node-only module', () => {
    for (const input of edgeRun.bundle.inputs) {
      expect(input.startsWith('node:'), input).toBe(false);
      for (const pkg of FORBIDDEN_PACKAGES) expect(input, input).not.toContain(`node_modules/${pkg}/`);
    }
    // The known stubs are the only Node imports left in createApp's graph (see scripts/build-worker.ts).
    expect(edgeRun.bundle.stubbed.every((s) => s.startsWith('src/config/schema.ts'))).toBe(true);
  });

  it('the build check names any node: import or forbidden package', () => {
    const problems = forbiddenInputs({
      inputs: {
        'src/a.ts': { bytes: 1, imports: [{ path: 'node:fs', kind: 'import-statement', external: true }] },
        'node_modules/pino/index.js': { bytes: 1, imports: [] },
        'src/b.ts': { bytes: 1, imports: [{ path: 'src/c.ts', kind: 'import-statement' }] },
      },
      outputs: {},
    });
    expect(problems).toEqual(['src/a.ts → node:fs', 'node_modules/pino/index.js: package pino is Node-only']);
  });
});

describe('the same answers on Node and on the Worker (shared table)', () => {
  it.for(SHARED_CASES)('$name', async (c, ctx) => {
    const node = await askNode(c);
    checkExpected(c, node, 'node');
    edgeRun.need(ctx);
    const edge = await askEdge(c);
    checkExpected(c, edge, 'edge');
    expect(edge.status, c.name).toBe(node.status);
    expect(header(edge, 'location'), c.name).toBe(header(node, 'location'));
    expect(header(edge, 'x-mirrorgate-mirror'), c.name).toBe(header(node, 'x-mirrorgate-mirror'));
    if (node.status === 302) {
      expect(linkOf(edge, edgeRun.url()), c.name).toBe(linkOf(node, net.url));
      expect(header(edge, 'digest'), c.name).toBe(header(node, 'digest'));
      expect(header(edge, 'cache-control'), c.name).toBe('no-store');
    }
    // Short reasons ("path traversal", "not in the file set") are the same text, except where
    // Node's HTTP parser refuses the request line before the app sees it (a raw backslash).
    if (node.status >= 400 && node.body !== '') expect(edge.body, c.name).toBe(node.body);
  });
});

describe('the Worker in workerd', () => {
  it('places the client by request.cf and CF-Connecting-IP, never by X-Forwarded-For', async (ctx) => {
    edgeRun.need(ctx);
    const c: SharedCase = { name: 'list', target: `/download/${encodePath(FILES.readme)}?mirrorlist`, client: 'GB', expect: { status: 200 } };
    const json = { Accept: 'application/json' };
    const node = await askNode(c, json);
    const edge = await askEdge(c, { ...json, 'X-Forwarded-For': CLIENT_IPS.JP.ip });
    expect(edge.status).toBe(200);
    const edgeList = JSON.parse(edge.body) as { client: Record<string, unknown> };
    expect(edgeList.client).toEqual({
      ip: CLIENT_IPS.GB.ip,
      https: false,
      country: 'GB',
      continent: 'EU',
      lat: CLIENT_IPS.GB.lat,
      lon: CLIENT_IPS.GB.lon,
      asn: CLIENT_IPS.GB.asn,
    });
    // Ranking, distances, scores and exclusions agree to the last digit.
    expect(edgeList).toEqual(JSON.parse(node.body));
  });

  it('answers apt mirror lists and metalinks like Node', async (ctx) => {
    edgeRun.need(ctx);
    const c: SharedCase = { name: 'apt', target: `/download/${encodePath(FILES.tarball)}?mirrorlist`, client: 'US_WEST', expect: { status: 200 } };
    const node = await askNode(c, { Accept: 'text/plain' });
    const edge = await askEdge(c, { Accept: 'text/plain' });
    expect(edge.body).toBe(node.body);
    expect(edge.body.split('\n').length).toBeGreaterThan(2);
    const meta: SharedCase = { ...c, target: `/download/${encodePath(FILES.tarball)}.meta4` };
    const [nodeMeta, edgeMeta] = await Promise.all([askNode(meta), askEdge(meta)]);
    expect(header(edgeMeta, 'content-type')).toBe('application/metalink4+xml; charset=utf-8');
    // Same document but for <published> (the clock) and our own URL.
    const norm = (xml: string) => xml.replace(/<published>[^<]*<\/published>/, '').replace(/(<origin dynamic="true">)http:\/\/[^/]+/, '$1');
    expect(norm(edgeMeta.body)).toBe(norm(nodeMeta.body));
  });

  it('without request.cf the client is unplaced, as an address the GeoIP database does not know is on Node', async (ctx) => {
    edgeRun.need(ctx);
    const target = `/download/${encodePath(FILES.readme)}?mirrorlist`;
    const ip = '10.20.30.40';
    const node = await rawRequest(net.url, target, { headers: { 'X-Forwarded-For': ip, Accept: 'application/json' } });
    const edge = await rawRequest(edgeRun.url(), target, { headers: { 'CF-Connecting-IP': ip, Accept: 'application/json' } });
    expect(JSON.parse(edge.body)).toEqual(JSON.parse(node.body));
    expect((JSON.parse(edge.body) as { client: unknown }).client).toEqual({ ip, https: false });
  });

  it('keeps ?fromip= for staff tokens only', async (ctx) => {
    edgeRun.need(ctx);
    const target = `/download/${encodePath(FILES.readme)}?mirrorlist&fromip=${CLIENT_IPS.JP.ip}`;
    const headers = { 'CF-Connecting-IP': CLIENT_IPS.DE.ip, 'CF-Blob': JSON.stringify(cfBlob('DE')), Accept: 'application/json' };
    expect((await rawRequest(edgeRun.url(), target, { headers })).status).toBe(403);
    const staff = await rawRequest(edgeRun.url(), target, { headers: { ...headers, Authorization: `Bearer ${STAFF_TOKEN}` } });
    expect(staff.status).toBe(200);
    // No GeoIP database at the edge: the other address is known by its address only.
    expect((JSON.parse(staff.body) as { client: unknown }).client).toEqual({ ip: CLIENT_IPS.JP.ip, https: false });
  });

  it('shows the sponsor logo on the interstitial and serves it same-origin, as Node does', async (ctx) => {
    edgeRun.need(ctx);
    const page: SharedCase = { name: 'page', target: `/download/${encodePath(FILES.readme)}`, client: 'DE', accept: 'text/html', expect: { status: 200 } };
    const [nodePage, edgePage] = await Promise.all([askNode(page), askEdge(page)]);
    expect(edgePage.status).toBe(200);
    expect(edgePage.body).toContain('<img src="/logos/de-berlin"');
    expect(nodePage.body).toContain('<img src="/logos/de-berlin"');
    const nodeLogo = await rawRequest(net.url, '/logos/de-berlin');
    const edgeLogo = await rawRequest(edgeRun.url(), '/logos/de-berlin');
    expect(edgeLogo.status).toBe(200);
    expect(edgeLogo.body).toBe(nodeLogo.body);
    for (const h of ['content-type', 'content-security-policy', 'cache-control']) expect(header(edgeLogo, h), h).toBe(header(nodeLogo, h));
    expect((await rawRequest(edgeRun.url(), '/logos/fr-paris')).status).toBe(404); // sponsor without a logo
    expect((await rawRequest(edgeRun.url(), '/logos/no-such-mirror')).status).toBe(404);
  });

  it("passes the control plane's own paths through (admin API, console, offers); 502 when it cannot be reached", async (ctx) => {
    edgeRun.need(ctx);
    const staff = { Authorization: `Bearer ${STAFF_TOKEN}` };
    const res = await rawRequest(edgeRun.url(), '/admin/v1/mirrors', { headers: staff });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(JSON.parse((await rawRequest(net.url, '/admin/v1/mirrors', { headers: staff })).body));
    expect((await rawRequest(edgeRun.url(), '/admin/v1/mirrors')).status).toBe(401);
    const login = await rawRequest(edgeRun.url(), '/login');
    expect(login.status).toBe(200);
    expect(login.body).toBe((await rawRequest(net.url, '/login')).body);
    // An offer is the control plane's to check: its 422 names the fields (the edge has no offers route).
    const offer = await fetch(`${edgeRun.url()}/api/v1/offers`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ organisation: 'x' }),
    });
    expect(offer.status).toBe(422);
    expect(Object.keys(((await offer.json()) as { fields: Record<string, string> }).fields).length).toBeGreaterThan(1);
    // The edge's own routes stay at the edge.
    expect((await rawRequest(edgeRun.url(), '/readyz')).body).toContain('"runtime":"workers"');
    const away = await rawRequest(edgeRun.url('edge-cold'), '/admin/v1/mirrors', { headers: staff });
    expect(away.status).toBe(502);
    expect(header(away, 'retry-after')).toBe('30');
  });

  it('takes a staff change on the control plane within its TTL (1 s here)', async (ctx) => {
    edgeRun.need(ctx);
    const c = SHARED_CASES.find((x) => x.name === 'DE → Berlin')!;
    const mirrorOf = async (ask: typeof askEdge) => header(await ask(c), 'x-mirrorgate-mirror');
    expect(await mirrorOf(askEdge)).toBe('de-berlin');
    const patch = (enabled: boolean) => client(net.url, STAFF_TOKEN).patch('/admin/v1/mirrors/de-berlin', { enabled });
    try {
      expect((await patch(false)).status).toBe(200);
      expect(await mirrorOf(askNode)).not.toBe('de-berlin');
      const tookMs = await until(async () => (await mirrorOf(askEdge)) !== 'de-berlin', 10_000, 'the edge to drop the disabled mirror');
      console.log(`test/edge: a disabled mirror left the edge's answers after ${tookMs} ms (TTL 1 s)`);
      const [node, edge] = await Promise.all([askNode(c), askEdge(c)]);
      expect(header(edge, 'x-mirrorgate-mirror')).toBe(header(node, 'x-mirrorgate-mirror'));
      expect(header(edge, 'location')).toBe(header(node, 'location'));
    } finally {
      expect((await patch(true)).status).toBe(200);
    }
    await until(async () => (await mirrorOf(askEdge)) === 'de-berlin', 10_000, 'the edge to take the mirror back');
  });

  it('keeps answering from its last snapshot while the control plane is unreachable', async (ctx) => {
    edgeRun.need(ctx);
    const c = SHARED_CASES.find((x) => x.name === 'FR → Paris')!;
    const first = await askEdge(c, {}, 'edge-stale');
    expect(first.status).toBe(302);
    expect(header(first, 'x-mirrorgate-mirror')).toBe('fr-paris');
    await stalePlane.close();
    // Past the TTL, so every request below starts (and loses) a background refresh.
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 5; i++) {
      const res = await askEdge(c, {}, 'edge-stale');
      expect(res.status).toBe(302);
      expect(header(res, 'location')).toBe(header(first, 'location'));
      await new Promise((r) => setTimeout(r, 100));
    }
    await until(async () => typeof (await readyz(edgeRun.url('edge-stale'))).snapshotLastError === 'string', 5000, 'the failed refresh to show in /readyz');
    // A path its snapshot lacks is the control plane's to look for; with the control plane away, the edge's own 404
    // (a page for a browser), not a 502: the file set it holds says so, as it says everything else meanwhile.
    const missing: SharedCase = { name: 'missing', target: '/download/pub/no-such-file.txt', client: 'FR', expect: { status: 404 } };
    const tool = await askEdge(missing, {}, 'edge-stale');
    expect(tool.status, tool.body).toBe(404);
    expect(tool.body).toBe('Not found: not in the file set\n');
    const page = await askEdge({ ...missing, accept: 'text/html' }, {}, 'edge-stale');
    expect(page.status).toBe(404);
    expect(header(page, 'content-type')).toMatch(/^text\/html/);
  });

  it('answers 503 with Retry-After until its first snapshot loads', async (ctx) => {
    edgeRun.need(ctx);
    const c = SHARED_CASES.find((x) => x.name === 'DE → Berlin')!;
    const res = await askEdge(c, {}, 'edge-cold');
    expect(res.status).toBe(503);
    expect(header(res, 'retry-after')).toBe('5');
    expect(header(res, 'location')).toBeUndefined();
    expect((await rawRequest(edgeRun.url('edge-cold'), '/healthz')).status).toBe(200);
  });
});
