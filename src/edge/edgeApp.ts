// The Worker's request path: createApp wired for Cloudflare (request.cf geography, CF-Connecting-IP, snapshot from the control plane), and the control plane's own paths passed through.
import type { Context, Hono } from 'hono';
import { placeFromCf, placelessLocator } from '../geo/cfLocator.js';
import { createTrustedProxies } from '../geo/clientAddress.js';
import { badTargetReason, controlPlaneElsewhere, createApp } from '../http/app.js';
import { registerDownloadRoutes } from '../http/download/route.js';
import { registerPublicRoutes } from '../http/public.js';
import { HitWindows } from '../core/hitWindows.js';
import type { Snapshot } from '../core/snapshot.js';
import type { AccessToken, AppEnv, AppServices, Connection, LogLike } from '../http/services.js';
import { originForm, routedPath } from '../http/target.js';
import { parseEdgeEnv, type EdgeConfig } from './config.js';
import { consoleLog } from './consoleLog.js';
import { DownloadCounter } from './downloadCounter.js';
import { type ForwardOptions, forwardToControlPlane, isControlPlanePath, isFolderRequest, isListOfFolder, tryForwardToControlPlane } from './forward.js';
import type { FreshnessStatus } from './freshness.js';
import { LogoCache } from './logoCache.js';
import { requestFilePaths } from './requestFiles.js';
import type { CacheLike, WorkerContext, WorkerEnv, WorkerRequest } from './runtime.js';
import { ShardedSnapshotSource } from './shardedSource.js';
import { SnapshotSource } from './snapshotSource.js';

/** What the edge serves: downloads and public pages; staff routes live on the control plane (see forward.ts). */
const EDGE_AUDIENCES = [registerDownloadRoutes, registerPublicRoutes, controlPlaneElsewhere];

/** Seconds a client is told to wait while an isolate has no snapshot (or no shard for the file) yet. */
const NO_SNAPSHOT_RETRY_SECONDS = 5;
/** Downloads of files its snapshot lacks an isolate passes to the control plane a second, at most. */
const MISSES_FORWARDED = 50;
/** How long such a download waits for the control plane's answer before the edge answers from its own snapshot (404). */
const MISS_FORWARD_TIMEOUT_MS = 5_000;

export interface EdgeOptions {
  fetch?: typeof fetch;
  clock?: () => number;
  log?: LogLike;
  /** The location's shared cache; default the Workers Cache API's caches.default where the runtime has one. */
  sharedCache?: CacheLike;
}

export interface Edge {
  fetch(request: WorkerRequest, ctx: WorkerContext): Promise<Response>;
  /** The whole-snapshot source (SNAPSHOT_MODE single, or auto against a source without a core). */
  readonly source: SnapshotSource | undefined;
  /** The core + file shards source (SNAPSHOT_MODE sharded, or auto against a source with a core). */
  readonly sharded: ShardedSnapshotSource | undefined;
  /** Which of the two answers requests; undefined while auto has not loaded a first snapshot. */
  mode(): 'single' | 'sharded' | undefined;
  /** Downloads answered here, on their way to the control plane. */
  readonly counter: DownloadCounter | undefined;
}

/**
 * Cloudflare is the only proxy: the client is CF-Connecting-IP, which Cloudflare sets on every
 * request. Neither X-Forwarded-For nor X-Real-IP is trusted (a client can send either), and the
 * scheme is the request URL's.
 */
export function edgeConnection(c: Context): Connection {
  // request.url keeps the target as the runtime received it (workerd leaves "..", "%2e%2e" and backslashes in
  // place; Cloudflare's zone URL normalisation may already have resolved them), so the app's traversal
  // checks run on what the Worker was sent.
  return { peer: clientIpOf(c.req.raw), https: c.req.url.startsWith('https:'), rawTarget: originForm(c.req.url) };
}

function clientIpOf(request: Request): string {
  return request.headers.get('cf-connecting-ip') ?? '0.0.0.0';
}

