// Abuse: per-address rate limits, limits on body, header and URL size, slow clients cut off,
// no open redirect, and security headers on every page the app answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { MAX_BODY_BYTES } from '../../src/http/limits.js';
import { encodePath, FILES, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { sleep } from '../support/wait.js';
import { openSlow, sendRaw } from './support.js';

let net: MirrorNetwork;
let port: number;
let allowed: string[];

beforeAll(async () => {
  net = await startNetwork();
  port = Number(new URL(net.url).port);
  allowed = [net.config.origin.baseUrl, ...net.config.mirrors.map((m) => m.baseUrl)];
});

afterAll(async () => {
  await net?.close();
});

const get = (target: string, headers: Record<string, string> = {}) => fetch(`${net.url}${target}`, { headers, redirect: 'manual' });

describe('rate limits (per address, 429 with Retry-After)', () => {
  it('public API: the 301st request a minute from one address is refused; another address is not', async () => {
    const ip = '203.0.113.201';
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await get('/api/v1/mirrors', { 'X-Forwarded-For': ip })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const limited = await get('/api/v1/mirrors', { 'X-Forwarded-For': ip });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another address has its own budget.
    expect((await get('/api/v1/mirrors', { 'X-Forwarded-For': '203.0.113.202' })).status).toBe(200);
  });

  it('offers: 21st offer an hour from one address → 429 with Retry-After', async () => {
    const ip = '203.0.113.210';
    const offer = (i: number) =>
      JSON.stringify({
        contact: { name: 'R', email: 'r@example.org' },
        organisation: `Rate ${i}`,
        location: { country: 'DE' },
        storageTB: 10,
        bandwidthMbps: 1000,
      });
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${net.url}/api/v1/offers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': ip },
        body: offer(i),
      });
      expect(r.status).toBe(201);
    }
    const r = await fetch(`${net.url}/api/v1/offers`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': ip },
      body: offer(21),
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('X-Forwarded-For is not believed from an untrusted peer: rotating it does not dodge the limit', async () => {
    // A second server that trusts no proxy: every request is the loopback peer.
    const server = await net.startServer({ mutate: (c) => (c.trustedProxies = ['192.0.2.1/32']) });
    try {
      let limited = 0;
      for (let i = 0; i < 305; i++) {
        const r = await fetch(`${server.url}/api/v1/mirrors`, { headers: { 'X-Forwarded-For': `198.51.100.${i % 250}` } });
        if (r.status === 429) limited++;
      }
      expect(limited).toBe(5);
    } finally {
      await server.close();
    }
  });
});

describe('size limits', () => {
  const jsonPost = (target: string, body: string, extra: Record<string, string> = {}) =>
    fetch(`${net.url}${target}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.220', ...extra }, body });

  it(`bodies over ${MAX_BODY_BYTES / 1024} KB → 413 on offers and admin routes, before any parsing`, async () => {
    const big = JSON.stringify({ note: 'x'.repeat(MAX_BODY_BYTES) });
    const offer = await jsonPost('/api/v1/offers', big);
    expect(offer.status).toBe(413);
    expect(((await offer.json()) as { error: string }).error).toMatch(/larger than 64 KB/);
    const admin = await fetch(`${net.url}/admin/v1/mirrors/de-berlin`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${STAFF_TOKEN}` },
      body: JSON.stringify({ name: 'y'.repeat(100_000) }),
    });
    expect(admin.status).toBe(413);
    // Without Content-Length (chunked), the limit holds while reading.
    const chunked = await sendRaw(
      port,
      `POST /api/v1/offers HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.221\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        Array.from({ length: 20 }, () => `1000\r\n${'z'.repeat(0x1000)}\r\n`).join('') +
        '0\r\n\r\n',
    );
    expect(chunked.status).toBe(413);
    // Just under the limit is read and judged on its content.
    const under = await jsonPost('/api/v1/offers', JSON.stringify({ note: 'x'.repeat(MAX_BODY_BYTES - 100) }), { 'X-Forwarded-For': '203.0.113.222' });
    expect(under.status).toBe(422);
  });

  it('headers over 16 KB → 431 (Node maxHeaderSize)', async () => {
    const r = await sendRaw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(17_000)}\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(431);
    const many = await sendRaw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(40)}\r\n`).join('')}Connection: close\r\n\r\n`,
    );
    expect(many.status).toBe(431);
  });

  it('URLs over 8 KB → 414 (on every route but downloads); over 16 KB → 431; an overlong download path → 400, however long', async () => {
    // SPEC: a download path over 1024 bytes is a 400 with a short reason.
    const download = await sendRaw(port, `GET /download/pub/${'a'.repeat(9_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(download.status).toBe(400);
    expect(download.body).toMatch(/path too long/);
    expect(download.headers.location).toBeUndefined();
    for (const target of [`/mirrors?sort=${'n'.repeat(9_000)}`, `/${'x'.repeat(9_000)}`, `/admin/v1/audit?actor=${'q'.repeat(9_000)}`]) {
      const r = await sendRaw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(r.status, target.slice(0, 30)).toBe(414);
      expect(r.headers.location).toBeUndefined();
    }
    const huge = await sendRaw(port, `GET /download/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect([400, 431]).toContain(huge.status);
    const long = await sendRaw(port, `GET /download/pub/${'a'.repeat(4_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/too long/);
  });
});

