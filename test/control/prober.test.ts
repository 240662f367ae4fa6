import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardedLookup, pinHost, type Resolve } from '../../src/control/guardedLookup.js';
import { Prober, readOriginTrace, type ProbeTarget } from '../../src/control/prober.js';

const TRACE_TIME = 1_795_000_000;
/** The deadline the timeout tests measure against; every other test gets a loaded CI machine's worth (SLACK). */
const TIMEOUT = 300;
const SLACK = 10_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback HTTP server answering with `handler`, counting requests in flight. */
class TestServer {
  inFlight = 0;
  maxInFlight = 0;
  readonly requests: { method: string; url: string }[] = [];
  private server: Server | undefined;

  constructor(private readonly handler: Handler) {}

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '' });
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      let counted = true;
      const done = () => {
        if (counted) this.inFlight--;
        counted = false;
      };
      res.on('finish', done);
      res.on('close', done);
      this.handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return this;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Serves a trace at <prefix>TIME and the given files (raw request paths → size) for HEAD. */
function mirrorHandler(files: Record<string, number>, trace = `${TRACE_TIME}\n`): Handler {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url.endsWith('/TIME')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(trace);
      return;
    }
    const size = files[url];
    if (size === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    res.end();
  };
}

const toClose: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) await c.close();
});

async function serve(handler: Handler): Promise<TestServer> {
  const server = await new TestServer(handler).start();
  toClose.push(server);
  return server;
}

function prober(opts: Partial<ConstructorParameters<typeof Prober>[0]> = {}): Prober {
  const p = new Prober({ timeoutMs: SLACK, clock: () => 1_700_000_000_000, ...opts });
  toClose.push(p);
  return p;
}

function target(baseUrl: string, samples: ProbeTarget['samples'] = []): ProbeTarget {
  return { id: 'm1', baseUrl, tracePath: 'TIME', samples };
}

