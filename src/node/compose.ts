// Node only: builds every service of one instance from its config — store, snapshot builder, control plane,
// admin, stats, GeoIP, logos — and the app, without listening. src/node.ts listens; tests and tools may not.
import cluster from 'node:cluster';
import type { Hono } from 'hono';
import type pino from 'pino';
import type { Config } from '../config/load.js';
import { AdminService } from '../control/adminService.js';
import { ControlPlane } from '../control/controlPlane.js';
import { sharedHitCounter } from '../control/hitCounter.js';
import { loadLogos } from '../control/logos.js';
import { formatManifestProblem, readMirrorManifest } from '../control/manifest.js';
import { Metrics } from '../control/metrics.js';
import { loadOriginIndex } from '../control/origin.js';
import { OriginArrivals } from '../control/originArrivals.js';
import { SnapshotBuilder } from '../control/snapshotBuilder.js';
import { StatsRecorder } from '../control/statsRecorder.js';
import type { InventoryEntry, MirrorSpec } from '../core/model.js';
import { createTrustedProxies } from '../geo/clientAddress.js';
import { openLocator } from '../geo/maxmindLocator.js';
import { createApp } from '../http/app.js';
import { registerDownloadRoutes } from '../http/download/route.js';
import { edgePlaceOf } from '../http/edgePlace.js';
import { registerPublicRoutes } from '../http/public.js';
import { registerStaffRoutes } from '../http/staff.js';
import type { AppEnv, AppServices } from '../http/services.js';
import { prepareDataDir } from '../store/memoryStore.js';
import { openStore } from '../store/openStore.js';
import type { Store } from '../store/store.js';
import { clusterMetrics } from './cluster.js';
import { nodeLogger, redirectSample } from './logging.js';
import { nodeConnection } from './server.js';

export interface ComposeOptions {
  env: Record<string, string | undefined>;
  logLevel?: string;
  /** The port clients reach us on, as far as known before listening (a loopback publicUrl follows it). */
  port: number;
  /** The store to use instead of opening one (a cluster worker's IpcStore). */
  store?: Store;
}

/** One instance, built and running its control loops, not yet listening. */
export interface Composition {
  config: Config;
  services: AppServices;
  app: Hono<AppEnv>;
  builder: SnapshotBuilder;
  store: Store;
  control: ControlPlane;
  stats: StatsRecorder;
  logger: pino.Logger;
  /** Once listening: a loopback publicUrl names the port really listened on. */
  listeningOn(port: number): void;
  /** Stops the control loops (the origin refresh among them), flushes stats, closes the store (after the server closed). */
  close(): Promise<void>;
}

export function mirrorSpecs(config: Config): MirrorSpec[] {
  return config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
}

