// Shared by the reliability tests: raw HTTP over a socket (bytes exactly as given, slowly if need be), and
// Mirrorgate as a child process (real signals, real logs) on a config the network writes (net.writeConfig).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../support/wait.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawReply {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** ms from the first byte sent until the server closed the connection (or the reply was complete). */
  elapsedMs: number;
  /** The server closed the connection. */
  closed: boolean;
}

/** Parses the first response in `data`; undefined when no complete head arrived. */
export function parseResponse(data: Buffer): Omit<RawReply, 'elapsedMs' | 'closed'> | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers, body: data.subarray(end + 4).toString('utf8') };
}

/**
 * Sends `request` (already a complete HTTP/1.1 message, ideally with Connection: close) on a fresh
 * connection and reads until the server closes it.
 */
export function sendRaw(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    const finish = () => {
      clearTimeout(timer);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (!parsed) return reject(new Error(`connection closed without a response (${Buffer.concat(chunks).length} bytes)`));
      resolve({ ...parsed, elapsedMs: performance.now() - started, closed: true });
    };
    socket.once('end', finish);
    socket.once('error', (err) => {
      clearTimeout(timer);
      // A reset after a full response still counts as an answer.
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed) resolve({ ...parsed, elapsedMs: performance.now() - started, closed: true });
      else reject(err);
    });
    socket.write(request);
  });
}

/** A connection the test writes to piece by piece; `reply` settles when the server closes it. */
export interface SlowConnection {
  socket: Socket;
  write(data: string | Buffer): Promise<boolean>;
  /** Resolves with what the server sent by the time it closed (status 0 if nothing parseable). */
  reply: Promise<RawReply>;
  /** The first complete response head, as soon as it arrives (the connection may stay open). */
  firstResponse: Promise<Omit<RawReply, 'elapsedMs' | 'closed'>>;
  closed(): boolean;
}

export async function openSlow(port: number): Promise<SlowConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const started = performance.now();
  const chunks: Buffer[] = [];
  let isClosed = false;
  let onFirst: ((r: Omit<RawReply, 'elapsedMs' | 'closed'>) => void) | undefined;
  const firstResponse = new Promise<Omit<RawReply, 'elapsedMs' | 'closed'>>((resolve) => (onFirst = resolve));
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    const parsed = parseResponse(Buffer.concat(chunks));
    if (parsed && onFirst) {
      onFirst(parsed);
      onFirst = undefined;
    }
  });
  const reply = new Promise<RawReply>((resolve) => {
    const done = () => {
      isClosed = true;
      const parsed = parseResponse(Buffer.concat(chunks)) ?? { status: 0, headers: {}, body: '' };
      resolve({ ...parsed, elapsedMs: performance.now() - started, closed: true });
    };
    socket.once('close', done);
    socket.on('error', () => undefined);
  });
  return {
    socket,
    write: (data) =>
      new Promise<boolean>((resolve) => {
        if (isClosed || socket.destroyed) return resolve(false);
        socket.write(data, (err) => resolve(!err));
      }),
    reply,
    firstResponse,
    closed: () => isClosed,
  };
}

// ---------------------------------------------------------------------------------------------
// Mirrorgate as a child process

export interface ChildServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Parsed pino lines of stdout so far. */
  logLines(): Record<string, unknown>[];
  exited(): boolean;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (cleanup). */
  kill(): void;
}

/**
 * `node --import tsx src/node.ts` (what `npx tsx src/node.ts` runs, minus the wrapper process, so
 * signals reach Mirrorgate itself) with MIRRORGATE_CONFIG and PORT; resolves once it is listening.
 */
export async function startChildServer(opts: {
  configPath: string;
  port: number;
  env?: Record<string, string>;
  startTimeoutMs?: number;
}): Promise<ChildServer> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    MIRRORGATE_CONFIG: opts.configPath,
    PORT: String(opts.port),
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'node.ts')], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let hasExited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
    }),
  );
  const child: ChildServer = {
    url: `http://127.0.0.1:${opts.port}`,
    port: opts.port,
    proc,
    output: () => out,
    logLines: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    exited: () => hasExited,
    exit,
    kill: () => {
      if (!hasExited) proc.kill('SIGKILL');
    },
  };
  const deadline = performance.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (hasExited) throw new Error(`mirrorgate exited before listening:\n${out}`);
    if (stdout.includes('"mirrorgate listening"')) return child;
    if (performance.now() > deadline) {
      child.kill();
      throw new Error(`mirrorgate did not start listening in time:\n${out}`);
    }
    await sleep(50);
  }
}