describe('slow clients (headersTimeout / requestTimeout)', () => {
  let slowServer: RunningServer;
  let slowPort: number;

  beforeAll(async () => {
    slowServer = await net.startServer({ env: { MIRRORGATE_HEADERS_TIMEOUT_MS: '600', MIRRORGATE_REQUEST_TIMEOUT_MS: '1200' } });
    slowPort = Number(new URL(slowServer.url).port);
  });

  afterAll(async () => {
    await slowServer?.close();
  });

  it('a client sending its headers byte by byte, slower than headersTimeout, is cut off', async () => {
    const conn = await openSlow(slowPort);
    const request = `GET /download/${encodePath(FILES.readme)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`;
    let sent = 0;
    for (const ch of request) {
      if (!(await conn.write(ch))) break;
      sent++;
      await sleep(20);
      if (conn.closed()) break;
    }
    const reply = await conn.reply;
    expect(sent, 'the whole request got through').toBeLessThan(request.length);
    expect([0, 408]).toContain(reply.status);
    // Cut off near headersTimeout (checked every 150 ms), not after Node's default minute.
    expect(reply.elapsedMs).toBeLessThan(2_500);
  });

  it('a client trickling its body slower than requestTimeout is cut off; a normal request on the same server works', async () => {
    const conn = await openSlow(slowPort);
    await conn.write(`POST /api/v1/offers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n`);
    let sent = 0;
    for (let i = 0; i < 400 && !conn.closed(); i++) {
      if (!(await conn.write('x'))) break;
      sent++;
      await sleep(25);
    }
    const reply = await conn.reply;
    expect(sent).toBeLessThan(400);
    expect([0, 408]).toContain(reply.status);
    expect(reply.elapsedMs).toBeLessThan(3_500);
    const ok = await fetch(`${slowServer.url}/healthz`);
    expect(ok.status).toBe(200);
  });
});

