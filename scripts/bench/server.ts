// A server under test, in its own process: `bare` (node:http answering a fixed 302, the Node ceiling),
// `bare-full` (the same, but carrying the headers of a real Mirrorgate 302, given as JSON in
// BENCH_FIXED_HEADERS: the ceiling for an answer of that size on node:http), `raw-full` (the same bytes
// written straight on node:net sockets by a minimal keep-alive loop that is no HTTP server: the floor any
// Node server pays for an answer of that size on loopback, kernel and TCP included), `hono` (Hono on @hono/node-server
// answering a fixed 302: the adapter and router alone), or `mirrorgate` (the demo network through
// src/node.ts serve(); LOG_LEVEL and REDIS_URL from the environment). BENCH_SPIN_US makes `bare` and
// `bare-full` busy-wait that long per request first: what a given amount of work of one's own costs a ratio.
//
// Tells its parent the port over IPC; answers CPU questions; on request, runs V8's CPU profiler (the one
// behind --cpu-prof) over just the load window and writes the .cpuprofile; SIGTERM closes it cleanly.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve as serveNode } from '@hono/node-server';
import { Hono } from 'hono';
import { serve } from '../../src/node.js';
import { writeDemoConfig } from '../demoConfig.js';
import { answerCpuQuestions, send } from './util.js';

const FIXED_LOCATION = 'https://mirror.mainbruecke-hosting.example/pub/debian-cd/12.8.0/amd64/iso-cd/debian-12.8.0-amd64-netinst.iso';

/**
 * The demo config with its state in a temporary folder (the bench must not write into var/),
 * relative paths made absolute so the copy can live anywhere.
 */
export const benchConfig = writeDemoConfig;

/**
 * A fixed 302 head (with Date and keep-alive, as node:http sends it) for every blank line that ends a
 * request's headers. Not an HTTP server (no parsing, no bodies, no timeouts): the bench's GETs only.
 */
function rawFixedServer(headers: string[]): NetServer {
  let head = 'HTTP/1.1 302 Found\r\n';
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return createNetServer((socket) => {
    let pending = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(end + 4);
        socket.write(`${head}Date: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`, 'latin1');
      }
    });
    socket.on('error', () => socket.destroy());
  });
}

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'mirrorgate';
  answerCpuQuestions();
  answerProfileRequests();
  let close: () => Promise<void>;
  let port: number;

  if (mode === 'bare' || mode === 'bare-full') {
    const headers: string[] =
      mode === 'bare' ? ['location', FIXED_LOCATION, 'cache-control', 'no-store'] : (JSON.parse(process.env.BENCH_FIXED_HEADERS ?? '[]') as string[]);
    const spinUs = Number(process.env.BENCH_SPIN_US ?? 0);
    const server = createServer((_req, res) => {
      if (spinUs > 0) {
        const until = performance.now() + spinUs / 1000;
        while (performance.now() < until);
      }
      res.writeHead(302, headers);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else if (mode === 'raw-full') {
    const server = rawFixedServer(JSON.parse(process.env.BENCH_FIXED_HEADERS ?? '[]') as string[]);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else if (mode === 'hono') {
    const app = new Hono();
    app.get('/download/*', (c) => {
      c.header('Cache-Control', 'no-store');
      return c.redirect(FIXED_LOCATION, 302);
    });
    const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
      const s = serveNode({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else {
    const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-bench-'));
    const running = await serve({
      configPath: await benchConfig(dir),
      port: 0,
      hostname: '127.0.0.1',
      logLevel: process.env.LOG_LEVEL ?? 'silent',
      env: process.env,
    });
    port = running.port;
    close = async () => {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    };
  }

  let closing = false;
  process.once('SIGTERM', () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  // The parent went away: do not linger as an orphan server.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  send({ type: 'ready', port });
}

/** 'profile-start' / 'profile-stop' (with a file to write): the CPU profile of exactly the window between them. */
function answerProfileRequests(): void {
  let session: Session | undefined;
  process.on('message', (m: { type?: string; file?: string; intervalUs?: number }) => {
    if (m?.type === 'profile-start') {
      void (async () => {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: m.intervalUs ?? 250 });
        await session.post('Profiler.start');
        send({ type: 'result', data: 'profiling' });
      })();
    } else if (m?.type === 'profile-stop' && session && m.file) {
      const file = m.file;
      void (async () => {
        const { profile } = await session!.post('Profiler.stop');
        session!.disconnect();
        session = undefined;
        await writeFile(file, JSON.stringify(profile));
        send({ type: 'result', data: file });
      })();
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
}
