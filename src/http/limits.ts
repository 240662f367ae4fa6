// Limits on what one request may cost us (URL and body size, how slowly it may arrive) and an orderly shutdown.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/** Largest request body we read (admin and offer bodies are a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Longest request target (path and query) we look at. Our own longest links are a 3 KB encoded
 * path plus a short query; Node refuses a request line and headers over 16 KB itself (431).
 */
export const MAX_URL_BYTES = 8 * 1024;

/** Node's defaults leave a slow client minutes (headers) or forever (Node < 18) to trickle a request in. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long close() lets in-flight requests run before it cuts their connections. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** 414 for an overlong target, 413 for an overlong body: refused before any handler reads them. */
export function requestLimits(opts: { maxBodyBytes?: number; maxUrlBytes?: number } = {}): MiddlewareHandler {
  const maxUrl = opts.maxUrlBytes ?? MAX_URL_BYTES;
  const limitBody = bodyLimit({
    maxSize: opts.maxBodyBytes ?? MAX_BODY_BYTES,
    onError: (c) => tooLarge(c, 413, `the request body is larger than ${Math.round((opts.maxBodyBytes ?? MAX_BODY_BYTES) / 1024)} KB`),
  });
  return async (c, next) => {
    const url = c.req.url;
    // The target is what follows the origin; the scheme and host are ours (or the Host header's).
    const at = url.indexOf('/', url.indexOf('//') + 2);
    const targetLength = at < 0 ? 0 : url.length - at;
    if (targetLength > maxUrl) return tooLarge(c, 414, `the request URL is longer than ${Math.round(maxUrl / 1024)} KB`);
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return limitBody(c, next);
  };
}

function tooLarge(c: Context, status: 413 | 414, message: string): Response {
  const wantsJson = (c.req.header('accept') ?? '').includes('application/json') || c.req.path.startsWith('/api/') || c.req.path.startsWith('/admin/');
  c.header('Connection', 'close');
  return wantsJson ? c.json({ error: message }, status) : c.text(`Error: ${message}\n`, status);
}

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

export interface ShutdownLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * SIGTERM / SIGINT: finish in-flight requests, flush, close, exit 0 (1 if closing failed).
 * A second signal, or closing taking far longer than the grace period, exits at once.
 */
export function exitOnSignals(
  close: () => Promise<void>,
  opts: { log: ShutdownLog; graceMs: number; exit?: (code: number) => void; signals?: NodeJS.Signals[] },
): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.log.error({ signal }, 'second signal while shutting down; exiting now');
      exit(1);
      return;
    }
    stopping = true;
    opts.log.info({ signal }, 'shutting down: finishing in-flight requests, flushing state');
    const hard = setTimeout(() => {
      opts.log.error({ signal, afterMs: opts.graceMs * 2 + 5_000 }, 'shutdown did not finish in time; exiting');
      exit(1);
    }, opts.graceMs * 2 + 5_000);
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
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
