// The Worker's request path: createApp wired for Cloudflare (request.cf geography, CF-Connecting-IP, snapshot from the control plane).
import type { Context, Hono } from 'hono';
import { placeFromCf, placelessLocator } from '../geo/cfLocator.js';
import { createTrustedProxies } from '../geo/clientAddress.js';
import { controlPlaneElsewhere, createApp } from '../http/app.js';
import { registerDownloadRoutes } from '../http/download/route.js';
import { registerPublicRoutes } from '../http/public.js';

/** What the edge serves: downloads and public pages; staff routes live on the control plane. */
const EDGE_AUDIENCES = [registerDownloadRoutes, registerPublicRoutes, controlPlaneElsewhere];
import type { Snapshot } from '../core/snapshot.js';
import type { AccessToken, AppEnv, AppServices, Connection, LogLike } from '../http/services.js';
import { parseEdgeEnv, type EdgeConfig } from './config.js';
import { consoleLog } from './consoleLog.js';
import { LogoCache } from './logoCache.js';
import { requestFilePaths } from './requestFiles.js';
import type { WorkerContext, WorkerEnv, WorkerRequest } from './runtime.js';
import { ShardedSnapshotSource } from './shardedSource.js';
import { SnapshotSource } from './snapshotSource.js';

/** Seconds a client is told to wait while an isolate has no snapshot (or no shard for the file) yet. */
const NO_SNAPSHOT_RETRY_SECONDS = 5;

export interface EdgeOptions {
  fetch?: typeof fetch;
  clock?: () => number;
  log?: LogLike;
}

export interface Edge {
  fetch(request: WorkerRequest, ctx: WorkerContext): Promise<Response>;
  /** The whole-snapshot source (SNAPSHOT_MODE single, or auto against a source without a core). */
  readonly source: SnapshotSource | undefined;
  /** The core + file shards source (SNAPSHOT_MODE sharded, or auto against a source with a core). */
  readonly sharded: ShardedSnapshotSource | undefined;
  /** Which of the two answers requests; undefined while auto has not loaded a first snapshot. */
  mode(): 'single' | 'sharded' | undefined;
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
      sharded: undefined,
      mode: () => undefined,
      fetch: async () => new Response('Error: this Worker is misconfigured; see its logs\n', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
    };
  }
  const config = parsed.config;
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? consoleLog(config.logLevel);
  const common = { controlUrl: config.controlUrl, token: config.snapshotToken, kv: config.kv, ttlMs: config.ttlMs, fetch: opts.fetch, clock, log };
  const source = config.snapshotMode === 'sharded' ? undefined : new SnapshotSource(common);
  const sharded = config.snapshotMode === 'single' ? undefined : new ShardedSnapshotSource({ ...common, cacheBytes: config.shardCacheBytes });
  let mode: 'single' | 'sharded' | undefined = config.snapshotMode === 'auto' ? undefined : config.snapshotMode;
  const logos = new LogoCache({ controlUrl: config.controlUrl, fetch: opts.fetch, clock, log });
  let app: Hono<AppEnv> | undefined;

  /** The mode answering this request once its first snapshot is loaded (auto: sharded when the source has a core). */
  const ready = async (background: (p: Promise<unknown>) => void): Promise<'single' | 'sharded' | undefined> => {
    if (mode === 'single') return (await source!.ensure(background)) ? mode : undefined;
    if (mode === 'sharded') return (await sharded!.ensure(background)) ? mode : undefined;
    if (await sharded!.ensure(background)) return (mode = 'sharded');
    // Only an answer "no core here" (an older control plane, KV with just "snapshot") falls back to a whole snapshot.
    if (!sharded!.noCore) return undefined;
    return (await source!.ensure(background)) ? (mode = 'single') : undefined;
  };

  // Sharded mode: the snapshot the app reads (services.snapshot() is synchronous) is pinned per request,
  // to the composed snapshot of the shard holding the request's file, or the core alone. An isolate
  // serves requests concurrently, so pinning and dispatch run one request at a time: the app does no
  // I/O on GET/HEAD at the edge (logos are fetched before), so each turn is short.
  let pinned: Snapshot | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  const dispatchPinned = (snapshot: Snapshot, run: () => Response | Promise<Response>): Promise<Response> => {
    const mine = turn.then(async () => {
      pinned = snapshot;
      try {
        return await run();
      } finally {
        pinned = undefined;
      }
    });
    turn = mine.catch(() => undefined);
    return mine;
  };
  const current = (): Snapshot | undefined => pinned ?? (mode === 'sharded' ? sharded!.current() : source?.current());

  return {
    source,
    sharded,
    mode: () => mode,
    async fetch(request, ctx) {
      const url = new URL(request.url);
      // The app is built on the first request: its rate limiters start timers, which Workers allow only inside a request.
      app ??= createApp(edgeServices(config, url.origin, current, () => (mode === 'sharded' ? shardedReadiness(sharded!) : singleReadiness(source)), logos, clock, log), EDGE_AUDIENCES);
      if (url.pathname === '/healthz') return app.fetch(request, env, ctx);

      const background = (p: Promise<unknown>) => ctx.waitUntil(p);
      const active = await ready(background);
      const base = active === 'sharded' ? sharded!.current() : active === 'single' ? source!.current() : undefined;
      if (!base) return unavailable('this edge has no routing snapshot yet');

      let snapshot = base;
      if (active === 'sharded') {
        const paths = requestFilePaths(request.method, url.pathname, targetOf(request.url));
        if (paths.length) {
          const forFile = await sharded!.forPaths(paths, background);
          if (!forFile) return unavailable('this edge could not load the routing data for this file yet');
          snapshot = forFile;
        }
      }
      const logo = /^\/logos\/([^/]+)$/.exec(url.pathname);
      if (logo && (request.method === 'GET' || request.method === 'HEAD')) {
        const id = safeDecode(logo[1]!);
        if (id !== undefined) await logos.prepare(base, id);
      }
      if (active === 'sharded' && (request.method === 'GET' || request.method === 'HEAD')) {
        return dispatchPinned(snapshot, () => app!.fetch(request, env, ctx));
      }
      // Other methods (offers, /admin: 503 here) may read a body, so they never hold the turn; they need no file.
      return app.fetch(request, env, ctx);
    },
  };
}

