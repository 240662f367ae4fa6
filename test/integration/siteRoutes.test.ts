// Whole-site routes through the real app on loopback: full-copy mirrors and an origin that serve a small
// site, clients placed by the bundled GeoLite2 via X-Forwarded-For, curl as a client, and the Worker
// (createEdge over the same encoded snapshot, whole and sharded) giving the same answers.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { serve as serveNode } from '@hono/node-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec, MirrorState } from '../../src/core/model.js';
import type { SiteRoute, SiteRoutingOptions } from '../../src/core/siteRoutes.js';
import { encodeSnapshot } from '../../src/core/snapshotCodec.js';
import { splitSnapshot } from '../../src/core/snapshotShards.js';
import { createEdge } from '../../src/edge/edgeApp.js';
import type { KvNamespaceLike, WorkerContext, WorkerRequest } from '../../src/edge/runtime.js';
import { createTrustedProxies } from '../../src/geo/clientAddress.js';
import { openLocator } from '../../src/geo/maxmindLocator.js';
import { createApp } from '../../src/http/app.js';
import { registerDownloadRoutes } from '../../src/http/download/route.js';
import { registerPublicRoutes } from '../../src/http/public.js';
import { registerStaffRoutes } from '../../src/http/staff.js';
import type { AppServices, LogLike } from '../../src/http/services.js';
import { nodeConnection } from '../../src/node/server.js';
import { CLIENT_IPS, type ClientIpKey } from '../support/clientIps.js';
import { LoopbackFileServer } from '../support/network.js';

const run = promisify(execFile);
const silent: LogLike = { info() {}, warn() {}, error() {} };
const UP: MirrorState = { health: 'up', lagSeconds: 30 };

/** The site every full copy serves: a page, an API answer (under /api/, which Mirrorgate keeps for itself). */
const SITE = {
  'browse/index.html': '<h1>archive</h1>\n',
  'browse/origin/directory.html': '<p>a directory</p>\n',
  'api/1/ping': '"pong"\n',
};

let dir: string;
let origin: LoopbackFileServer;
const sites: Record<string, LoopbackFileServer> = {};
let builder: SnapshotBuilder;
let mirrors: MirrorSpec[];
let routes: SiteRoute[];
let url: string;
let closeApp: () => Promise<void>;

