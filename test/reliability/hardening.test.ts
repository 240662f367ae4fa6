// Issue 14 through the real server (serve() on loopback, real loopback mirrors): nothing one request, one
// staff edit, one damaged file or one address range can break.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../../src/geo/clientAddress.js';
import type { RunningServer } from '../../src/node.js';
import { encodePath, FILES, freePort, serveConfig, STAFF_TOKEN, startNetwork, type MirrorNetwork, type RawConfig } from '../support/network.js';
import { submitOffer } from '../support/requests.js';

let net: MirrorNetwork;
beforeAll(async () => {
  net = await startNetwork();
});
afterAll(async () => {
  await net?.close();
});

const BERLIN = '130.149.1.1';
const PARIS = '195.83.60.1';
const staff = { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'application/json' };

const call = (server: RunningServer, target: string, init: RequestInit & { from?: string } = {}) => {
  const { from, headers, ...rest } = init;
  return fetch(`${server.url}${target}`, {
    redirect: 'manual',
    ...rest,
    headers: { ...(from ? { 'X-Forwarded-For': from } : {}), ...(headers as Record<string, string>) },
  });
};
const download = async (server: RunningServer, key: keyof typeof FILES, from: string) => {
  const r = await call(server, `/download/${encodePath(FILES[key])}`, { from });
  return { status: r.status, mirror: r.headers.get('x-mirrorgate-mirror'), location: r.headers.get('location') ?? '' };
};
/** A server of its own, on its own dataDir unless given one. */
const start = (mutate?: (c: RawConfig) => void) => net.startServer({ mutate });