/** A loopback publicUrl (the demo's http://localhost:8080) with the port we listen on; any other as configured. */
export function withListeningPort(publicUrl: string, port: number): string {
  const url = new URL(publicUrl);
  if (!['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || port === 0) return publicUrl;
  url.port = String(port);
  return url.href.replace(/\/+$/, '');
}

export async function compose(config: Config, opts: ComposeOptions): Promise<Composition> {
  const { env } = opts;
  // A cluster worker names itself in every line, so operators can tell the workers' logs apart; close() flushes.
  const base = { service: 'mirrorgate', ...(cluster.isWorker && cluster.worker ? { worker: cluster.worker.id } : {}) };
  const logger = nodeLogger(opts.logLevel ?? env.LOG_LEVEL ?? 'info', base, undefined, { redirectSample: redirectSample(env) });
  await prepareDataDir(config.dataDir);
  // The store first: in memory mode it locks dataDir, and a second instance on it must stop before doing anything.
  const store = opts.store ?? (await openStore({ store: env.REDIS_URL || config.store, dataDir: config.dataDir, log: logger }));
  try {
    return await composeOn(store, config, opts, logger);
  } catch (err) {
    // What this call opened it closes (the dataDir lock with it); a store handed in stays its owner's.
    if (!opts.store) await store.close().catch(() => undefined);
    throw err;
  }
}

async function composeOn(store: Store, config: Config, opts: ComposeOptions, logger: pino.Logger): Promise<Composition> {
  // With the arrivals the store remembers: a file changed before a restart is not vouched for by its mtime alone.
  const files = await new OriginArrivals(store, logger).atStart(await loadOriginIndex(config.origin, config.dataDir, logger));
  const mirrors = mirrorSpecs(config);
  const builder = new SnapshotBuilder({
    mirrors,
    files,
    originBaseUrl: config.origin.baseUrl,
    routing: {
      bandKm: config.routing.bandKm,
      maxAlternatives: config.routing.maxAlternatives,
      maxLagSeconds: config.health.maxLagMs / 1000,
      siteRoutes: config.routes,
    },
    consistency: config.consistencyGroups,
  });
  const metrics = new Metrics(() => builder.current(), store);
  const control = new ControlPlane({
    config,
    onProbe: (mirror, ok) => metrics.observeProbe(mirror, ok),
    configMirrors: mirrors,
    configInventories: await readConfigInventories(mirrors, logger),
    store,
    builder,
    log: logger,
  });
  await control.start();
  const admin = new AdminService(store, control, builder, new Set(mirrors.map((m) => m.id)));
  const stats = new StatsRecorder({ store, log: logger });
  const locator = await openLocator({ ...config.geoip, log: logger });
  const logos = await loadLogos(mirrors, logger);

  // A loopback publicUrl can only mean this machine: links name the port we really listen on.
  let publicUrl = withListeningPort(config.publicUrl, opts.port);
  const services: AppServices = {
    get publicUrl() {
      return publicUrl;
    },
    snapshot: () => builder.current(),
    locator,
    // A request an edge passed on (a folder list, a miss) is ranked for the place Cloudflare gave it.
    requestPlace: edgePlaceOf,
    geoInfo: () => locator.info(),
    trustedProxies: createTrustedProxies(config.trustedProxies),
    connection: nodeConnection,
    logo: (id) => (control.showsLogo(id) ? (control.logo(id) ?? logos.get(id)) : undefined),
    tokens: config.tokens,
    rateLimits: config.limits,
    countHit: sharedHitCounter(store),
    metricsAccess: config.metrics, // guards.ts: per-network limits, who reads /metrics
    logger,
    clock: Date.now,
    admin,
    originLook: (path) => control.lookForOriginFile(path),
    events: {
      download: (e) => stats.download(e),
      impression: (mirror, atMs, who) => stats.impression(mirror, atMs, who),
      decided: (seconds, outcome, mirror) => metrics.observeDecision(seconds, outcome, mirror),
    },
    // In a cluster worker, /metrics shows the whole cluster.
    metrics: { render: clusterMetrics(metrics.registry) ?? (() => metrics.render()), contentType: metrics.contentType },
    readiness: () => {
      const s = store.status();
      return { ready: s.available, detail: { store: store.kind, storeAvailable: s.available, ...(s.detail ? { storeDetail: s.detail } : {}) } };
    },
  };
  const app = createApp(services, [registerDownloadRoutes, registerPublicRoutes, registerStaffRoutes]);
  logger.debug({ files: files.count, mirrors: mirrors.length }, 'services composed');

  return {
    config,
    services,
    app,
    builder,
    store,
    control,
    stats,
    logger,
    listeningOn: (port) => {
      publicUrl = withListeningPort(config.publicUrl, port);
    },
    close: async () => {
      locator.close();
      await control.stop();
      await stats.close();
      await store.close();
      logger.flush();
    },
  };
}

/** Reads each mirror's configured manifest; a bad line is logged and skipped, an unreadable file falls back to rules. */
async function readConfigInventories(mirrors: MirrorSpec[], log: pino.Logger): Promise<Map<string, InventoryEntry[]>> {
  const out = new Map<string, InventoryEntry[]>();
  for (const m of mirrors) {
    // An http(s) manifest is fetched by scans, not read at start.
    if (!m.content.manifest || /^https?:\/\//i.test(m.content.manifest)) continue;
    try {
      const { files, problems } = await readMirrorManifest(m.content.manifest);
      for (const p of problems) log.warn({ mirror: m.id, problem: formatManifestProblem(p) }, 'mirror manifest line skipped');
      out.set(m.id, files);
    } catch (err) {
      log.error({ mirror: m.id, err: (err as Error).message }, 'mirror manifest unreadable; using its include/exclude rules');
    }
  }
  return out;
}
