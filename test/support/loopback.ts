// Loopback servers the tests stand up: a static file server that fails on demand (origin and mirrors), a TCP proxy that can be cut, and free ports.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import path from 'node:path';

/** A port nobody listens on right now (bound and released), for publicUrl and dead https mirrors. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// File servers (origin and mirrors)

export type MirrorMode = 'ok' | 'down' | '404' | 'stall';

export interface LoggedRequest {
  method: string;
  /** Decoded path, starting with '/', query removed; undefined when it did not decode. */
  path: string | undefined;
  /** The request target exactly as received. */
  target: string;
  range: string | undefined;
  headers: IncomingHttpHeaders;
  /** Status sent, or 0 when none was (stall, down). */
  status: number;
}

/**
 * A static file server on 127.0.0.1 with Range and HEAD support, a log of every request and a
 * switch for failure modes: refuse connections ('down'), answer 404, or accept and never answer ('stall').
 */
export class LoopbackFileServer {
  readonly requests: LoggedRequest[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly stalled = new Set<ServerResponse>();
  private mode: MirrorMode = 'ok';
  private portNumber = 0;

  constructor(
    /** Mirror id, or 'origin'. */
    readonly id: string,
    /** Folder whose contents are served at '/'. */
    readonly root: string,
  ) {}

  get port(): number {
    return this.portNumber;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.portNumber}/`;
  }

  get currentMode(): MirrorMode {
    return this.mode;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.portNumber = (server.address() as AddressInfo).port;
  }

  /** Switches the failure mode; 'down' closes the listening socket, leaving 'down' listens again on the same port. */
  async setMode(mode: MirrorMode): Promise<void> {
    if (mode === this.mode) return;
    const wasDown = this.mode === 'down';
    this.mode = mode;
    if (mode === 'down') await this.stopListening();
    else if (wasDown) await this.start(this.portNumber);
    if (mode !== 'stall') {
      for (const res of this.stalled) res.destroy();
      this.stalled.clear();
    }
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  /** Requests held: those that come are answered (as the mode says then) only once the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    this.heldUntil = held;
    return () => {
      if (this.heldUntil === held) this.heldUntil = undefined;
      release();
    };
  }

  private heldUntil: Promise<void> | undefined;

  /** Requests (GET/HEAD) for one origin path. */
  requestsFor(originPath: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === `/${originPath}`);
  }

  async close(): Promise<void> {
    await this.stopListening();
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.stalled.clear();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '/';
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: decodeTarget(target),
      target,
      range: req.headers.range,
      headers: req.headers,
      status: 0,
    };
    this.requests.push(entry);
    if (this.heldUntil) void this.heldUntil.then(() => this.answer(req, res, entry));
    else this.answer(req, res, entry);
  }

  private answer(req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): void {
    if (this.mode === 'stall') {
      // Hold the socket open and never answer, like a wedged web server.
      this.stalled.add(res);
      return;
    }
    const send = (status: number, headers: Record<string, string | number> = {}, body?: string) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (this.mode === '404' || this.mode === 'down') return send(404, { 'Content-Type': 'text/plain' }, 'not here\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { Allow: 'GET, HEAD' });
    if (entry.path === undefined) return send(400, { 'Content-Type': 'text/plain' }, 'bad path\n');
    const local = path.join(this.root, ...entry.path.split('/').filter(Boolean));
    void stat(local).then(
      (st) => {
        if (!st.isFile()) return send(404, { 'Content-Type': 'text/plain' }, 'not a file\n');
        const common = {
          'Content-Type': 'application/octet-stream',
          'Accept-Ranges': 'bytes',
          'Last-Modified': st.mtime.toUTCString(),
          ETag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
        };
        const range = parseRange(req.headers.range, st.size);
        if (range === 'unsatisfiable') {
          return send(416, { 'Content-Range': `bytes */${st.size}` });
        }
        const [start, end] = range ?? [0, st.size - 1];
        const status = range ? 206 : 200;
        entry.status = status;
        const headers: Record<string, string | number> = { ...common, 'Content-Length': Math.max(0, end - start + 1) };
        if (range) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
        res.writeHead(status, headers);
        if (req.method === 'HEAD' || st.size === 0) return void res.end();
        createReadStream(local, { start, end })
          .on('error', () => res.destroy())
          .pipe(res);
      },
      () => send(404, { 'Content-Type': 'text/plain' }, 'no such file\n'),
    );
  }
}

/** '/a%20b/c' → '/a b/c'; undefined for traversal or undecodable targets (this server never leaves its root). */
function decodeTarget(target: string): string | undefined {
  const q = target.indexOf('?');
  const raw = q >= 0 ? target.slice(0, q) : target;
  if (!raw.startsWith('/')) return undefined;
  try {
    const segments = raw.split('/').map(decodeURIComponent);
    if (segments.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\') || s.includes('\0'))) return undefined;
    return segments.join('/');
  } catch {
    return undefined;
  }
}

/** A single byte range, clamped; undefined when absent or not a single range (then the whole file is sent). */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return [start, end];
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy, to cut one client off a server (an instance off Redis) while the others keep it

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: TcpServer | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = createTcpServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