describe('globs', () => {
  // The one place a clock is read: a generous budget, the promise being "the CPU is not pinned".
  it('the glob that pinned the CPU is saved and matched at once; downloads go on; it is routed by', async () => {
    const server = await start();
    const started = performance.now();
    const r = await call(server, '/admin/v1/mirrors/de-berlin', {
      method: 'PATCH',
      headers: staff,
      body: JSON.stringify({ content: { include: ['**/*?*?*?*?*?*?*?*?Z'] } }),
    });
    expect(r.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(10_000);
    // README.txt has no "Z": no longer on de-berlin, so Berlin's client goes elsewhere, at once.
    const d = await download(server, 'readme', BERLIN);
    expect(d.status).toBe(302);
    expect(d.mirror).not.toBe('de-berlin');
    // And a restart reads it back without trouble.
    await server.close();
  });

  it('globs outside the dialect or over its limits are refused with 422, naming the field, before anything is saved', async () => {
    const server = await start();
    const patch = (content: object) => call(server, '/admin/v1/mirrors/de-berlin', { method: 'PATCH', headers: staff, body: JSON.stringify({ content }) });
    for (const [content, field, reason] of [
      [{ include: ['@(pub|x)/**'] }, 'content.include.0', /extglobs/],
      [{ exclude: ['{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}'] }, 'content.exclude.0', /alternatives/],
      [{ include: ['pub/[abc'] }, 'content.include.0', /without its "]"/],
      [{ include: Array.from({ length: 65 }, (_, i) => `p${i}/**`) }, 'content.include', /65|64/],
    ] as const) {
      const r = await patch(content);
      expect(r.status).toBe(422);
      const body = (await r.json()) as { fields: Record<string, string> };
      expect(body.fields[field]).toMatch(reason);
    }
    const audit = (await (await call(server, '/admin/v1/audit?target=mirror:de-berlin', { headers: staff })).json()) as { entries: unknown[] };
    expect(audit.entries).toEqual([]);
    await server.close();
  });
});

describe('damaged state fails safe', () => {
  it('a corrupt overrides.json: drained and disabled mirrors stay out after a restart (rebuilt from the audit log)', async () => {
    const port = await freePort();
    const dataDir = path.join(net.dir, 'damaged');
    const first = await net.startServer({ dataDir });
    expect((await call(first, '/admin/v1/mirrors/fr-paris/drain', { method: 'POST', headers: staff })).status).toBe(200);
    expect((await call(first, '/admin/v1/mirrors/de-berlin', { method: 'PATCH', headers: staff, body: JSON.stringify({ enabled: false }) })).status).toBe(200);
    await first.close();
    await writeFile(path.join(dataDir, 'state', 'overrides.json'), '{"version":1,"overrides":{"fr-paris":');
    // A stray file name in the inventories folder must not stop the start either.
    await writeFile(path.join(dataDir, 'state', 'inventories', '%E0%A4%A.jsonl.gz'), 'x');

    const again = await net.startServer({ dataDir, mutate: (c) => (c.publicUrl = `http://127.0.0.1:${port}`) });
    const view = (await (await call(again, '/admin/v1/mirrors', { headers: staff })).json()) as {
      mirrors: { spec: { id: string; enabled: boolean }; drain: unknown }[];
    };
    const byId = new Map(view.mirrors.map((m) => [m.spec.id, m]));
    expect(byId.get('fr-paris')?.drain).not.toBeNull();
    expect(byId.get('de-berlin')?.spec.enabled).toBe(false);
    for (let i = 0; i < 20; i++) {
      expect((await download(again, 'readme', `${PARIS.slice(0, -1)}${i}`)).mirror).not.toMatch(/^(fr-paris|de-berlin)$/);
      expect((await download(again, 'readme', `130.149.1.${i + 10}`)).mirror).not.toMatch(/^(fr-paris|de-berlin)$/);
    }
    const names = await readdir(path.join(dataDir, 'state'));
    expect(names.some((n) => n.startsWith('overrides.json.corrupt-'))).toBe(true);
    await again.close();
  });

  it('a tampered overrides.json: a javascript: baseUrl is never used; the mirror is held out until staff change it', async () => {
    const dataDir = path.join(net.dir, 'tampered');
    await mkdir(path.join(dataDir, 'state'), { recursive: true });
    await writeFile(
      path.join(dataDir, 'state', 'overrides.json'),
      JSON.stringify({ version: 1, overrides: { 'de-berlin': { patch: { baseUrl: 'javascript:alert(document.cookie)//' }, updatedAt: 1, updatedBy: 'ops' } } }),
    );
    const server = await net.startServer({ dataDir });
    for (let i = 0; i < 20; i++) {
      const d = await download(server, 'readme', `130.149.1.${i + 40}`);
      expect(d.location).not.toMatch(/^javascript:/i);
      expect(d.mirror).not.toBe('de-berlin');
    }
    const page = await (await call(server, '/mirrors', { headers: { Accept: 'application/json' } })).text();
    expect(page).not.toContain('javascript:');
    // A staff change confirms it (here: enabling it again), and it takes downloads again.
    expect((await call(server, '/admin/v1/mirrors/de-berlin', { method: 'PATCH', headers: staff, body: JSON.stringify({ enabled: true }) })).status).toBe(200);
    expect((await download(server, 'readme', BERLIN)).mirror).toBe('de-berlin');
    await server.close();
  });
});

describe('abuse by address ranges', () => {
  it('counts IPv6 clients by /64 (configurable) and IPv4 clients by address', () => {
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff::9'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('2001:db8:1:2::1', 48)).toBe(addressKey('2001:db8:1:3::1', 48));
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('the public API limit holds for a whole /64; another /64 and other IPv4 addresses have their own', async () => {
    const server = await start((c) => (c.limits = { ...(c.limits as object), apiPerMinute: 5 }));
    const status = async (from: string) => (await call(server, '/api/v1/mirrors', { from })).status;
    for (let i = 1; i <= 5; i++) expect(await status(`2001:db8:77:1::${i}`)).toBe(200);
    expect(await status('2001:db8:77:1:ffff:ffff:ffff:fffe')).toBe(429);
    expect(await status('2001:db8:77:2::1')).toBe(200);
    for (let i = 1; i <= 5; i++) expect(await status('198.51.100.7')).toBe(200);
    expect(await status('198.51.100.7')).toBe(429);
    expect(await status('198.51.100.8')).toBe(200);
    await server.close();
  });

  it('pending offers are capped per /64 and in all (429), and each one is an append to the offers log', async () => {
    const server = await start((c) => (c.limits = { pendingOffers: 4, pendingOffersPerNetwork: 2 }));
    const offer = (from: string, i: number) => submitOffer(server.url, { organisation: `Org ${i}` }, from);
    expect((await offer('2001:db8:5:5::1', 1)).status).toBe(201);
    expect((await offer('2001:db8:5:5::2', 2)).status).toBe(201);
    const third = await offer('2001:db8:5:5:ffff::3', 3);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await offer('2001:db8:5:6::1', 4)).status).toBe(201);
    expect((await offer('198.51.100.20', 5)).status).toBe(201);
    // Four are waiting: the cap for everyone.
    expect((await offer('198.51.100.21', 6)).status).toBe(429);
    const state = path.join(server.config.dataDir, 'state');
    const log = (await readFile(path.join(state, 'offers.jsonl'), 'utf8')).trim().split('\n');
    expect(log).toHaveLength(4);
    expect((await readdir(state)).includes('offers.json')).toBe(false);
    // A decision frees a place; /staff shows them a page at a time.
    const offers = (await (await call(server, '/admin/v1/offers', { headers: staff })).json()) as { offers: { id: string }[] };
    expect((await call(server, `/admin/v1/offers/${offers.offers[0]!.id}/reject`, { method: 'POST', headers: staff })).status).toBe(200);
    expect((await offer('198.51.100.21', 7)).status).toBe(201);
    await server.close();
  });

  it('posts sent at once from one network cannot all pass the cap: each holds a place until it is stored', async () => {
    const server = await start((c) => (c.limits = { pendingOffers: 100, pendingOffersPerNetwork: 3 }));
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submitOffer(server.url, { organisation: `Burst ${i}` }, '198.51.100.60').then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
    const offers = (await (await call(server, '/admin/v1/offers', { headers: staff })).json()) as { offers: { status: string }[] };
    expect(offers.offers.filter((o) => o.status === 'offered').length).toBeLessThanOrEqual(3);
    // Once those are stored, the places they held are free again: the network's count is its pending offers.
    const more = await submitOffer(server.url, { organisation: 'After the burst' }, '198.51.100.60');
    expect(more.status).toBe(statuses.filter((s) => s === 201).length < 3 ? 201 : 429);
    await server.close();
  });

  it('/staff lists mirrors and pending offers a page at a time', async () => {
    const server = await start((c) => (c.limits = { pendingOffers: 100, pendingOffersPerNetwork: 100 }));
    for (let i = 0; i < 30; i++) {
      const r = await submitOffer(server.url, { organisation: `Paged Org ${i}` }, `198.51.100.${100 + i}`);
      expect(r.status).toBe(201);
    }
    const page = async (q: string) =>
      (await (await call(server, `/staff${q}`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } })).text()).replace(/\s+/g, ' ');
    const first = await page('');
    expect(new Set(first.match(/Paged Org \d+/g)).size).toBe(25);
    expect(first).toContain('Pending offers: page 1 of 2 (30)');
    const second = await page('?offers=2');
    expect(new Set(second.match(/Paged Org \d+/g)).size).toBe(5);
    expect(await page('?offers=99')).toContain('page 2 of 2');
    await server.close();
  });
});