function unavailable(message: string): Response {
  return new Response(`Error: ${message}; try again shortly\n`, {
    status: 503,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(NO_SNAPSHOT_RETRY_SECONDS), 'Cache-Control': 'no-store' },
  });
}

interface SourceReadiness {
  checkedAtMs: number | undefined;
  detail: Record<string, unknown>;
}

function singleReadiness(source: SnapshotSource | undefined): SourceReadiness {
  const s = source?.status();
  return {
    checkedAtMs: s?.checkedAtMs,
    detail: { snapshotSource: s?.source ?? 'none', ...(s?.lastError ? { snapshotLastError: s.lastError } : {}) },
  };
}

function shardedReadiness(sharded: ShardedSnapshotSource): SourceReadiness {
  const s = sharded.status();
  return {
    checkedAtMs: s.checkedAtMs,
    detail: {
      snapshotSource: s.source,
      snapshotMode: 'sharded',
      // The app counts the files of the snapshot it is handed, here the core's (none): say how many there are.
      files: s.files ?? 0,
      snapshotShards: s.shards ?? 0,
      snapshotShardsCached: s.shardsCached,
      snapshotShardCacheMiB: Math.round((s.shardCacheBytes / 1024 / 1024) * 10) / 10,
      ...(s.lastError ? { snapshotLastError: s.lastError } : {}),
    },
  };
}

function edgeServices(
  config: EdgeConfig,
  origin: string,
  current: () => Snapshot | undefined,
  readinessOf: () => SourceReadiness,
  logos: LogoCache,
  clock: () => number,
  log: LogLike,
): AppServices {
  const tokens: AccessToken[] = config.staffToken ? [{ token: config.staffToken, role: 'staff', name: 'edge-staff', mirrors: [] }] : [];
  const snapshot = () => {
    const s = current();
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
      const r = readinessOf();
      const checkedAgeMs = r.checkedAtMs === undefined ? undefined : clock() - r.checkedAtMs;
      // Still answering from the last snapshot, but say so once it is far behind its TTL.
      const ready = checkedAgeMs !== undefined && checkedAgeMs <= Math.max(60_000, 10 * config.ttlMs);
      return {
        ready,
        detail: {
          runtime: 'workers',
          snapshotCheckedAgeSeconds: checkedAgeMs === undefined ? null : Math.round(checkedAgeMs / 1000),
          snapshotTtlSeconds: config.ttlMs / 1000,
          ...r.detail,
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