/** The Workers Cache API's caches.default, where the runtime has one (workerd does; Node does not). */
function workersCache(): CacheLike | undefined {
  return (globalThis as { caches?: { default?: CacheLike } }).caches?.default;
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
      counter: undefined,
      mode: () => undefined,
      fetch: async () =>
        new Response('Error: this Worker is misconfigured; see its logs\n', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
    };
  }
  const config = parsed.config;
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? consoleLog(config.logLevel);
  /** The Worker's own origin: shared-cache keys live under it (a zone's Cache API holds its own hostnames' URLs). */
  let origin: string | undefined;
  const keyBase = () => config.publicUrl ?? origin ?? 'https://mirrorgate.invalid';
  const sharedCache = config.shardSharedCache ? (opts.sharedCache ?? workersCache()) : undefined;
  const common = {
    controlUrl: config.controlUrl,
    token: config.snapshotToken,
    kv: config.kv,
    ttlMs: config.ttlMs,
    waitMs: config.waitMs,
    fetch: opts.fetch,
    clock,
    log,
  };
  const source = config.snapshotMode === 'sharded' ? undefined : new SnapshotSource(common);
  const sharded =
    config.snapshotMode === 'single'
      ? undefined
      : new ShardedSnapshotSource({ ...common, cacheBytes: config.shardCacheBytes, sharedCache, sharedCacheKeyBase: keyBase });
  let mode: 'single' | 'sharded' | undefined = config.snapshotMode === 'auto' ? undefined : config.snapshotMode;
  const logos = new LogoCache({
    controlUrl: config.controlUrl,
    kv: config.kv,
    sharedCache: opts.sharedCache ?? workersCache(),
    sharedCacheKeyBase: keyBase,
    fetch: opts.fetch,
    clock,
    log,
  });
  const counter = new DownloadCounter({
    controlUrl: config.controlUrl,
    token: config.snapshotToken,
    flushMs: config.statsFlushMs,
    dataset: config.downloadsDataset,
    fetch: opts.fetch,
    clock,
    log,
  });
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
  const readiness = (): SourceReadiness => (mode === 'sharded' ? shardedReadiness(sharded!) : singleReadiness(source));

  const misses = new HitWindows(1);
  // How a request goes to the control plane: with the client's address, and (for what it ranks mirrors for: downloads,
  // lists) its place as Cloudflare saw it, beside the edge's token. The console and staff API need no place.
  const sentOn = (request: WorkerRequest, controlUrl: string, how: { timeoutMs?: number; placed?: boolean } = {}): ForwardOptions => ({
    controlUrl,
    clientIp: clientIpOf(request),
    ...(how.placed === false ? {} : { place: placeFromCf(request.cf), token: config.snapshotToken }),
    fetch: opts.fetch,
    timeoutMs: how.timeoutMs,
  });
  const answer = async (
    request: WorkerRequest,
    url: URL,
    target: RequestTarget,
    ctx: WorkerContext,
    background: (p: Promise<unknown>) => void,
  ): Promise<Response> => {
    // Built on the first request that needs it, once per isolate: its rate limiters start timers, which
    // Workers allow only inside a request; a request passed to the control plane never pays for it.
    app ??= createApp(edgeServices(config, url.origin, current, readiness, logos, counter, clock, log), EDGE_AUDIENCES);
    if (url.pathname === '/healthz') return app.fetch(request, env, ctx);

    const active = await ready(background);
    if (!active) return unavailable('this edge has no routing snapshot yet');

    const path = routedPath(target.path);
    const toControlPlane = () => forwardToControlPlane(request, sentOn(request, config.controlUrl!));
    // A refused target (traversal, backslash, …) is the app's to answer with its 400: passed on, its URL would have lost the dot segments.
    if (active === 'sharded' && config.controlUrl && isFolderRequest(request.method, path) && !refused(target)) return toControlPlane();
    let snapshot: Snapshot | undefined;
    const paths = requestFilePaths(request.method, path, target.raw);
    if (active === 'sharded' && paths.length) {
      snapshot = await sharded!.forPaths(paths, background);
      if (!snapshot) return unavailable('this edge could not load the routing data for this file yet');
    }
    snapshot ??= active === 'sharded' ? sharded!.current()! : source!.current()!;
    const files = snapshot.files;
    if (config.controlUrl && path.startsWith('/download/') && paths.length && paths.every((p) => files.lookup(p) < 0)) {
      // Not a file: a list of it is a folder's, which the whole tree answers (a sharded edge holds some shards only).
      // Else perhaps one published since this edge's snapshot: the control plane looks at the origin (never a 404
      // for it); past the budget the edge answers 404 itself, so random paths cannot all reach the control plane.
      const list = isListOfFolder(url, request.headers.get('accept') ?? '');
      if (list) {
        if (active === 'sharded') return toControlPlane();
      } else if (misses.count('miss', 1000, 1, clock()).hits <= MISSES_FORWARDED) {
        const passed = await tryForwardToControlPlane(request, sentOn(request, config.controlUrl, { timeoutMs: MISS_FORWARD_TIMEOUT_MS }));
        // The control plane away (or failing: a 5xx, such as a proxy's in front of it): the edge's own answer from
        // the file set it holds, a 404, as it answers everything else from its last snapshot meanwhile.
        if (passed && passed.status < 500) return passed;
        await passed?.body?.cancel();
      }
    }
    const logo = /^\/logos\/([^/]+)$/.exec(url.pathname);
    if (logo && (request.method === 'GET' || request.method === 'HEAD')) {
      const id = safeDecode(logo[1]!);
      if (id !== undefined) await logos.prepare(snapshot, id, background);
    }
    if (active === 'sharded' && (request.method === 'GET' || request.method === 'HEAD')) {
      return dispatchPinned(snapshot, () => app!.fetch(request, env, ctx));
    }
    // Other methods (offers and /admin when not forwarded: 503 here) may read a body, so they never hold the turn; they need no file.
    return app.fetch(request, env, ctx);
  };

  return {
    source,
    sharded,
    counter,
    mode: () => mode,
    async fetch(request, ctx) {
      const url = new URL(request.url);
      origin ??= url.origin;
      // Routed as the app's router routes it: on the path as sent (new URL() would have removed "..", so
      // "/download/../admin/…" would look like the staff API), and never passed on when the app refuses it.
      const target = requestTargetOf(request);
      if (config.forwardControlPaths && config.controlUrl && isControlPlanePath(routedPath(target.path)) && !refused(target)) {
        return forwardToControlPlane(request, sentOn(request, config.controlUrl, { placed: false }));
      }
      const background = (p: Promise<unknown>) => ctx.waitUntil(p);
      const res = await answer(request, url, target, ctx, background);
      // Counts the app recorded while answering go to the control plane behind the response.
      counter.schedule(background);
      return res;
    },
  };
}

