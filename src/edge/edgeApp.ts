// The Worker's request path: createApp wired for Cloudflare (request.cf geography, CF-Connecting-IP, snapshot from the control plane).
import type { Context, Hono } from 'hono';
import { placeFromCf, placelessLocator } from '../geo/cfLocator.js';
import { createTrustedProxies } from '../geo/clientAddress.js';
import { createApp } from '../http/app.js';
import type { AccessToken, AppEnv, AppServices, Connection, LogLike } from '../http/services.js';
import { parseEdgeEnv, type EdgeConfig } from './config.js';
import { consoleLog } from './consoleLog.js';
import { LogoCache } from './logoCache.js';
import type { WorkerContext, WorkerEnv, WorkerRequest } from './runtime.js';
import { SnapshotSource } from './snapshotSource.js';

/** Seconds a client is told to wait while an isolate has no snapshot yet. */
const NO_SNAPSHOT_RETRY_SECONDS = 5;

export interface EdgeOptions {
  fetch?: typeof fetch;
  clock?: () => number;
  log?: LogLike;
}

export interface Edge {
  fetch(request: WorkerRequest, ctx: WorkerContext): Promise<Response>;
  readonly source: SnapshotSource | undefined;
}

/**
 * Cloudflare is the only proxy: the client is CF-Connecting-IP, so no X-Forwarded-For is
 * trusted, and the scheme is the request URL's.
 */
export function edgeConnection(c: Context): Connection {
  const url = c.req.url;
  return {
    peer: c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? '0.0.0.0',
    https: url.startsWith('https:'),
    rawTarget: targetOf(url),
  };
}

/**
 * request.url is a string that keeps the target as the runtime received it (workerd leaves
 * "..", "%2e%2e" and backslashes in place; Cloudflare's zone URL normalisation may already have
 * resolved them), so the app's traversal checks run on what the Worker was sent.
 */
export function targetOf(url: string): string {
  const at = url.indexOf('/', url.indexOf('://') + 3);
  return at < 0 ? '/' : url.slice(at);
}

export function createEdge(env: WorkerEnv, opts: EdgeOptions = {}): Edge {
  const parsed = parseEdgeEnv(env);
  if (!parsed.ok) {
    const log = opts.log ?? consoleLog('error');
    log.error({ problems: parsed.problems }, 'mirrorgate edge: invalid Worker configuration');
    // Details stay in the log: they name bindings a public caller has no business seeing.
    return {
      source: undefined,
      fetch: async () => new Response('Error: this Worker is misconfigured; see its logs\n', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
    };
  }
  const config = parsed.config;
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? consoleLog(config.logLevel);
  const source = new SnapshotSource({ controlUrl: config.controlUrl, token: config.snapshotToken, kv: config.kv, ttlMs: config.ttlMs, fetch: opts.fetch, clock, log });
  const logos = new LogoCache({ controlUrl: config.controlUrl, fetch: opts.fetch, clock, log });
  let app: Hono<AppEnv> | undefined;

  return {
    source,
    async fetch(request, ctx) {
      const url = new URL(request.url);
      // The app is built on the first request: its rate limiters start timers, which Workers allow only inside a request.
      app ??= createApp(edgeServices(config, url.origin, source, logos, clock, log));
      if (url.pathname === '/healthz') return app.fetch(request, env, ctx);

      const snapshot = await source.ensure((p) => ctx.waitUntil(p));
      if (!snapshot) {
        return new Response('Error: this edge has no routing snapshot yet; try again shortly\n', {
          status: 503,
          headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(NO_SNAPSHOT_RETRY_SECONDS), 'Cache-Control': 'no-store' },
        });
      }
      const logo = /^\/logos\/([^/]+)$/.exec(url.pathname);
      if (logo && (request.method === 'GET' || request.method === 'HEAD')) {
        const id = safeDecode(logo[1]!);
        if (id !== undefined) await logos.prepare(snapshot, id);
      }
      return app.fetch(request, env, ctx);
    },
  };
}

function edgeServices(config: EdgeConfig, origin: string, source: SnapshotSource, logos: LogoCache, clock: () => number, log: LogLike): AppServices {
  const tokens: AccessToken[] = config.staffToken ? [{ token: config.staffToken, role: 'staff', name: 'edge-staff', mirrors: [] }] : [];
  const snapshot = () => {
    const s = source.current();
    // createEdge answers 503 before the first snapshot, so the app never runs without one.
    if (!s) throw new Error('no routing snapshot loaded');
    return s;
  };
  return {
    publicUrl: config.publicUrl ?? origin,
    snapshot,
    locator: placelessLocator,
    requestPlace: (c) => placeFromCf((c.req.raw as WorkerRequest).cf),
    trustedProxies: createTrustedProxies([]),
    connection: edgeConnection,
    logo: (id) => logos.logo(snapshot(), id),
    tokens,
    logger: log,
    clock,
    readiness: () => {
      const s = source.status();
      const checkedAgeMs = s.checkedAtMs === undefined ? undefined : clock() - s.checkedAtMs;
      // Still answering from the last snapshot, but say so once it is far behind its TTL.
      const ready = checkedAgeMs !== undefined && checkedAgeMs <= Math.max(60_000, 10 * config.ttlMs);
      return {
        ready,
        detail: {
          runtime: 'workers',
          snapshotSource: s.source,
          snapshotCheckedAgeSeconds: checkedAgeMs === undefined ? null : Math.round(checkedAgeMs / 1000),
          snapshotTtlSeconds: config.ttlMs / 1000,
          ...(s.lastError ? { snapshotLastError: s.lastError } : {}),
        },
      };
    },
  };
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