/** A port that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('Prober.probe', () => {
  it('reports a healthy mirror with latency, trace time and no missing files', async () => {
    const server = await serve(
      mirrorHandler({
        '/pub/releases/app-1.0.tar.gz': 1234,
        // Each segment percent-encoded like encodeURIComponent.
        '/pub/%C3%9Cn%C3%AFcode%20(2026)/a%2Bb%20%26%20c.txt': 77,
      }),
    );
    const outcome = await prober().probe(
      target(server.url('/pub/'), [
        { path: 'releases/app-1.0.tar.gz', size: 1234 },
        { path: 'Ünïcode (2026)/a+b & c.txt', size: 77 },
      ]),
    );
    expect(outcome).toMatchObject({ ok: true, at: 1_700_000_000_000, traceTime: TRACE_TIME });
    expect(outcome.missing).toBeUndefined();
    expect(outcome.reason).toBeUndefined();
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);
    expect(outcome.latencyMs).toBeLessThan(SLACK);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /pub/TIME',
      'HEAD /pub/releases/app-1.0.tar.gz',
      'HEAD /pub/%C3%9Cn%C3%AFcode%20(2026)/a%2Bb%20%26%20c.txt',
    ]);
  });

  it('reads a Debian ftpsync trace', async () => {
    const server = await serve(mirrorHandler({}, 'Sat Nov 22 10:00:01 UTC 2026\nDate: Sat, 22 Nov 2026 10:00:01 +0000\n'));
    const outcome = await prober().probe(target(server.url('/')));
    expect(outcome).toMatchObject({ ok: true, traceTime: Date.UTC(2026, 10, 22, 10, 0, 1) / 1000 });
  });

  it('takes a trace it cannot read for no trace: up, lag unknown, when the samples answer', async () => {
    const server = await serve(mirrorHandler({ '/a.iso': 10 }, '<html>Welcome to nginx!</html>'));
    const outcome = await prober().probe(target(server.url('/'), [{ path: 'a.iso', size: 10 }]));
    expect(outcome).toEqual({ ok: true, at: 1_700_000_000_000, latencyMs: outcome.latencyMs, traceProblem: 'trace file unreadable' });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('says "connection refused" for a closed port', async () => {
    const port = await closedPort();
    expect(await prober().probe(target(`http://127.0.0.1:${port}/`))).toEqual({
      ok: false,
      reason: 'connection refused',
      at: 1_700_000_000_000,
    });
  });

  it('says "HTTP 503" when the trace request fails', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('maintenance\n');
    });
    expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: false, reason: 'HTTP 503' });
  });

  it('says "HTTP 503" at once even when the error page never ends', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503, { 'content-length': 1000 });
      res.write('mainten');
    });
    const started = performance.now();
    expect(await prober({ timeoutMs: 2_000 }).probe(target(server.url('/')))).toMatchObject({ ok: false, reason: 'HTTP 503' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('fails a mirror answering 404 to everything: no trace, and nothing else vouches for it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: false, reason: 'no trace file (HTTP 404); base URL answers HTTP 404' });
    expect(await prober().probe(target(server.url('/'), [{ path: 'a', size: 1 }]))).toMatchObject({
      ok: false,
      reason: 'no trace file (HTTP 404); sample missing: a',
    });
  });

  it('times out on a server that never answers, within the deadline plus slack', async () => {
    const server = await serve(() => {
      /* accept and never answer */
    });
    const started = performance.now();
    const outcome = await prober({ timeoutMs: TIMEOUT }).probe(target(server.url('/')));
    const elapsed = performance.now() - started;
    expect(outcome).toMatchObject({ ok: false, reason: `timeout after ${TIMEOUT} ms` });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(elapsed).toBeLessThan(TIMEOUT + 700);
  });

  it('says "stalled body" when the trace headers come but the body stops', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 100, 'content-type': 'text/plain' });
      res.write('17950');
    });
    const started = performance.now();
    const outcome = await prober({ timeoutMs: TIMEOUT }).probe(target(server.url('/')));
    expect(outcome).toMatchObject({ ok: false, reason: 'stalled body' });
    expect(performance.now() - started).toBeLessThan(TIMEOUT + 700);
  });

  it('reports a 404 sample as missing without failing the probe', async () => {
    const server = await serve(mirrorHandler({ '/a.iso': 10 }));
    const outcome = await prober().probe(
      target(server.url('/'), [
        { path: 'a.iso', size: 10 },
        { path: 'gone/b.iso', size: 20 },
      ]),
    );
    expect(outcome).toMatchObject({
      ok: true,
      traceTime: TRACE_TIME,
      missing: ['gone/b.iso'],
      reason: 'sample missing: gone/b.iso',
    });
  });

  it('reports a size mismatch as missing', async () => {
    const server = await serve(mirrorHandler({ '/a.iso': 9 }));
    const outcome = await prober().probe(target(server.url('/'), [{ path: 'a.iso', size: 10 }]));
    expect(outcome).toMatchObject({ ok: true, missing: ['a.iso'], reason: 'size mismatch: a.iso (mirror 9, origin 10)' });
  });

  it('keeps a mirror up when every sample is missing (a partial mirror still serves the rest)', async () => {
    const server = await serve(mirrorHandler({}));
    const outcome = await prober().probe(
      target(server.url('/'), [
        { path: 'x', size: 1 },
        { path: 'y', size: 2 },
      ]),
    );
    expect(outcome).toMatchObject({ ok: true, missing: ['x', 'y'], reason: 'sample missing: x; sample missing: y' });
  });

  it('counts a sample answered with 403 as unavailable there', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/TIME') return void res.end(`${TRACE_TIME}`);
      res.writeHead(403);
      res.end();
    });
    const outcome = await prober().probe(target(server.url('/'), [{ path: 'x', size: 1 }]));
    expect(outcome).toMatchObject({ ok: true, missing: ['x'], reason: 'sample unavailable: x (HTTP 403)' });
  });

  it('fails the probe when samples get a server error', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/TIME') return void res.end(`${TRACE_TIME}`);
      res.writeHead(502);
      res.end();
    });
    const outcome = await prober().probe(target(server.url('/'), [{ path: 'x', size: 1 }]));
    expect(outcome).toMatchObject({ ok: false, reason: 'HTTP 502' });
  });

  it('checks no more samples than configured', async () => {
    const server = await serve(mirrorHandler({ '/a': 1, '/b': 1, '/c': 1 }));
    await prober({ sampleFiles: 2 }).probe(
      target(server.url('/'), [
        { path: 'a', size: 1 },
        { path: 'b', size: 1 },
        { path: 'c', size: 1 },
      ]),
    );
    expect(server.requests.filter((r) => r.method === 'HEAD')).toHaveLength(2);
  });

  it('follows one redirect on the same host', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/TIME') {
        res.writeHead(302, { location: '/moved/TIME' });
        return void res.end();
      }
      if (req.url === '/moved/TIME') return void res.end(`${TRACE_TIME}\n`);
      res.writeHead(404);
      res.end();
    });
    expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: true, traceTime: TRACE_TIME });
  });

  it('does not follow a second redirect', async () => {
    const server = await serve((req, res) => {
      res.writeHead(301, { location: `${req.url}x` });
      res.end();
    });
    expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: false, reason: 'too many redirects' });
  });

  it('fails on a redirect to another host, naming it', async () => {
    const other = await serve(mirrorHandler({}));
    const server = await serve((req, res) => {
      res.writeHead(302, { location: `http://localhost:${other.port}${req.url}` });
      res.end();
    });
    expect(await prober().probe(target(server.url('/')))).toMatchObject({
      ok: false,
      reason: `redirect to another host (localhost:${other.port})`,
    });
    expect(other.requests).toHaveLength(0);
  });

  it('says "DNS lookup failed" for a name that does not resolve', async () => {
    expect(await prober().probe(target('http://mirror.example.invalid/pub/'))).toMatchObject({
      ok: false,
      reason: 'DNS lookup failed',
    });
  });

  it('names the TLS error when https meets a server that does not speak it', async () => {
    const server = await serve(mirrorHandler({}));
    const outcome = await prober().probe(target(`https://127.0.0.1:${server.port}/`));
    expect(outcome.ok).toBe(false);
    expect(outcome.reason).toMatch(/^TLS error: [A-Z_]+$/);
  });
});

