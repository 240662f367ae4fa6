// Node only: the HTTP server around the app — timeouts for slow clients, the fast path in front of Hono,
// Link fields kept apart, and an orderly shutdown on close() or a signal.
import type { Logger } from '../core/logger.js';
import { createServer, type IncomingMessage, type RequestListener, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener, RequestError, serve as serveNode, type HttpBindings } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import type { AppEnv, AppServices, Connection, LogLike } from '../http/services.js';
import { fastRedirect } from './fastPath.js';
import { keepLinkFieldsApart } from './linkFields.js';
import { originForm } from '../http/target.js';

/** Node's defaults leave a slow client minutes (headers) or forever (Node < 18) to trickle a request in. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long close() lets in-flight requests run before it cuts their connections. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

export interface ServerTimeouts {
  /** A client must have sent all request headers within this (slowloris). */
  headersTimeoutMs: number;
  /** …and the whole request, body included, within this. */
  requestTimeoutMs: number;
  /** How often Node checks the two above (its default, 30 s, would make a short timeout meaningless). */
  connectionsCheckingIntervalMs: number;
  shutdownGraceMs: number;
}

function positiveMs(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number of milliseconds, got ${JSON.stringify(raw)}`);
  return Math.round(n);
}

/**
 * Timeouts from the environment: MIRRORGATE_HEADERS_TIMEOUT_MS, MIRRORGATE_REQUEST_TIMEOUT_MS,
 * MIRRORGATE_SHUTDOWN_GRACE_MS (tests shorten them; the defaults suit production).
 */
export function serverTimeouts(env: Record<string, string | undefined>): ServerTimeouts {
  const headersTimeoutMs = positiveMs(env, 'MIRRORGATE_HEADERS_TIMEOUT_MS', DEFAULT_HEADERS_TIMEOUT_MS);
  // Node insists that headers come no later than the whole request.
  const requestTimeoutMs = Math.max(headersTimeoutMs, positiveMs(env, 'MIRRORGATE_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS));
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    connectionsCheckingIntervalMs: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
    shutdownGraceMs: positiveMs(env, 'MIRRORGATE_SHUTDOWN_GRACE_MS', DEFAULT_SHUTDOWN_GRACE_MS),
  };
}

/** Options for node:http createServer. */
export function nodeServerOptions(t: ServerTimeouts) {
  return {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: t.connectionsCheckingIntervalMs,
    // Node's default, stated: a request line plus headers over 16 KB is answered 431.
    maxHeaderSize: 16 * 1024,
    // Node keeps the first of two Host (or Authorization, Content-Type, …) fields and drops the other; joined,
    // two Hosts make no URL and get a 400 (RFC 9112 §3.2), two tokens match none.
    joinDuplicateHeaders: true,
    // An HTTP/1.1 request without Host is refused by withRedirectFastPath, with a line that says why (Node's own 400 is empty).
    requireHostHeader: false,
  };
}

interface ClosableServer {
  close(callback?: (err?: Error) => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}

/**
 * Stops accepting connections and resolves once every in-flight request has been answered;
 * connections still busy after `graceMs` (a client that never finishes its request) are cut.
 */
export function closeServer(server: ClosableServer, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    // Keep-alive connections that finish a response while we wait must not stay open for another request.
    const sweep = setInterval(() => server.closeIdleConnections?.(), 100);
    const cut = setTimeout(() => server.closeAllConnections?.(), graceMs);
    sweep.unref();
    cut.unref();
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}

export type ShutdownLog = Pick<Logger, 'info' | 'error'>;

/**
 * A stop signal repeated within this long of the first is the same stop delivered twice, not an operator's
 * second one: systemd (KillMode=control-group) or a terminal signals the whole process group, and a wrapper
 * in it (npm, tsx) passes the signal on to its child as well.
 */
export const SAME_STOP_MS = 1_000;

/** Tells a second stop signal (stop at once) from the first one, or the first one delivered again. */
export class StopSignals {
  private firstAt: number | undefined;

  /** True when a signal now asks to stop at once: an earlier one came SAME_STOP_MS or more before. */
  again(nowMs: number = Date.now()): boolean {
    if (this.firstAt === undefined) {
      this.firstAt = nowMs;
      return false;
    }
    return nowMs - this.firstAt >= SAME_STOP_MS;
  }
}

/**
 * SIGTERM / SIGINT: finish in-flight requests, flush, close, exit 0 (1 if closing failed).
 * A second signal (see StopSignals), or closing taking far longer than the grace period, exits at once.
 */
export function exitOnSignals(
  close: () => Promise<void>,
  opts: {
    log: ShutdownLog;
    graceMs: number;
    exit?: (code: number) => void;
    signals?: NodeJS.Signals[];
    /**
     * Hands over a way to start the same shutdown without a signal (a cluster worker asked by its primary). Such a
     * request while already shutting down changes nothing: it is never the "second signal" that exits at once.
     */
    requests?: (shutDown: (reason: string) => void) => void;
  },
): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const seen = new StopSignals();
  const onSignal = (signal: NodeJS.Signals) => {
    // A stop the primary asked for over IPC is no signal: the group's SIGTERM that follows it is the first.
    if (seen.again()) {
      opts.log.error({ signal }, 'second signal while shutting down; exiting now');
      exit(1);
      return;
    }
    shutDown(signal);
  };
  const shutDown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    opts.log.info({ signal }, 'shutting down: finishing in-flight requests, flushing state');
    const hard = setTimeout(
      () => {
        opts.log.error({ signal, afterMs: opts.graceMs * 2 + 5_000 }, 'shutdown did not finish in time; exiting');
        exit(1);
      },
      opts.graceMs * 2 + 5_000,
    );
    hard.unref();
    close().then(
      () => {
        clearTimeout(hard);
        opts.log.info({}, 'shut down cleanly');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(hard);
        opts.log.error({ err: (err as Error)?.message ?? String(err) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  opts.requests?.(shutDown);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}

/** Where keepRawTarget leaves a target the adapter would not take as sent. */
const RAW_TARGET = Symbol('mirrorgate.rawTarget');
type WithRawTarget = IncomingMessage & { [RAW_TARGET]?: string };

/**
 * @hono/node-server refuses a raw backslash in the path with a bare 400 before any route runs; the app's
 * own checks answer it (a 400 with its reason, an HTML page for browsers). So the adapter is handed the
 * backslash escaped, and the app reads the target as it was sent.
 */
function keepRawTarget(req: IncomingMessage): void {
  const url = req.url;
  if (url === undefined) return;
  const backslash = url.indexOf('\\');
  if (backslash < 0) return;
  const q = url.indexOf('?');
  if (q >= 0 && q < backslash) return;
  (req as WithRawTarget)[RAW_TARGET] = url;
  req.url = q < 0 ? url.replaceAll('\\', '%5C') : url.slice(0, q).replaceAll('\\', '%5C') + url.slice(q);
}

/**
 * HTTP/1.0 has no Host header (node:http refuses an HTTP/1.1 request without one, RFC 9112 §3.2), and
 * @hono/node-server answers a request without Host a bare 400 unless the server was bound to a named
 * host. The fast path's 302 never reads Host, so the app is handed our public host for it, and answers alike.
 */
function hostForHttp10(req: IncomingMessage, services: AppServices): void {
  // Read per request: a loopback publicUrl learns its port only once listening. Rare (HTTP/1.0 without Host).
  if (req.headers.host === undefined) req.headers.host = new URL(services.publicUrl).host;
}

/** RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400, and the connection is not trusted further. */
function refuseWithoutHost(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.writeHead(400, { 'content-type': 'text/plain; charset=UTF-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
  res.end('Error: an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)\n');
}

function rawTargetOf(incoming: IncomingMessage): string | undefined {
  const raw = (incoming as WithRawTarget)[RAW_TARGET] ?? incoming.url;
  return raw === undefined ? undefined : originForm(raw);
}

/** The transport facts of a request served by @hono/node-server. */
export function nodeConnection(c: Context): Connection {
  const env = c.env as Partial<HttpBindings> | undefined;
  const incoming = env?.incoming;
  const socket = incoming?.socket as (HttpBindings['incoming']['socket'] & { encrypted?: boolean }) | undefined;
  return {
    peer: socket?.remoteAddress ?? '0.0.0.0',
    https: socket?.encrypted === true,
    rawTarget: incoming === undefined ? undefined : rawTargetOf(incoming),
  };
}

/**
 * node:http's createServer with the plain-302 fast path in front of the Hono listener. A fault in
 * the fast path is logged and the request handed to the app, which answers it the ordinary way.
 */
function withRedirectFastPath(services: AppServices, log: LogLike, enabled: boolean, app: RequestListener): typeof createServer {
  const redirect = enabled ? fastRedirect(services) : () => false;
  // The adapter's own listener is set aside for `app`: the same adapter, with our answer to what it refuses.
  return ((options: ServerOptions) =>
    createServer(options, (req, res) => {
      if (req.headers.host === undefined && (req.httpVersionMajor > 1 || req.httpVersionMinor >= 1)) return void refuseWithoutHost(res);
      try {
        if (redirect(req, res)) return;
      } catch (err) {
        log.error({ err, path: req.url }, 'redirect fast path failed; answering through the app');
        if (res.headersSent) return void res.destroy();
      }
      keepLinkFieldsApart(res);
      keepRawTarget(req);
      hostForHttp10(req, services);
      app(req, res);
    })) as typeof createServer;
}

/**
 * What @hono/node-server answers itself, before the app: a request it cannot make a URL of (a Host
 * that is no host name, RFC 9112 §3.2) is a 400 that says why, where the adapter sends an empty one;
 * a failure after that, its own 500 (504 for a timeout).
 */
export function refusedByAdapter(err: unknown): Response {
  const status = err instanceof RequestError ? 400 : err instanceof Error && err.name === 'TimeoutError' ? 504 : 500;
  const why = err instanceof RequestError ? `${err.message} (made of the Host header and the request target)` : 'internal error';
  return new Response(`Error: ${why}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  });
}

export interface Listening {
  url: string;
  port: number;
  /** In-flight requests finish (or are cut after the grace period). */
  close(): Promise<void>;
}

/** Serves the app (and the fast path) on a port; resolves once listening. */
export async function listen(
  app: Hono<AppEnv>,
  services: AppServices,
  opts: { port: number; hostname?: string; timeouts: ServerTimeouts; fastPath: boolean },
): Promise<Listening> {
  // A failed bind (a taken or privileged port) rejects, for the caller to say in one line.
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve, reject) => {
    const s = serveNode(
      {
        fetch: app.fetch,
        port: opts.port,
        hostname: opts.hostname,
        serverOptions: nodeServerOptions(opts.timeouts),
        createServer: withRedirectFastPath(
          services,
          services.logger,
          opts.fastPath,
          getRequestListener(app.fetch, { hostname: opts.hostname, errorHandler: refusedByAdapter }),
        ),
      },
      () => {
        s.off('error', reject);
        resolve(s);
      },
    );
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`,
    port: address.port,
    close: () => closeServer(server as Parameters<typeof closeServer>[0], opts.timeouts.shutdownGraceMs),
  };
}