async function siteServer(id: string): Promise<LoopbackFileServer> {
  const root = path.join(dir, id);
  for (const [p, body] of Object.entries(SITE)) {
    await mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await writeFile(path.join(root, p), `${id}: ${body}`);
  }
  const server = new LoopbackFileServer(id, root);
  await server.start();
  return server;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-site-'));
  origin = await siteServer('origin');
  for (const id of ['de-site', 'jp-site-a', 'jp-site-b', 'us-site']) sites[id] = await siteServer(id);

  // The routes as the config schema gives them (what the control plane puts in the snapshot).
  await writeFile(path.join(dir, 'manifest.jsonl'), '');
  const config = parseConfig(
    `
publicUrl: https://downloads.example.org
allowPrivateMirrorAddresses: true
origin: { baseUrl: "${origin.baseUrl}", manifest: manifest.jsonl }
mirrors:
  - { id: de-site, name: DE, baseUrl: "${sites['de-site']!.baseUrl}", country: DE, lat: 52.52, lon: 13.4 }
  - { id: jp-site-a, name: JP A, baseUrl: "${sites['jp-site-a']!.baseUrl}", country: JP, lat: 35.68, lon: 139.69, weight: 300 }
  - { id: jp-site-b, name: JP B, baseUrl: "${sites['jp-site-b']!.baseUrl}", country: JP, lat: 35.68, lon: 139.69 }
  - { id: us-site, name: US, baseUrl: "${sites['us-site']!.baseUrl}", country: US, lat: 42.36, lon: -71.06 }
  - { id: fr-files, name: FR files only, baseUrl: "https://fr-files.example/pub/", country: FR, lat: 48.86, lon: 2.35 }
  - { id: secure-de, name: DE over TLS, baseUrl: "https://secure-de.example/", country: DE, lat: 50.11, lon: 8.68 }
routes:
  - { prefix: /browse/, to: mirrors, mirrors: [de-site, jp-site-a, jp-site-b, us-site] }
  - { prefix: /secure/, to: mirrors, mirrors: [de-site, secure-de] }
  - { prefix: /archive-api/, to: mirrors, mirrors: [de-site, jp-site-a, jp-site-b, us-site], targetPrefix: /api/ }
  - { prefix: /save/, to: origin }
`,
    { file: path.join(dir, 'mirrorgate.yaml'), env: {} },
  );
  routes = config.routes;
  mirrors = config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
  const routing: SiteRoutingOptions = { bandKm: 50, maxAlternatives: 8, maxLagSeconds: config.health.maxLagMs / 1000, siteRoutes: routes };
  builder = new SnapshotBuilder({ mirrors, files: FileIndex.from([]), originBaseUrl: config.origin.baseUrl, routing });

  const services: AppServices = {
    publicUrl: 'http://127.0.0.1',
    snapshot: () => builder.current(),
    locator: await openLocator(),
    trustedProxies: createTrustedProxies(['127.0.0.1/32']),
    connection: nodeConnection,
    logo: () => undefined,
    tokens: [],
    logger: silent,
    clock: Date.now,
  };
  const app = createApp(services, [registerDownloadRoutes, registerPublicRoutes, registerStaffRoutes]);
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
    const s = serveNode({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeApp = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  for (const m of mirrors) builder.setState(m.id, UP);
});

afterAll(async () => {
  await closeApp?.();
  await origin?.close();
  for (const s of Object.values(sites)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

const from = (client: ClientIpKey, extra: Record<string, string> = {}) => ({ 'X-Forwarded-For': CLIENT_IPS[client].ip, ...extra });

async function ask(target: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${url}${target}`, { ...init, redirect: 'manual' });
  await res.arrayBuffer();
  return res;
}

describe('whole-site routes to full-copy mirrors', () => {
  it('sends a GET to the nearest full copy: the whole path, the query kept; the page is really there', async () => {
    const res = await ask('/browse/origin/directory.html?origin_url=https%3A%2F%2Fgit.example%2Fx&x=1', { headers: from('DE') });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${sites['de-site']!.baseUrl}browse/origin/directory.html?origin_url=https%3A%2F%2Fgit.example%2Fx&x=1`);
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('de-site');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const page = await fetch(res.headers.get('location')!);
    expect(await page.text()).toBe('de-site: <p>a directory</p>\n');
  });

  it('answers HEAD alike, and swaps the prefix for targetPrefix', async () => {
    const head = await ask('/browse/index.html', { method: 'HEAD', headers: from('US_EAST') });
    expect(head.status).toBe(302);
    expect(head.headers.get('x-mirrorgate-mirror')).toBe('us-site');
    const api = await ask('/archive-api/1/ping', { headers: from('DE') });
    expect(api.headers.get('location')).toBe(`${sites['de-site']!.baseUrl}api/1/ping`);
    expect(await (await fetch(api.headers.get('location')!)).text()).toBe('de-site: "pong"\n');
  });

  it('shares the weighted Tokyo pair 3:1 and keeps each client and path on one mirror', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const target = `/browse/page-${i}`;
      const first = (await ask(target, { headers: from('JP') })).headers.get('x-mirrorgate-mirror')!;
      counts[first] = (counts[first] ?? 0) + 1;
      expect((await ask(target, { headers: from('JP') })).headers.get('x-mirrorgate-mirror')).toBe(first);
    }
    expect(Object.keys(counts).sort()).toEqual(['jp-site-a', 'jp-site-b']);
    expect(counts['jp-site-a']!).toBeGreaterThan(counts['jp-site-b']!);
  });

  it('passes over a mirror that is down, lagging, draining or unprobed, and falls back to the origin', async () => {
    builder.setState('de-site', { health: 'down' });
    expect((await ask('/browse/index.html', { headers: from('DE') })).headers.get('x-mirrorgate-mirror')).not.toBe('de-site');
    builder.setState('de-site', { health: 'up', lagSeconds: 7 * 3600 });
    expect((await ask('/browse/index.html', { headers: from('DE') })).headers.get('x-mirrorgate-mirror')).not.toBe('de-site');
    builder.setState('de-site', { health: 'up', drain: { startMs: Date.now(), overMs: 600_000 } });
    expect((await ask('/browse/index.html', { headers: from('DE') })).headers.get('x-mirrorgate-mirror')).not.toBe('de-site');
    for (const m of mirrors) builder.setState(m.id, { health: 'unknown' });
    const res = await ask('/browse/index.html', { headers: from('DE') });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('origin');
    expect(res.headers.get('location')).toBe(`${origin.baseUrl}browse/index.html`);
    expect(await (await fetch(res.headers.get('location')!)).text()).toBe('origin: <h1>archive</h1>\n');
  });

  it('sends an https client to an https full copy while one qualifies', async () => {
    expect((await ask('/secure/x', { headers: from('DE') })).headers.get('x-mirrorgate-mirror')).toBe('de-site');
    const tls = await ask('/secure/x', { headers: from('DE', { 'X-Forwarded-Proto': 'https' }) });
    expect(tls.headers.get('location')).toBe('https://secure-de.example/secure/x');
    builder.setState('secure-de', { health: 'down' });
    expect((await ask('/secure/x', { headers: from('DE', { 'X-Forwarded-Proto': 'https' }) })).headers.get('x-mirrorgate-mirror')).toBe('de-site');
  });

  it('sends writes to the origin with 307, so the method and body are sent again', async () => {
    const save = await ask('/save/origin/git/https://git.example/x', {
      method: 'POST',
      headers: from('DE', { 'Content-Type': 'application/json' }),
      body: '{"visit":true}',
    });
    expect(save.status).toBe(307);
    expect(save.headers.get('location')).toBe(`${origin.baseUrl}save/origin/git/https://git.example/x`);
    expect(save.headers.get('x-mirrorgate-mirror')).toBe('origin');
    expect(save.headers.get('cache-control')).toBe('no-store');
    const getSave = await ask('/save/', { headers: from('DE') });
    expect(getSave.status).toBe(302);
    expect(getSave.headers.get('location')).toBe(`${origin.baseUrl}save/`);
    const postBrowse = await ask('/browse/x', { method: 'POST', headers: from('DE'), body: 'x' });
    expect(postBrowse.status).toBe(307);
    expect(postBrowse.headers.get('location')).toBe(`${origin.baseUrl}browse/x`);
  });

  it('leaves Mirrorgate’s own paths and unrouted paths alone, and refuses traversal', async () => {
    expect((await ask('/api/v1/mirrors')).status).toBe(200);
    expect((await ask('/healthz')).status).toBe(200);
    expect((await ask('/browser/x')).status).toBe(404);
    expect((await ask('/nothing/here')).status).toBe(404);
    const { rawRequest } = await import('../support/requests.js');
    expect((await rawRequest(url, '/browse/../admin/v1/mirrors')).status).toBe(400);
    expect((await rawRequest(url, '/browse/%2e%2e/x')).status).toBe(400);
    expect((await rawRequest(url, '/browse/a%5cb')).status).toBe(400);
  });

  it('answers curl -sI with the 302 and its headers', async () => {
    const { stdout } = await run('curl', ['-sI', '-H', `X-Forwarded-For: ${CLIENT_IPS.JP.ip}`, `${url}/browse/index.html?lang=en`]);
    const lines = stdout.split(/\r?\n/);
    expect(lines[0]).toMatch(/^HTTP\/1\.1 302/);
    const headers = Object.fromEntries(
      lines
        .slice(1)
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expect(['jp-site-a', 'jp-site-b']).toContain(headers['x-mirrorgate-mirror']);
    expect(headers.location).toBe(`${sites[headers['x-mirrorgate-mirror']!]!.baseUrl}browse/index.html?lang=en`);
    expect(headers['cache-control']).toBe('no-store');
    // curl -L follows it to the page on that mirror.
    const followed = await run('curl', ['-sL', '-H', `X-Forwarded-For: ${CLIENT_IPS.JP.ip}`, `${url}/browse/index.html?lang=en`]);
    expect(followed.stdout).toBe(`${headers['x-mirrorgate-mirror']}: <h1>archive</h1>\n`);
  });
});