/**
 * A mirror serving `files` (raw request path → size, for HEAD and GET) and `text` files (raw path →
 * body), 404 for anything else; `root` is what its base URL answers.
 */
function siteHandler(opts: { files?: Record<string, number>; text?: Record<string, string>; root?: number; headRoot?: number }): Handler {
  return (req, res) => {
    const url = req.url ?? '/';
    const text = opts.text?.[url];
    if (text !== undefined) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(text);
    }
    const size = opts.files?.[url];
    if (size !== undefined) {
      res.writeHead(200, { 'content-length': size });
      return void res.end();
    }
    if (url === '/' && opts.root !== undefined) {
      const status = req.method === 'HEAD' && opts.headRoot !== undefined ? opts.headRoot : opts.root;
      res.writeHead(status, status >= 300 && status < 400 ? { location: '/index.html' } : {});
      return void res.end();
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  };
}

describe('Prober.probe: trace files are optional', () => {
  const A = { path: 'a.iso', size: 10 };
  const B = { path: 'b.iso', size: 20 };

  it('keeps a mirror without a trace file up, lag unknown, when its samples answer', async () => {
    const server = await serve(siteHandler({ files: { '/a.iso': 10, '/b.iso': 20 } }));
    const outcome = await prober().probe(target(server.url('/'), [A, B]));
    expect(outcome).toMatchObject({ ok: true, traceProblem: 'no trace file (HTTP 404)' });
    expect(outcome.traceTime).toBeUndefined();
    expect(outcome.missing).toBeUndefined();
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /TIME', 'HEAD /a.iso', 'HEAD /b.iso']);
  });

  it('without a trace, takes off the samples that are missing and keeps the mirror up on the rest', async () => {
    const server = await serve(siteHandler({ files: { '/a.iso': 10, '/b.iso': 19 } }));
    const outcome = await prober().probe(target(server.url('/'), [A, B]));
    expect(outcome).toMatchObject({ ok: true, missing: ['b.iso'], reason: 'size mismatch: b.iso (mirror 19, origin 20)' });
  });

  it('without a trace, fails when no sample answers with the right size', async () => {
    const server = await serve(siteHandler({ files: { '/a.iso': 9 } }));
    expect(await prober().probe(target(server.url('/'), [A, B]))).toMatchObject({
      ok: false,
      reason: 'no trace file (HTTP 404); size mismatch: a.iso (mirror 9, origin 10); sample missing: b.iso',
    });
  });

  it('still fails on a 5xx, trace or not', async () => {
    const server = await serve((req, res) => {
      res.writeHead(req.url === '/TIME' ? 404 : 502);
      res.end();
    });
    expect(await prober().probe(target(server.url('/'), [A]))).toMatchObject({ ok: false, reason: 'HTTP 502' });
  });

  it('takes a 403 or a redirect elsewhere for the trace as no trace', async () => {
    const forbidden = await serve((req, res) => {
      if (req.url === '/a.iso') return void res.writeHead(200, { 'content-length': 10 }).end();
      res.writeHead(403);
      res.end();
    });
    expect(await prober().probe(target(forbidden.url('/'), [A]))).toMatchObject({ ok: true, traceProblem: 'no trace file (HTTP 403)' });
    const redirecting = await serve((req, res) => {
      if (req.url === '/a.iso') return void res.writeHead(200, { 'content-length': 10 }).end();
      res.writeHead(302, { location: 'http://www.example.invalid/404.html' });
      res.end();
    });
    expect(await prober().probe(target(redirecting.url('/'), [A]))).toMatchObject({
      ok: true,
      traceProblem: 'no trace file (redirect to another host (www.example.invalid))',
    });
  });

  describe('with no samples to check (an empty share)', () => {
    it.each([
      ['a listing (200)', { root: 200 }],
      ['a redirect (302)', { root: 302 }],
      ['GET where HEAD is not allowed', { root: 200, headRoot: 405 }],
    ])('counts a base URL answering with %s as up', async (_name, opts) => {
      const server = await serve(siteHandler({ ...opts, text: { '/index.html': 'hello' } }));
      expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: true, traceProblem: 'no trace file (HTTP 404)' });
    });

    it('fails when the base URL answers 4xx, and names it', async () => {
      const server = await serve(siteHandler({ root: 403 }));
      expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: false, reason: 'no trace file (HTTP 404); base URL answers HTTP 403' });
    });

    it('does not look at the base URL when a trace was read', async () => {
      const server = await serve(siteHandler({ text: { '/TIME': `${TRACE_TIME}\n` } }));
      expect(await prober().probe(target(server.url('/')))).toMatchObject({ ok: true, traceTime: TRACE_TIME });
      expect(server.requests.map((r) => r.url)).toEqual(['/TIME']);
    });
  });

  it('tries candidate trace paths in order and takes the first that reads as a time', async () => {
    const server = await serve(siteHandler({ files: { '/pub/a.iso': 10 }, text: { '/pub/lastsync': `${TRACE_TIME}\n`, '/pub/TIME': 'garbage' } }));
    const outcome = await prober().probe({ id: 'arch', baseUrl: server.url('/pub/'), tracePath: ['TIME', 'lastsync', 'never-asked'], samples: [A] });
    expect(outcome).toMatchObject({ ok: true, traceTime: TRACE_TIME });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /pub/TIME', 'GET /pub/lastsync', 'HEAD /pub/a.iso']);
  });

  it('names every candidate when none is there', async () => {
    const server = await serve(siteHandler({ files: { '/a.iso': 10 }, text: { '/lastsync': 'soon' } }));
    expect(await prober().probe({ id: 'x', baseUrl: server.url('/'), tracePath: ['TIME', 'project/trace/ftp.example.org'], samples: [A] })).toMatchObject({
      ok: true,
      traceProblem: 'no trace file (TIME: HTTP 404, project/trace/ftp.example.org: HTTP 404)',
    });
    expect(await prober().probe({ id: 'x', baseUrl: server.url('/'), tracePath: ['TIME', 'lastsync'], samples: [A] })).toMatchObject({
      ok: true,
      traceProblem: 'no readable trace file (TIME: HTTP 404, lastsync: unreadable)',
    });
  });

  it('reads an Arch lastsync and a Debian ftpsync trace (key lines only) at their own paths', async () => {
    const debian = [
      'Date: Wed, 02 Dec 2026 19:33:08 +0000',
      'Date-Started: Wed, 02 Dec 2026 19:21:46 +0000',
      'Archive serial: 2026120201',
      'Used ftpsync version: 20180513',
      'Running on host: ftp.example.org',
      '',
    ].join('\n');
    const server = await serve(siteHandler({ text: { '/arch/lastsync': '1795000123\n', '/debian/project/trace/ftp.example.org': debian }, root: 200 }));
    expect(await prober().probe({ id: 'arch', baseUrl: server.url('/arch/'), tracePath: 'lastsync', samples: [] })).toMatchObject({
      ok: true,
      traceTime: 1_795_000_123,
    });
    expect(await prober().probe({ id: 'deb', baseUrl: server.url('/debian/'), tracePath: 'project/trace/ftp.example.org', samples: [] })).toMatchObject({
      ok: true,
      traceTime: Date.UTC(2026, 11, 2, 19, 33, 8) / 1000,
    });
  });
});