describe('no open redirect', () => {
  const hostile: { target: string; headers?: Record<string, string> }[] = [
    { target: `/download/${encodePath(FILES.readme)}?mirror=http://evil.example/` },
    { target: `/download/${encodePath(FILES.readme)}?mirror=%2F%2Fevil.example` },
    {
      target: `/download/${encodePath(FILES.readme)}?direct&mirror=evil`,
      headers: { Cookie: 'mirrorgate_mirror=evil; mirrorgate_mirror=http://evil.example' },
    },
    { target: `/download/${encodePath(FILES.readme)}`, headers: { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } },
    { target: `/download/${encodePath(FILES.readme)}`, headers: { 'X-Forwarded-For': 'http://evil.example/, 1.2.3.4, garbage' } },
    { target: '/download//evil.example/pub/README.txt' },
    { target: '/download/http://evil.example/x' },
    { target: '/download/%2F%2Fevil.example%2Fx' },
    { target: '/download/https:%2F%2Fevil.example' },
    { target: '/download/%5C%5Cevil.example' },
    { target: '//evil.example/download/pub/README.txt' },
    { target: `http://evil.example/download/${encodePath(FILES.readme)}` },
    { target: `/download/${encodePath(FILES.readme)}/..%2F..%2F..%2Fevil` },
    { target: `/download/${encodePath(FILES.readme)}.meta4?mirror=http://evil.example` },
    { target: `/download/${encodePath(FILES.readme)}?mirrorlist&fromip=1.1.1.1`, headers: { Accept: 'text/plain' } },
  ];

  for (const { target, headers } of hostile) {
    it(`${target.slice(0, 70)} ${headers ? JSON.stringify(headers).slice(0, 60) : ''}`, async () => {
      for (const accept of ['*/*', 'text/html', 'text/plain']) {
        const lines = Object.entries({ Host: '127.0.0.1', Accept: accept, ...headers }).map(([k, v]) => `${k}: ${v}`);
        const r = await sendRaw(port, `GET ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
        expect(r.status).toBeLessThan(500);
        if (r.headers.location !== undefined) {
          expect(
            allowed.some((a) => r.headers.location!.startsWith(a)),
            r.headers.location,
          ).toBe(true);
        }
        // Nor does any link the page or list offers point elsewhere.
        for (const url of r.body.match(/https?:\/\/[^\s"'<>]+/g) ?? []) {
          const ok =
            allowed.some((a) => url.startsWith(a)) ||
            url.startsWith(net.config.publicUrl) ||
            url.startsWith('https://spree.example') ||
            url.startsWith('http://www.w3.org/') ||
            // The geolocation credit in the footer of pages built from the data (DB-IP's licence asks for the link).
            url === 'https://db-ip.com';
          expect(ok, `${url} in the answer to ${target}`).toBe(true);
        }
        expect(r.body).not.toContain('evil.example');
      }
    });
  }
});

describe('security headers on every page', () => {
  it('redirects carry the headers that act on a redirect, and none of the page-only ones', async () => {
    for (const target of [
      `/download/${encodePath(FILES.readme)}`,
      `/download/${encodePath(FILES.readme)}?direct`,
      `/download/${encodePath(FILES.originOnly)}`,
    ]) {
      const r = await fetch(`${net.url}${target}`, { headers: { Accept: '*/*' }, redirect: 'manual' });
      await r.arrayBuffer();
      expect(r.status, target).toBe(302);
      expect(r.headers.get('referrer-policy'), target).toBe('strict-origin-when-cross-origin');
      // RFC 6797 §7.2: no HSTS on an answer conveyed over plain HTTP.
      expect(r.headers.get('strict-transport-security'), target).toBeNull();
      const secure = await fetch(`${net.url}${target}`, { headers: { Accept: '*/*', 'X-Forwarded-Proto': 'https' }, redirect: 'manual' });
      await secure.arrayBuffer();
      expect(secure.headers.get('strict-transport-security'), target).toContain('max-age=');
      expect(r.headers.get('cross-origin-resource-policy'), target).toBe('cross-origin');
      expect(r.headers.get('x-content-type-options'), target).toBe('nosniff');
      // Never rendered, so CSP and frame options would be bytes for nothing on every download.
      expect(r.headers.get('content-security-policy'), target).toBeNull();
      expect(r.headers.get('x-frame-options'), target).toBeNull();
    }
  });

  it('CSP with frame-ancestors, nosniff, Referrer-Policy on every answer the app gives', async () => {
    const staff = { Authorization: `Bearer ${STAFF_TOKEN}` };
    const cases: { target: string; method?: string; headers?: Record<string, string>; body?: string; status: number }[] = [
      { target: '/', status: 200 },
      { target: '/mirrors', status: 200 },
      { target: '/mirrors', headers: { Accept: 'application/json' }, status: 200 },
      { target: '/api/v1/mirrors', status: 200 },
      { target: `/api/v1/files/${encodePath(FILES.readme)}`, status: 200 },
      { target: `/download/${encodePath(FILES.readme)}`, headers: { Accept: 'text/html' }, status: 200 },
      { target: `/download/${encodePath(FILES.readme)}?mirrorlist`, headers: { Accept: 'text/html' }, status: 200 },
      { target: `/download/${encodePath(FILES.readme)}.meta4`, status: 200 },
      { target: `/download/${encodePath(FILES.readme)}?sha256`, status: 200 },
      { target: '/download/no/such/file', status: 404 },
      { target: '/download/a%5Cb', status: 400 },
      { target: '/nowhere', status: 404 },
      { target: '/healthz', status: 200 },
      { target: '/readyz', status: 200 },
      { target: '/metrics', status: 200 },
      { target: '/assets/mirrorgate.css', status: 200 },
      { target: '/logos/de-berlin', status: 200 },
      { target: '/admin/v1/mirrors', status: 401 },
      { target: '/admin/v1/mirrors', headers: staff, status: 200 },
      { target: '/admin/v1/audit', headers: { Authorization: 'Bearer wrong-token-wrong-token' }, status: 401 },
      { target: '/api/v1/offers', method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.230' }, body: '{', status: 400 },
      {
        target: '/api/v1/offers',
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.231' },
        body: 'x'.repeat(70_000),
        status: 413,
      },
      { target: `/mirrors?q=${'z'.repeat(9_000)}`, status: 414 },
    ];
    for (const c of cases) {
      const r = await fetch(`${net.url}${c.target}`, { method: c.method ?? 'GET', headers: c.headers, body: c.body, redirect: 'manual' });
      await r.arrayBuffer();
      const what = `${c.method ?? 'GET'} ${c.target.slice(0, 60)}`;
      expect(r.status, what).toBe(c.status);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, what).toMatch(/frame-ancestors 'none'|sandbox/);
      expect(csp, what).toMatch(/default-src 'none'/);
      expect(r.headers.get('x-content-type-options'), what).toBe('nosniff');
      expect(r.headers.get('referrer-policy'), what).toBeTruthy();
      expect(r.headers.get('x-frame-options'), what).toBe('SAMEORIGIN');
    }
    // The limiter's own 429 too.
    let limited: Response | undefined;
    for (let i = 0; i < 320 && !limited; i++) {
      const r = await fetch(`${net.url}/mirrors`, { headers: { 'X-Forwarded-For': '203.0.113.240', Accept: 'application/json' } });
      await r.arrayBuffer();
      if (r.status === 429) limited = r;
    }
    expect(limited).toBeDefined();
    expect(limited!.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(limited!.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