describe('whole-site routes at the edge', () => {
  const clients: ClientIpKey[] = ['DE', 'FR', 'JP', 'US_EAST', 'US_WEST', 'BR', 'AU', 'KE'];
  const targets = ['/browse/index.html', '/browse/origin/directory.html?q=1', '/archive-api/1/ping', '/secure/x', '/save/now'];
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as WorkerContext;

  function kvOf(entries: Record<string, Uint8Array>): KvNamespaceLike {
    return {
      get: async (key) => {
        const bytes = entries[key];
        return bytes ? (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) : null;
      },
    };
  }

  function edgeRequest(target: string, client: ClientIpKey, method: string): WorkerRequest {
    const ip = CLIENT_IPS[client];
    const req = new Request(`https://edge.example${target}`, {
      method,
      headers: { 'CF-Connecting-IP': ip.ip },
      body: method === 'POST' ? 'x' : undefined,
      redirect: 'manual',
    });
    return Object.assign(req, { cf: { country: ip.country, continent: ip.continent, latitude: String(ip.lat), longitude: String(ip.lon) } });
  }

  it.each(['single', 'sharded'] as const)('gives the Node answers (%s snapshot)', async (mode) => {
    const snapshot = builder.current();
    const split = splitSnapshot(snapshot);
    const kv = kvOf(
      mode === 'single' ? { snapshot: encodeSnapshot(snapshot) } : { core: split.core, ...Object.fromEntries(split.shards.map((s, k) => [`shard/${k}`, s])) },
    );
    const edge = createEdge({ SNAPSHOT: kv, SNAPSHOT_MODE: mode, LOG_LEVEL: 'silent' });
    for (const client of clients) {
      for (const target of targets) {
        for (const method of ['GET', 'POST']) {
          const atEdge = await edge.fetch(edgeRequest(target, client, method), ctx);
          // The edge request is https; the Node one says so through the trusted proxy.
          const atNode = await ask(target, { method, headers: from(client, { 'X-Forwarded-Proto': 'https' }), body: method === 'POST' ? 'x' : undefined });
          const what = `${method} ${target} from ${client} (${mode})`;
          expect(atEdge.status, what).toBe(atNode.status);
          expect(atEdge.headers.get('location'), what).toBe(atNode.headers.get('location'));
          expect(atEdge.headers.get('x-mirrorgate-mirror'), what).toBe(atNode.headers.get('x-mirrorgate-mirror'));
        }
      }
    }
  });
});

