// The Node fast path for plain 302s (src/node/fastPath.ts) against the app's own redirect route (a second
// instance on the same config with MIRRORGATE_FAST_PATH=off): the same request must get the same answer,
// header for header, and the same events. Through real servers on loopback.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IPS, EUROPE_NO_COUNTRY_IP } from '../support/clientIps.js';
import { serve, type RunningServer } from '../../src/node.js';
import { encodePath, FILES, startNetwork, type FileKey, type MirrorNetwork } from '../support/network.js';
import { rawRequest } from '../support/requests.js';

let net: MirrorNetwork;
/** The same config, every request answered by the Hono app. */
let appOnly: RunningServer;

beforeAll(async () => {
  net = await startNetwork();
  // The same config (links name the same publicUrl) on a dataDir of its own: a memory store's dataDir is one instance's.
  appOnly = await net.startServer({ mutate: (c) => (c.publicUrl = net.url), env: { MIRRORGATE_FAST_PATH: 'off' } });
});

afterAll(async () => {
  await net?.close();
});

/** Headers that differ between any two responses, or belong to the connection. The framing (an empty body of length 0, never chunked) is compared too. */
const PER_RESPONSE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

async function answer(url: string, headers: Record<string, string>, method = 'GET') {
  const res = await fetch(url, { method, headers, redirect: 'manual' });
  await res.arrayBuffer();
  const kept: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!PER_RESPONSE.has(name)) kept[name] = value;
  });
  return { status: res.status, headers: kept, requestId: res.headers.get('x-request-id') };
}