/** The request target as the Worker received it (origin-form, nothing normalised), and its path. */
interface RequestTarget {
  raw: string;
  path: string;
}

function requestTargetOf(request: Request): RequestTarget {
  const raw = originForm(request.url);
  const q = raw.indexOf('?');
  return { raw, path: q >= 0 ? raw.slice(0, q) : raw };
}

/** Whether the app refuses the target (a 400): asked only of a request about to be passed on, not of every download. */
function refused(target: RequestTarget): boolean {
  return badTargetReason(target.raw) !== undefined;
}

function unavailable(message: string): Response {
  return new Response(`Error: ${message}; try again shortly\n`, {
    status: 503,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(NO_SNAPSHOT_RETRY_SECONDS), 'Cache-Control': 'no-store' },
  });
}

interface SourceReadiness {
  checkedAtMs: number | undefined;
  freshness: FreshnessStatus | undefined;
  detail: Record<string, unknown>;
}

function singleReadiness(source: SnapshotSource | undefined): SourceReadiness {
  const s = source?.status();
  return {
    checkedAtMs: s?.checkedAtMs,
    freshness: s?.freshness,
    detail: { snapshotSource: s?.source ?? 'none', ...(s?.lastError ? { snapshotLastError: s.lastError } : {}) },
  };
}

function shardedReadiness(sharded: ShardedSnapshotSource): SourceReadiness {
  const s = sharded.status();
  return {
    checkedAtMs: s.checkedAtMs,
    freshness: s.freshness,
    detail: {
      snapshotSource: s.source,
      snapshotMode: 'sharded',
      // The app counts the files of the snapshot it is handed, here the core's (none): say how many there are.
      files: s.files ?? 0,
      snapshotShards: s.shards ?? 0,
      snapshotShardsCached: s.shardsCached,
      snapshotShardCacheMiB: Math.round((s.shardCacheBytes / 1024 / 1024) * 10) / 10,
      // Where the shards this isolate loaded came from, and how often a request found its shard held.
      snapshotShardHits: s.shardHits,
      snapshotShardsFromSharedCache: s.shardsFromSharedCache,
      snapshotShardsFromControlPlane: s.shardsFromControlPlane,
      snapshotShardsFromKv: s.shardsFromKv,
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
  counter: DownloadCounter,
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
    events: counter.events,
    readiness: () => {
      const r = readinessOf();
      const now = clock();
      const checkedAgeMs = r.checkedAtMs === undefined ? undefined : now - r.checkedAtMs;
      // Still answering from the last snapshot, but not ready once it is past the stale limit: monitors see it.
      const ready = checkedAgeMs !== undefined && checkedAgeMs <= config.staleLimitMs;
      const stats = counter.status();
      const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms / 100) / 10);
      return {
        ready,
        detail: {
          runtime: 'workers',
          // How old the snapshot in use is: since the check that confirmed it was sent.
          snapshotAgeSeconds: seconds(checkedAgeMs),
          snapshotCheckedAgeSeconds: checkedAgeMs === undefined ? null : Math.round(checkedAgeMs / 1000),
          snapshotTtlSeconds: config.ttlMs / 1000,
          snapshotWaitBudgetMs: config.waitMs,
          snapshotStaleLimitSeconds: config.staleLimitMs / 1000,
          // Requests answered from a snapshot older than the TTL (no refresh within the wait budget), and waits.
          snapshotStaleAnswers: r.freshness?.staleAnswers ?? 0,
          snapshotRefreshWaits: r.freshness?.waits ?? 0,
          ...(r.freshness?.lastWaitMs !== undefined ? { snapshotLastWaitMs: r.freshness.lastWaitMs } : {}),
          ...r.detail,
          downloadsQueued: stats.queued,
          downloadsPosted: stats.sent,
          downloadsDropped: stats.dropped,
          ...(stats.lastError ? { downloadsLastError: stats.lastError } : {}),
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
