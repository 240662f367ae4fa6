// Mirrorgate's own CPU per plain 302, without node:http: the Node fast path (src/node/fastPath.ts) called in
// process with stub requests and a stub response, over the bench's 302 requests, on the demo config. Beside
// the server's CPU per 302 (npm run bench), it shows how much of it is our code in a tight loop.
//
//   npm run bench:fastpath                             # LOG_LEVEL=silent
//   LOG_LEVEL=info npm run bench:fastpath > /dev/null   # with the access log (the figure goes to stderr)
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { compose } from '../../src/node/compose.js';
import { fastRedirect } from '../../src/node/fastPath.js';
import { scenarios } from './http.js';
import { benchConfig } from './server.js';
import { exitWhenDone, median } from './util.js';

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-bench-fastpath-'));
  const logLevel = process.env.LOG_LEVEL ?? 'silent';
  const config = await loadConfig(await benchConfig(dir), process.env);
  const instance = await compose(config, {
    env: process.env,
    logLevel,
    port: 8080,
  });
  try {
    const answer = fastRedirect(instance.services);
    const requests = (await scenarios()).redirects.map((r) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = String(value);
      return { method: r.method, url: r.path, headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    });
    // A response with the fields node:http's own head writer keeps (see src/node/redirectHead.ts), so the
    // fast path hands it a finished head as it does on a real connection; `end` starts the next request.
    let heads = 0;
    const response = {
      headersSent: false,
      _header: null as string | null,
      _headerSent: false,
      _last: false,
      _expect_continue: false,
      _keepAliveTimeout: 5_000,
      _defaultKeepAlive: true,
      maxRequestsOnConnectionReached: false,
      shouldKeepAlive: true,
      sendDate: true,
      statusCode: 200,
      statusMessage: '',
      getHeaderNames: () => [],
      writeHead() {
        throw new Error('the fast path wrote its head through writeHead: the stub response lacks a field endRedirect needs');
      },
      end() {
        if (response._header !== null) heads++;
        response._header = null;
      },
    };
    // 16 requests per event-loop turn, as 16 busy connections give the server: the access log's batch
    // drains between turns as it does there.
    const round = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const req = requests[i % requests.length]!;
        if (!answer(req, response as unknown as ServerResponse)) throw new Error(`not a plain 302 for the fast path: ${req.url}`);
        if (i % 16 === 15) await new Promise(setImmediate);
      }
    };
    const n = 200_000;
    await round(n);
    const perRound: number[] = [];
    for (let k = 0; k < 7; k++) {
      const before = process.cpuUsage();
      await round(n);
      const used = process.cpuUsage(before);
      perRound.push((used.user + used.system) / n);
    }
    console.error(
      `fast path in process, LOG_LEVEL=${logLevel}: ${median(perRound).toFixed(2)} µs of CPU per 302 (median of 7 rounds of ${n.toLocaleString('en')}; ${heads > 0 ? 'finished heads handed over' : 'no head handed over'})`,
    );
  } finally {
    await instance.close();
    await rm(dir, { recursive: true, force: true });
  }
}

exitWhenDone(main());