async function redirectCount(): Promise<number> {
  const text = await (await fetch(`${net.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('mirrorgate_redirects_total{')) n += Number(line.split(' ').pop());
  return n;
}

const clients = [...Object.values(CLIENT_IPS).map((c) => c.ip), EUROPE_NO_COUNTRY_IP.ip, '10.1.2.3'];
const keys = Object.keys(FILES) as FileKey[];

describe('the Node fast path for plain redirects', () => {
  it('answers every file, for clients all over the map, exactly as the app route does', async () => {
    for (const key of keys) {
      for (const ip of clients) {
        const url = `${net.url}/download/${encodePath(FILES[key])}`;
        const headers = { 'X-Forwarded-For': ip, Accept: '*/*' };
        const fast = await answer(url, headers);
        const app = await answer(url.replace(net.url, appOnly.url), headers);
        // Each instance names itself in the metalink link (a loopback publicUrl follows the listening port).
        if (app.headers.link) app.headers.link = app.headers.link.split(appOnly.url).join(net.url);
        expect(fast.status, `${key} from ${ip}`).toBe(302);
        expect(fast, `${key} from ${ip}`).toEqual({ ...app, requestId: fast.requestId });
        expect(await answer(`${url}?direct`, headers), `?direct ${key} from ${ip}`).toEqual({ ...fast, requestId: expect.any(String) });
        const head = await answer(url, headers, 'HEAD');
        expect(head.headers, `HEAD ${key} from ${ip}`).toEqual(fast.headers);
      }
    }
  });

  it('answers HTTPS clients (a trusted proxy says so) as the app does, HSTS included; plain HTTP clients get none', async () => {
    for (const key of keys) {
      const url = `${net.url}/download/${encodePath(FILES[key])}`;
      const headers = { 'X-Forwarded-For': CLIENT_IPS.DE.ip, 'X-Forwarded-Proto': 'https', Accept: '*/*' };
      const fast = await answer(url, headers);
      const app = await answer(url.replace(net.url, appOnly.url), headers);
      if (app.headers.link) app.headers.link = app.headers.link.split(appOnly.url).join(net.url);
      expect(fast, key).toEqual({ ...app, requestId: fast.requestId });
      expect(fast.headers['strict-transport-security'], key).toContain('max-age=');
      expect((await answer(url, { 'X-Forwarded-For': CLIENT_IPS.DE.ip, Accept: '*/*' })).headers['strict-transport-security'], key).toBeUndefined();
    }
  });

  it('names the same metalink however the path was spelled', async () => {
    const spelled = `${net.url}/download/pub/%52EADME.txt`;
    const fast = await answer(spelled, { Accept: '*/*' });
    expect(fast.status).toBe(302);
    expect(fast.headers.link).toContain(`<${net.url}/download/pub/README.txt.meta4>; rel=describedby`);
  });

  it('echoes a well-formed X-Request-Id and makes one otherwise, as the app does', async () => {
    const url = `${net.url}/download/${encodePath(FILES.readme)}`;
    expect((await answer(url, { 'X-Request-Id': 'trace-42=abc' })).requestId).toBe('trace-42=abc');
    const made = (await answer(url, { 'X-Request-Id': 'no spaces allowed' })).requestId;
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts each answer once, as a download for GET and not for HEAD', async () => {
    const url = `${net.url}/download/${encodePath(FILES.tarball)}`;
    const before = await redirectCount();
    await answer(url, { 'X-Forwarded-For': CLIENT_IPS.DE.ip });
    await answer(url, { 'X-Forwarded-For': CLIENT_IPS.DE.ip }, 'HEAD');
    expect((await redirectCount()) - before).toBe(2);
  });

  it('leaves pages, lists, metalinks, errors and remembered mirrors to the app', async () => {
    const base = `${net.url}/download/${encodePath(FILES.readme)}`;
    expect((await answer(base, { Accept: 'text/html' })).status).toBe(200);
    expect((await answer(`${base}.meta4`, {})).headers['content-type']).toContain('metalink4');
    expect((await answer(`${net.url}/download/no/such/file`, {})).status).toBe(404);
    expect((await answer(`${net.url}/download/a%5Cb`, {})).status).toBe(400);
    for (const target of ['/download/pub/../etc/passwd', '/download/pub/%2e%2e/etc/passwd']) {
      expect((await rawRequest(net.url, target)).status, target).toBe(400);
    }
    const remembered = Object.keys(net.mirrors)[0]!;
    const withCookie = await answer(base, { Cookie: `mirrorgate_mirror=${remembered}`, 'X-Forwarded-For': CLIENT_IPS.US_EAST.ip });
    const asked = await answer(`${base}?mirror=${remembered}`, { 'X-Forwarded-For': CLIENT_IPS.US_EAST.ip });
    expect(withCookie.headers['x-mirrorgate-mirror']).toBe(asked.headers['x-mirrorgate-mirror']);
  });
});

/** Everything the server sends back for `request` (sent as is) on one connection, until it closes it. */
function rawAnswer(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => resolve(text));
  });
}

/** The status of each answer to `request` on one connection. */
async function statuses(port: number, request: string): Promise<number[]> {
  return [...(await rawAnswer(port, request)).matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}

describe('a request whose Host is not a plain host name', () => {
  it('gets the same answer from both transports: 400 where the app refuses it (RFC 9112 §3.2), else the 302', async () => {
    const file = `/download/${encodePath(FILES.readme)}`;
    const cases: [host: string, status: number][] = [
      ['a b', 400],
      ['ex@mple.org', 400],
      ['example.org:99999', 400],
      ['[::1', 400],
      ['x/y', 400],
      ['EXAMPLE.org', 302],
      ['example.org:80', 302],
      ['[::1]:8080', 302],
      ['downloads.example.org', 302],
    ];
    for (const [host, status] of cases) {
      const request = `GET ${file} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
      for (const server of [net.url, appOnly.url]) {
        expect(await statuses(Number(new URL(server).port), request), `Host: ${host} on ${server}`).toEqual([status]);
      }
    }
    // Two Host fields are refused too, not answered for the first of them.
    for (const server of [net.url, appOnly.url]) {
      const twice = `GET ${file} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n`;
      expect(await statuses(Number(new URL(server).port), twice), `two Hosts on ${server}`).toEqual([400]);
    }
    // No Host at all in HTTP/1.1: refused before either transport, with a reason.
    for (const server of [net.url, appOnly.url]) {
      const none = await rawAnswer(Number(new URL(server).port), `GET ${file} HTTP/1.1\r\n\r\n`);
      expect(none, server).toMatch(/^HTTP\/1\.1 400 /);
      expect(none).toContain('Error: an HTTP/1.1 request needs a Host header');
    }
    // Said in words, where the adapter would send an empty 400.
    const refused = await rawAnswer(Number(new URL(net.url).port), `GET ${file} HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n`);
    expect(refused).toMatch(/^HTTP\/1\.1 400 /);
    expect(refused).toContain('Error: Invalid URL (made of the Host header and the request target)');
  });
});

describe('HTTP/1.0 clients that send no Host (only HTTP/1.1 must, RFC 9112 §3.2)', () => {
  it('get the same answers from both transports on a server bound to no host name, as npm start binds it', async () => {
    const started: RunningServer[] = [];
    try {
      for (const env of [{}, { MIRRORGATE_FAST_PATH: 'off' }]) {
        const { file, port } = await net.writeConfig();
        // No hostname: all interfaces, where @hono/node-server has no host of its own to fall back on.
        started.push(await serve({ configPath: file, port, logLevel: 'silent', env }));
      }
      const file = `/download/${encodePath(FILES.readme)}`;
      for (const server of started) {
        for (const [target, status] of [
          [file, 302],
          [`${file}?sha256`, 200],
          [`${file}.meta4`, 200],
          ['/download/no/such/file', 404],
          ['/healthz', 200],
        ] as const) {
          expect(await statuses(server.port, `GET ${target} HTTP/1.0\r\n\r\n`), `${target} on ${server.url}`).toEqual([status]);
        }
      }
    } finally {
      for (const server of started) await server.close();
    }
  });
});