describe('Prober.readOriginTrace', () => {
  it('reads the origin trace time', async () => {
    const server = await serve(mirrorHandler({}, '2026-11-22T10:00:01Z\n'));
    expect(await prober().readOriginTrace(server.url('/pub/'), 'project/trace/TIME')).toBe(Date.UTC(2026, 10, 22, 10, 0, 1) / 1000);
    expect(server.requests[0]!.url).toBe('/pub/project/trace/TIME');
  });

  it('tries the candidate paths in order', async () => {
    const server = await serve(siteHandler({ text: { '/lastsync': `${TRACE_TIME}\n` } }));
    expect(await prober().readOriginTrace(server.url('/'), ['TIME', 'lastsync'])).toBe(TRACE_TIME);
    expect(server.requests.map((r) => r.url)).toEqual(['/TIME', '/lastsync']);
  });

  it('works without a Prober at hand', async () => {
    const server = await serve(mirrorHandler({}, `${TRACE_TIME}\n`));
    expect(await readOriginTrace(server.url('/'), 'TIME', SLACK)).toBe(TRACE_TIME);
    expect(await readOriginTrace(`http://127.0.0.1:${await closedPort()}/`, 'TIME', SLACK)).toBeUndefined();
  });

  it('gives undefined, and logs why, when the origin trace is unavailable or unreadable', async () => {
    const warnings: string[] = [];
    const log = { warn: (obj: object, msg?: string) => warnings.push(`${msg} ${JSON.stringify(obj)}`) };
    const missing = await serve((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const garbage = await serve(mirrorHandler({}, 'hello\n'));
    const p = prober({ log });
    expect(await p.readOriginTrace(missing.url('/'), 'TIME')).toBeUndefined();
    expect(await p.readOriginTrace(garbage.url('/'), 'TIME')).toBeUndefined();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('HTTP 404');
  });
});

describe('Prober.probeAll', () => {
  it('probes 200 mirrors with at most `concurrency` in flight', async () => {
    // One server stands in for 200 mirrors, told apart by path prefix; a small delay makes probes overlap.
    const server = await serve((req, res) => {
      setTimeout(() => {
        if (req.url?.endsWith('/TIME')) return void res.end(`${TRACE_TIME}\n`);
        res.writeHead(200, { 'content-length': 5 });
        res.end();
      }, 3);
    });
    const targets = Array.from({ length: 200 }, (_, i) => ({
      id: `m${i}`,
      baseUrl: server.url(`/m${i}/`),
      tracePath: 'TIME',
      samples: [{ path: 'f.bin', size: 5 }],
    }));
    const results = new Map<string, boolean>();
    await prober({ concurrency: 8, timeoutMs: 5_000 }).probeAll(targets, (t, outcome) => {
      results.set(t.id, outcome.ok);
    });
    expect(results.size).toBe(200);
    expect([...results.values()].every(Boolean)).toBe(true);
    expect(server.requests).toHaveLength(400);
    expect(server.maxInFlight).toBeLessThanOrEqual(8);
    expect(server.maxInFlight).toBeGreaterThan(1);
  });

  it('keeps going when recording one result fails', async () => {
    const server = await serve(mirrorHandler({}));
    const warnings: string[] = [];
    const seen: string[] = [];
    await prober({ log: { warn: (_o, msg) => warnings.push(msg ?? '') } }).probeAll(
      ['a', 'b', 'c'].map((id) => ({ id, baseUrl: server.url(`/${id}/`), tracePath: 'TIME', samples: [] })),
      async (t) => {
        seen.push(t.id);
        if (t.id === 'b') throw new Error('store down');
      },
    );
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(warnings).toEqual(['probe result not recorded']);
  });
});

describe('a mirror name that resolves where its URL could not point', () => {
  /** A resolver that knows one name, as a hostile or mistaken DNS zone would answer it. */
  const zone =
    (answers: Record<string, string[]>): Resolve =>
    (hostname, _options, callback) => {
      const addresses = answers[hostname];
      if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    };

  it('is refused on connect with the reason, and the address behind it never sees a request', async () => {
    const server = await serve(mirrorHandler({}));
    const lookup = guardedLookup(zone({ 'mirror.example': ['127.0.0.1'] }));
    const outcome = await prober({ lookup }).probe(target(`http://mirror.example:${server.port}/`));
    expect(outcome).toMatchObject({ ok: false });
    expect(outcome.reason).toBe(
      'mirror.example resolves to an address Mirrorgate does not connect to: it points at this machine (loopback address 127.0.0.1); set allowPrivateMirrorAddresses: true to allow it',
    );
    expect(server.requests).toEqual([]);
  });

  it('is probed as usual through the same resolver when no guard is set (the config allows private addresses)', async () => {
    const server = await serve(mirrorHandler({}));
    const resolve = zone({ 'mirror.example': ['127.0.0.1'] });
    const plain: LookupFunction = (hostname, options, callback) =>
      resolve(hostname, { all: true }, (err, all) =>
        options.all ? (callback as unknown as (e: unknown, a: unknown) => void)(err, all) : callback(err, all[0]?.address ?? '', all[0]?.family ?? 0),
      );
    const outcome = await prober({ lookup: plain }).probe(target(`http://mirror.example:${server.port}/`));
    expect(outcome).toMatchObject({ ok: true, traceTime: TRACE_TIME });
    expect(server.requests.length).toBeGreaterThan(0);
  });

  it('the guard lets public addresses through, and refuses a name with any forbidden one among them', async () => {
    const lookup = guardedLookup(zone({ good: ['192.0.2.10', '2001:db8::10'], mixed: ['192.0.2.10', '169.254.169.254'], inner: ['10.1.2.3'] }));
    const ask = (host: string, all: boolean) =>
      new Promise<unknown>((resolve, reject) =>
        lookup(host, { all }, (err, address, family) => (err ? reject(err) : resolve(all ? address : [address, family]))),
      );
    expect(await ask('good', true)).toEqual([
      { address: '192.0.2.10', family: 4 },
      { address: '2001:db8::10', family: 6 },
    ]);
    expect(await ask('good', false)).toEqual(['192.0.2.10', 4]);
    // Private ranges stay allowed: internal mirror networks use them.
    expect(await ask('inner', false)).toEqual(['10.1.2.3', 4]);
    await expect(ask('mixed', true)).rejects.toMatchObject({
      code: 'EFORBIDDENADDRESS',
      message: expect.stringContaining('cloud metadata service (169.254.169.254)'),
    });
    await expect(ask('nowhere', true)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('pins an rsync URL to each address the guard allowed, leaving the rest of it byte for byte', async () => {
    const lookup = guardedLookup(zone({ good: ['192.0.2.10', '2001:db8::10'], six: ['2001:db8::6'], mixed: ['192.0.2.10', '169.254.169.254'] }));
    await expect(pinHost('rsync://mixed/pub/', lookup)).rejects.toMatchObject({ code: 'EFORBIDDENADDRESS' });
    await expect(pinHost('rsync://nowhere/pub/', lookup)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(await pinHost('rsync://good/pub/', lookup)).toEqual(['rsync://192.0.2.10/pub/', 'rsync://[2001:db8::10]/pub/']);
    expect((await pinHost('rsync://sync@good:8730/pub/a b/%41/', lookup))[0]).toBe('rsync://sync@192.0.2.10:8730/pub/a b/%41/');
    expect(await pinHost('rsync://six/pub/', lookup)).toEqual(['rsync://[2001:db8::6]/pub/']);
    // Literals were checked by name when configured; nothing resolves them.
    expect(await pinHost('rsync://198.51.100.7/pub/', lookup)).toEqual(['rsync://198.51.100.7/pub/']);
    expect(await pinHost('rsync://[2001:db8::7]:873/pub/', lookup)).toEqual(['rsync://[2001:db8::7]:873/pub/']);
  });
});