describe('routes in the config', () => {
  const base = `publicUrl: https://d.example\norigin: { baseUrl: "https://o.example/", root: ${JSON.stringify(tmpdir())} }\nmirrors: [{ id: de, name: D, baseUrl: "https://de.example/", country: DE }]\n`;
  const problems = (routesYaml: string): string[] => {
    try {
      parseConfig(`${base}routes:\n${routesYaml}`, { env: {} });
      return [];
    } catch (err) {
      return (err as { problems?: string[] }).problems ?? [String(err)];
    }
  };

  it('reads routes, defaulting targetPrefix to the prefix', () => {
    const config = parseConfig(
      `${base}routes:\n  - { prefix: /browse/, to: mirrors, mirrors: [de, de] }\n  - { prefix: /save/, to: origin, targetPrefix: /api/1/origin/save/ }\n`,
      { env: {} },
    );
    expect(config.routes).toEqual([
      { prefix: '/browse/', to: 'mirrors', mirrors: ['de'], targetPrefix: '/browse/' },
      { prefix: '/save/', to: 'origin', mirrors: [], targetPrefix: '/api/1/origin/save/' },
    ]);
    expect(parseConfig(base, { env: {} }).routes).toEqual([]);
  });

  it('names each problem as path.to.key: reason', () => {
    expect(problems('  - { prefix: /api/, to: origin }\n')).toEqual(["routes.0.prefix: must not cover Mirrorgate's own path /api/"]);
    expect(problems('  - { prefix: /download/x/, to: origin }\n')).toEqual(["routes.0.prefix: must not cover Mirrorgate's own path /download/"]);
    expect(problems('  - { prefix: /offers/, to: origin }\n')).toEqual(["routes.0.prefix: must not cover Mirrorgate's own path /offer"]);
    expect(problems('  - { prefix: /, to: origin }\n')[0]).toMatch(/^routes\.0\.prefix: must not be "\/"/);
    expect(problems('  - { prefix: browse, to: origin }\n')[0]).toMatch(/^routes\.0\.prefix: must be a path that starts and ends with "\/"/);
    expect(problems('  - { prefix: /b/, to: mirrors }\n')).toEqual(['routes.0.mirrors: list the ids of the mirrors that carry a full copy of the site']);
    expect(problems('  - { prefix: /b/, to: origin, mirrors: [de] }\n')).toEqual(['routes.0.mirrors: a route to the origin takes no mirrors']);
    expect(problems('  - { prefix: /b/, to: mirrors, mirrors: [de, nowhere] }\n')).toEqual(['routes.0.mirrors.1: unknown mirror id "nowhere"']);
    expect(problems('  - { prefix: /b/, to: elsewhere }\n')[0]).toMatch(/^routes\.0\.to: /);
    expect(problems('  - { prefix: /b/, to: origin }\n  - { prefix: /b/, to: origin }\n')).toEqual([
      'routes.1.prefix: duplicate prefix "/b/" (also routes.0.prefix)',
    ]);
    expect(problems('  - { prefix: /b/, to: origin, targetPrefix: x }\n')[0]).toMatch(/^routes\.0\.targetPrefix: /);
    expect(problems('  - { prefix: /b/, to: origin, weight: 3 }\n')).toEqual(['routes.0.weight: unknown key']);
  });
});
