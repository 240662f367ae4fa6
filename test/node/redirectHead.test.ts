// The fast path's finished 302 head (src/node/redirectHead.ts) against node:http's own writeHead: the same
// bytes on the wire, and the same connection handling, for every way a client asks to keep or close the
// connection. Real node:http servers on loopback, raw sockets as clients. This is the test that tells
// when a Node release changes what writeHead writes.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/core/snapshot.js';
import { fieldLines } from '../../src/http/fieldLines.js';
import { endRedirect, headSafe } from '../../src/node/redirectHead.js';

const FIELDS = [
  'cache-control',
  'no-store',
  'location',
  'https://mirror.example/pub/a%20b.iso',
  'link',
  '<https://m2.example/a%20b.iso>; rel=duplicate; pri=1; geo=de',
  'link',
  '<http://127.0.0.1/download/a%20b.iso.meta4>; rel=describedby; type="application/metalink4+xml"',
  'x-request-id',
  'abc-123',
];
const TAIL = ['referrer-policy', 'strict-origin-when-cross-origin', 'content-length', '0'];

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A server answering every request with the 302: through endRedirect ('ours'), or writeHead ('node'). */
async function serve(kind: 'ours' | 'node', tune: (s: Server) => void = () => {}): Promise<number> {
  const fields = fieldLines(FIELDS);
  const tail = fieldLines(TAIL);
  const server = createServer((req, res) => {
    req.resume();
    if (kind === 'ours' && endRedirect(res, fields, tail)) return;
    res.writeHead(302, [...FIELDS, ...TAIL]);
    res.end();
  });
  tune(server);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * Sends `request` on a new connection and reads its `answers` heads; then asks once more on the same
 * connection, to learn whether the server kept it (one more head comes) or closed it (the connection
 * ends). Date values are blanked: they are the only bytes allowed to differ.
 */
async function exchange(port: number, request: string, answers: number): Promise<{ text: string; closedByServer: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let text = '';
  const heads = () => text.split('\r\n\r\n').length - 1;
  const closedByServer = await new Promise<boolean>((resolve) => {
    let probed = false;
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!probed && heads() >= answers) {
        probed = true;
        socket.write(GET, () => {});
      } else if (probed && heads() > answers) resolve(false);
    });
    socket.on('end', () => resolve(true));
    // Asking again on a connection the server is closing may be refused outright.
    socket.on('error', () => resolve(true));
    socket.write(request);
  });
  socket.destroy();
  const answered = text.split('\r\n\r\n').slice(0, answers).join('\r\n\r\n');
  return { text: answered.replace(/^Date: .*$/gm, 'Date: -'), closedByServer };
}

const GET = 'GET /download/a HTTP/1.1\r\nHost: x\r\n\r\n';

const CASES: { name: string; request: string; answers: number; tune?: (s: Server) => void }[] = [
  { name: 'HTTP/1.1, two requests on one connection', request: GET + GET, answers: 2 },
  { name: 'HTTP/1.1 asking to close', request: 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', answers: 1 },
  { name: 'HTTP/1.0', request: 'GET /a HTTP/1.0\r\n\r\n', answers: 1 },
  { name: 'HTTP/1.0 asking for keep-alive', request: 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', answers: 1 },
  { name: 'HEAD', request: 'HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n', answers: 1 },
  { name: 'a server without keep-alive timeout', request: GET + GET, answers: 2, tune: (s) => (s.keepAliveTimeout = 0) },
  { name: 'a server with maxRequestsPerSocket', request: GET + GET + GET, answers: 3, tune: (s) => (s.maxRequestsPerSocket = 2) },
  // node:http answers 100 Continue by itself first.
  { name: 'a client waiting for 100-continue', request: 'GET /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n', answers: 2 },
];

describe('a finished 302 head', () => {
  for (const c of CASES) {
    it(`is what writeHead writes: ${c.name}`, async () => {
      const [ours, node] = await Promise.all([serve('ours', c.tune), serve('node', c.tune)]);
      const [a, b] = await Promise.all([exchange(ours, c.request, c.answers), exchange(node, c.request, c.answers)]);
      expect(a.text).toBe(b.text);
      expect(a.closedByServer).toBe(b.closedByServer);
      expect(a.text).toContain('HTTP/1.1 302 Found\r\ncache-control: no-store\r\nlocation: https://mirror.example/pub/a%20b.iso\r\n');
    });
  }

  it('is not written over a head begun elsewhere', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer((_req, res) => {
        res.setHeader('x-other', '1');
        res.end(String(endRedirect(res, fieldLines(FIELDS), '')));
      });
      servers.push(server);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('false');
  });
});

describe('a snapshot safe for finished heads', () => {
  const snapshot = (baseUrl: string, id = 'm1', country = 'DE') =>
    ({ origin: { baseUrl: 'https://origin.example/' }, mirrors: [{ spec: { baseUrl, id, country } }] }) as unknown as Snapshot;

  it('has printable ASCII in every mirror URL, id and country, and in our public URL', () => {
    expect(headSafe(snapshot('https://m.example/pub/'), 'https://dl.example')).toBe(true);
    expect(headSafe(snapshot('https://m.example/p\r\nX-Evil: 1/'), 'https://dl.example')).toBe(false);
    expect(headSafe(snapshot('https://m.example/pub/', 'm\u00e91'), 'https://dl.example')).toBe(false);
    expect(headSafe(snapshot('https://m.example/pub/', 'm1', 'D\tE'), 'https://dl.example')).toBe(false);
    expect(headSafe(snapshot('https://m.example/pub/'), 'https://dl.example/\u0000')).toBe(false);
  });
});
