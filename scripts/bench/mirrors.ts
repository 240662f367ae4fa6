// Child process: one node:http server playing many mirrors, told apart by path prefix (/m0042/…), for probing.
// GET /mNNNN/TIME answers the trace time; HEAD /mNNNN/…/name~SIZE.ext answers Content-Length SIZE.
// Every 50th mirror is down (503) and every 40th lost a file (404 on its first sample), so probes take both paths.
// MIRROR_DELAY_MS delays every answer, standing in for the round trip to a mirror far away.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerCpuQuestions, send } from './util.js';

const delayMs = Number(process.env.MIRROR_DELAY_MS ?? 0);
const traceTime = String(Math.floor(Date.now() / 1000) - 600);
const SIZE = /~(\d+)\.[^/]*$/;

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const answer = () => {
    const m = /^\/m(\d+)\//.exec(url);
    if (!m) return void res.writeHead(404).end();
    const n = Number(m[1]);
    if (n % 50 === 7) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance\n');
    if (url.endsWith('/TIME')) return void res.writeHead(200, { 'content-type': 'text/plain', 'content-length': traceTime.length + 1 }).end(`${traceTime}\n`);
    const size = SIZE.exec(url);
    if (!size || (n % 40 === 3 && url.includes('/s0/'))) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': size[1] });
    res.end();
  };
  if (delayMs > 0) setTimeout(answer, delayMs);
  else answer();
});
server.keepAliveTimeout = 10_000;
server.listen(0, '127.0.0.1', () => {
  answerCpuQuestions();
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