describe('bearer brute force', () => {
  it('a token guessed beside a client place (as an edge sends it) spends the wrong-token budget; past it no place is read', async () => {
    const EDGE_TOKEN = 'edge-token-place-0123456789abcdef';
    const server = await start((c) => {
      c.limits = { authFailures: 3 };
      (c.tokens as unknown[]).push({ token: EDGE_TOKEN, role: 'edge', name: 'edge-fra' });
    });
    const sydney = JSON.stringify({ country: 'AU', continent: 'OC', latitude: '-33.87', longitude: '151.21' });
    const placedIn = async (token: string, from: string) => {
      const res = await call(server, `/download/${encodePath(FILES.readme)}?mirrorlist`, {
        from,
        headers: { Accept: 'application/json', 'X-Mirrorgate-Edge-Place': sydney, 'X-Mirrorgate-Edge-Token': token },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { client: { country?: string } }).client.country;
    };
    expect(await placedIn(EDGE_TOKEN, BERLIN)).toBe('AU');
    // A wrong token is not honoured, and counts as a wrong token from the client's network.
    for (let i = 1; i <= 3; i++) expect(await placedIn(`guess-${i}-0123456789abcdef`, BERLIN)).toBe('DE');
    // Past the budget even the right one is not read (it would confirm a guess); elsewhere it still is.
    expect(await placedIn(EDGE_TOKEN, BERLIN)).toBe('DE');
    expect((await call(server, '/admin/v1/mirrors', { from: BERLIN, headers: { Authorization: `Bearer ${STAFF_TOKEN}` } })).status).toBe(429);
    expect(await placedIn(EDGE_TOKEN, '203.0.113.30')).toBe('AU');
    await server.close();
  });

  it('wrong tokens are limited per /64 like sign-in; the right token from elsewhere still works', async () => {
    const EDGE_TOKEN = 'edge-token-0123456789abcdef';
    const server = await start((c) => {
      c.limits = { authFailures: 5 };
      (c.tokens as unknown[]).push({ token: EDGE_TOKEN, role: 'edge', name: 'edge-fra' });
    });
    const as = (token: string, from: string) => call(server, '/admin/v1/mirrors', { from, headers: { Authorization: `Bearer ${token}` } });
    for (let i = 1; i <= 5; i++) expect((await as(`guess-${i}-0123456789abcdef`, `2001:db8:bad:1::${i}`)).status).toBe(401);
    // Past the limit the whole /64 is refused, the right token too (a 200 would confirm a guess).
    expect((await as('guess-6-0123456789abcdef', '2001:db8:bad:1::99')).status).toBe(429);
    expect((await as(STAFF_TOKEN, '2001:db8:bad:1:ffff::1')).status).toBe(429);
    // Staff elsewhere are not locked out.
    expect((await as(STAFF_TOKEN, '2001:db8:600d:1::1')).status).toBe(200);
    expect((await as(STAFF_TOKEN, '203.0.113.9')).status).toBe(200);
    // Right tokens are not counted; requests without a token are not either.
    for (let i = 0; i < 10; i++) expect((await as(STAFF_TOKEN, '203.0.113.10')).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await call(server, '/admin/v1/mirrors', { from: '203.0.113.11' })).status).toBe(401);
    expect((await as(STAFF_TOKEN, '203.0.113.11')).status).toBe(200);
    // IPv4 addresses are counted one by one.
    for (let i = 1; i <= 5; i++) expect((await as(`guess-${i}-0123456789abcdef`, '203.0.113.12')).status).toBe(401);
    expect((await as(STAFF_TOKEN, '203.0.113.12')).status).toBe(429);
    expect((await as(STAFF_TOKEN, '203.0.113.13')).status).toBe(200);
    // An edge fetching the snapshot from an address others' guesses locked (Workers share egress addresses) still gets it.
    const core = await call(server, '/admin/v1/snapshot/core', { from: '203.0.113.12', headers: { Authorization: `Bearer ${EDGE_TOKEN}` } });
    expect(core.status).toBe(200);
    // The console pages answer a right token differently from a wrong one: they count too.
    const page = (token: string, from: string) => call(server, '/staff', { from, headers: { Authorization: `Bearer ${token}` } });
    expect((await page(STAFF_TOKEN, '2001:db8:c0:1::1')).status).toBe(200);
    for (let i = 1; i <= 5; i++) expect((await page(`guess-${i}-0123456789abcdef`, `2001:db8:c0:1::${i}`)).status).not.toBe(200);
    expect((await page(STAFF_TOKEN, '2001:db8:c0:1::99')).status).toBe(429);
    expect((await as(STAFF_TOKEN, '2001:db8:c0:1::99')).status).toBe(429);
    // Each wrong token counts once on /staff (it matched two registrations and counted twice).
    for (let i = 1; i <= 4; i++) expect((await page(`guess-${i}-0123456789abcdef`, '203.0.113.20')).status).not.toBe(429);
    expect((await page(STAFF_TOKEN, '203.0.113.20')).status).toBe(200);
    // /login names a right token's holder, and ?fromip= answers a staff token only: both count.
    const login = (token: string, from: string) => call(server, '/login', { from, headers: { Authorization: `Bearer ${token}` } });
    for (let i = 1; i <= 5; i++) await login(`guess-${i}-0123456789abcdef`, '203.0.113.21');
    expect((await login(STAFF_TOKEN, '203.0.113.21')).status).toBe(429);
    const fromip = (token: string, from: string) =>
      call(server, `/download/${encodePath(FILES.readme)}?mirrorlist&fromip=8.8.8.8`, {
        from,
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      });
    for (let i = 1; i <= 5; i++) expect((await fromip(`guess-${i}-0123456789abcdef`, '203.0.113.22')).status).toBe(403);
    expect((await fromip(STAFF_TOKEN, '203.0.113.22')).status).toBe(429);
    expect((await fromip(STAFF_TOKEN, '203.0.113.23')).status).toBe(200);
    // A plain download is not a token check: an Authorization header there is never counted.
    for (let i = 1; i <= 6; i++)
      expect(
        (await call(server, `/download/${encodePath(FILES.readme)}`, { from: '203.0.113.24', headers: { Authorization: 'Basic dXNlcjpwYXNz' } })).status,
      ).toBe(302);
    await server.close();
  });
});

describe('broken console forms', () => {
  it('a body that is no form (a broken multipart) is a 400 on /login and on console actions, never a 500; nothing changes', async () => {
    const server = await start();
    const broken = (target: string, headers: Record<string, string> = {}) =>
      call(server, target, {
        method: 'POST',
        from: '203.0.113.61',
        headers: { Origin: server.url, 'Content-Type': 'multipart/form-data; boundary=zzz', ...headers },
        body: '--zzz\r\nContent-Disposition: form-data; name="token"\r\n\r\nno closing boundary',
      });
    expect((await broken('/login')).status).toBe(400);
    const bearer = { Authorization: `Bearer ${STAFF_TOKEN}` };
    expect((await broken('/staff/mirrors/de-berlin/weight', bearer)).status).toBe(400);
    expect((await broken('/provider/mirrors/de-berlin/drain', bearer)).status).toBe(400);
    const mirror = (await (await call(server, '/admin/v1/mirrors/de-berlin', { headers: staff })).json()) as { drain: unknown };
    expect(mirror.drain).toBeNull();
    await server.close();
  });
});

describe('honest numbers', () => {
  it('a logo impression counts once per client and file per window, like a download', async () => {
    const server = await start();
    const page = (from: string) => call(server, `/download/${encodePath(FILES.readme)}`, { from, headers: { Accept: 'text/html' } });
    for (let i = 0; i < 5; i++) expect((await page(BERLIN)).status).toBe(200);
    expect((await page('130.149.1.2')).status).toBe(200);
    await server.stats.flush();
    const day = new Date().toISOString().slice(0, 10);
    const stats = (await (await call(server, `/admin/v1/stats?mirror=de-berlin&from=${day}&to=${day}`, { headers: staff })).json()) as {
      totals: { impressions: number; downloads: number };
    };
    expect(stats.totals).toMatchObject({ impressions: 2, downloads: 2 });
    await server.close();
  });

  it('an IPv6 client is one client per /64 for downloads and impressions too: rotating addresses inflates nothing', async () => {
    const server = await start();
    const get = (from: string, page: boolean) => call(server, `/download/${encodePath(FILES.readme)}`, { from, headers: page ? { Accept: 'text/html' } : {} });
    for (let i = 1; i <= 6; i++) {
      expect((await get(`2001:db8:77:1::${i.toString(16)}`, false)).status).toBe(302);
      expect((await get(`2001:db8:77:1::${(0x100 + i).toString(16)}`, true)).status).toBe(200);
    }
    expect((await get('2001:db8:77:2::1', true)).status).toBe(200);
    await server.stats.flush();
    const day = new Date().toISOString().slice(0, 10);
    const stats = (await (await call(server, `/admin/v1/stats?from=${day}&to=${day}`, { headers: staff })).json()) as {
      totals: { impressions: number; downloads: number };
    };
    // Two networks: two downloads; at most one impression each (a page shows a logo when its mirror has a sponsor).
    expect(stats.totals.downloads).toBe(2);
    expect(stats.totals.impressions).toBeLessThanOrEqual(2);
    await server.close();
  });

  it('/metrics answers only to its token or the listed peer networks when either is set', async () => {
    const locked = await start((c) => {
      c.metrics = { token: 'metrics-token-0123456789' };
      c.limits = { authFailures: 10 };
    });
    expect((await call(locked, '/metrics')).status).toBe(404);
    expect((await call(locked, '/metrics', { headers: { Authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(404);
    const ok = await call(locked, '/metrics', { headers: { Authorization: 'Bearer metrics-token-0123456789' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('mirrorgate_redirects_total');
    // Guessing the token spends the network's wrong-token budget: past it, the right token too gets a 429.
    const guess = (token: string) => call(locked, '/metrics', { from: '203.0.113.90', headers: { Authorization: `Bearer ${token}` } });
    for (let i = 0; i < 10; i++) expect((await guess(`wrong-token-guess-${i}-0123`)).status).toBe(404);
    const limited = await guess('metrics-token-0123456789');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await guess('wrong-token-guess-x-0123')).status).toBe(429);
    // Another network is untouched.
    expect((await call(locked, '/metrics', { from: '203.0.113.91', headers: { Authorization: 'Bearer metrics-token-0123456789' } })).status).toBe(200);
    await locked.close();
    const byPeer = await start((c) => (c.metrics = { allowFrom: ['127.0.0.1/32'] }));
    expect((await call(byPeer, '/metrics')).status).toBe(200);
    await byPeer.close();
    const elsewhere = await start((c) => (c.metrics = { allowFrom: ['10.9.8.0/24'] }));
    // X-Forwarded-For does not count: the peer does.
    expect((await call(elsewhere, '/metrics', { from: '10.9.8.7' })).status).toBe(404);
    await elsewhere.close();
  });
});

describe('private addresses through the API', () => {
  it('mirror and offer URLs at loopback, link-local or metadata addresses are refused with 422 unless the config allows them', async () => {
    const dir = path.join(net.dir, 'public-only');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'manifest.jsonl'), '{"path":"a.txt","size":1}\n');
    const file = path.join(dir, 'mirrorgate.yaml');
    await writeFile(
      file,
      [
        'publicUrl: http://127.0.0.1',
        'origin: { baseUrl: "https://origin.example/pub/", manifest: manifest.jsonl }',
        'health: { enabled: false }',
        `tokens: [{ token: "${STAFF_TOKEN}", role: staff, name: ops }]`,
        'mirrors: [{ id: pub, name: Pub, baseUrl: "https://pub.example/", country: DE }]',
        '',
      ].join('\n'),
    );
    const server = await serveConfig(file);
    try {
      const add = await call(server, '/admin/v1/mirrors', {
        method: 'POST',
        headers: staff,
        body: JSON.stringify({ id: 'meta', name: 'M', baseUrl: 'http://169.254.169.254/latest/', country: 'DE' }),
      });
      expect(add.status).toBe(422);
      expect(((await add.json()) as { fields: Record<string, string> }).fields.baseUrl).toMatch(/metadata service/);
      const patch = await call(server, '/admin/v1/mirrors/pub', {
        method: 'PATCH',
        headers: staff,
        body: JSON.stringify({ rsyncUrl: 'rsync://localhost/pub/' }),
      });
      expect(patch.status).toBe(422);
      expect(((await patch.json()) as { fields: Record<string, string> }).fields.rsyncUrl).toMatch(/this machine/);
      const offer = await submitOffer(server.url, { baseUrl: 'http://[::1]:8080/' }, '203.0.113.80');
      expect(offer.status).toBe(422);
      expect(offer.json.fields.baseUrl).toMatch(/this machine/);
      const bare = await call(server, '/admin/v1/mirrors/pub', {
        method: 'PATCH',
        headers: staff,
        body: JSON.stringify({ baseUrl: 'https://pub.example/x/?' }),
      });
      expect(bare.status).toBe(422);
      const audit = (await (await call(server, '/admin/v1/audit', { headers: staff })).json()) as { entries: unknown[] };
      expect(audit.entries).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
