// Node entry: load the config, build the services, serve the app, run the control loops.
import { mkdir } from 'node:fs/promises';
import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as serveNode, type HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import pino from 'pino';
import { ConfigError, loadConfig, resolveConfigPath, type Config } from './config/load.js';
import { AdminService } from './control/adminService.js';
import { ControlPlane } from './control/controlPlane.js';
import { loadLogos } from './control/logos.js';
import { Metrics } from './control/metrics.js';
import { StatsRecorder } from './control/statsRecorder.js';
import type { InventoryEntry } from './core/model.js';
import { openStore } from './store/openStore.js';
import type { Store } from './store/store.js';
import { formatManifestProblem, readMirrorManifest } from './control/manifest.js';
import { loadOriginIndex, watchOrigin } from './control/origin.js';
import { SnapshotBuilder } from './control/snapshotBuilder.js';
import type { MirrorSpec } from './core/model.js';
import { createTrustedProxies } from './geo/clientAddress.js';
import { openLocator } from './geo/maxmindLocator.js';
import { createApp } from './http/app.js';
import { fastRedirect } from './node/fastPath.js';
import { keepLinkFieldsApart } from './node/linkFields.js';
import { closeServer, exitOnSignals, nodeServerOptions, serverTimeouts } from './http/limits.js';
import type { AppServices, Connection } from './http/services.js';

export interface ServeOptions {
  configPath?: string;
  port?: number;
  /** Host to bind; default all interfaces. */
  hostname?: string;
  env?: Record<string, string | undefined>;
  /** Silence request logs (tests). */
  logLevel?: string;
  /** Answer plain 302s on node:http before Hono (default; env MIRRORGATE_FAST_PATH=off turns it off, for comparisons). */
  fastPath?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  config: Config;
  builder: SnapshotBuilder;
  store: Store;
  control: ControlPlane;
  stats: StatsRecorder;
  close(): Promise<void>;
}

export function mirrorSpecs(config: Config): MirrorSpec[] {
  return config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
}

/** Reads each mirror's configured manifest; a bad line is logged and skipped, an unreadable file falls back to rules. */
async function readConfigInventories(mirrors: MirrorSpec[], log: pino.Logger): Promise<Map<string, InventoryEntry[]>> {
  const out = new Map<string, InventoryEntry[]>();
  for (const m of mirrors) {
    // An http(s) manifest is fetched by scans, not read at start.
    if (!m.content.manifest || isUrl(m.content.manifest)) continue;
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

/** A loopback publicUrl (the demo's http://localhost:8080) with the port we listen on; any other as configured. */
export function withListeningPort(publicUrl: string, port: number): string {
  const url = new URL(publicUrl);
  if (!['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || port === 0) return publicUrl;
  url.port = String(port);
  return url.href.replace(/\/+$/, '');
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function nodeConnection(c: Context): Connection {
  const env = c.env as Partial<HttpBindings> | undefined;
  const incoming = env?.incoming;
  const socket = incoming?.socket as (HttpBindings['incoming']['socket'] & { encrypted?: boolean }) | undefined;
  return {
    peer: socket?.remoteAddress ?? '0.0.0.0',
    https: socket?.encrypted === true,
    rawTarget: incoming?.url,
  };
}

/**
 * node:http's createServer with the plain-302 fast path in front of the Hono listener. A fault in
 * the fast path is logged and the request handed to the app, which answers it the ordinary way.
 */
function withRedirectFastPath(services: AppServices, log: pino.Logger, enabled: boolean): typeof createServer {
  const redirect = enabled ? fastRedirect(services) : () => false;
  return ((options: ServerOptions, app: RequestListener) =>
    createServer(options, (req, res) => {
      try {
        if (redirect(req, res)) return;
      } catch (err) {
        log.error({ err, path: req.url }, 'redirect fast path failed; answering through the app');
        if (res.headersSent) return void res.destroy();
      }
      keepLinkFieldsApart(res);
      app(req, res);
    })) as typeof createServer;
}

export async function serve(opts: ServeOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const configPath = opts.configPath ?? resolveConfigPath(env);
  const config = await loadConfig(configPath, env);
  // Buffered, asynchronous writes: a synchronous write per access-log line costs a download ~15 µs.
  // pino flushes the buffer when the process exits; close() flushes it too.
  const logger = pino({ level: opts.logLevel ?? env.LOG_LEVEL ?? 'info', base: { service: 'mirrorgate' } }, pino.destination({ dest: 1, sync: false }));
  await mkdir(config.dataDir, { recursive: true });

  const files = await loadOriginIndex(config.origin, config.dataDir, logger);
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
  const storeUrl = env.REDIS_URL || config.store;
  const store = await openStore({ store: storeUrl, dataDir: config.dataDir, log: logger });
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

  const port = opts.port ?? (env.PORT ? Number(env.PORT) : (config.port ?? 8080));
  // A loopback publicUrl can only mean this machine: links name the port we really listen on (known once listening).
  let publicUrl = withListeningPort(config.publicUrl, port);
  const services: AppServices = {
    get publicUrl() {
      return publicUrl;
    },
    snapshot: () => builder.current(),
    locator,
    geoInfo: () => locator.info(),
    trustedProxies: createTrustedProxies(config.trustedProxies),
    connection: nodeConnection,
    logo: (id) => logos.get(id),
    tokens: config.tokens,
    logger,
    clock: Date.now,
    admin,
    events: {
      download: (e) => stats.download(e),
      impression: (mirror, atMs) => stats.impression(mirror, atMs),
      decided: (seconds, outcome, mirror) => metrics.observeDecision(seconds, outcome, mirror),
    },
    metrics,
    readiness: () => {
      const s = store.status();
      return { ready: s.available, detail: { store: store.kind, storeAvailable: s.available, ...(s.detail ? { storeDetail: s.detail } : {}) } };
    },
  };
  const app = createApp(services);
  const stopOriginWatch = watchOrigin(config.origin, config.dataDir, logger, (f) => builder.setFiles(f), 5_000);

  const timeouts = serverTimeouts(env);
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
    const s = serveNode(
      { fetch: app.fetch, port, hostname: opts.hostname, serverOptions: nodeServerOptions(timeouts), createServer: withRedirectFastPath(services, logger, opts.fastPath ?? env.MIRRORGATE_FAST_PATH !== 'off') },
      () => resolve(s),
    );
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`;
  publicUrl = withListeningPort(config.publicUrl, address.port);
  logger.info({ url, config: config.file, files: files.count, mirrors: mirrors.length }, 'mirrorgate listening');

  return {
    url,
    port: address.port,
    config,
    builder,
    store,
    control,
    stats,
    // In-flight requests finish, then stats are flushed and the store closed.
    close: async () => {
      stopOriginWatch();
      locator.close();
      await control.stop();
      await closeServer(server as Parameters<typeof closeServer>[0], timeouts.shutdownGraceMs);
      await stats.close();
      await store.close();
      logger.flush();
    },
  };
}

// Run directly (npm start): serve, print config problems the way check-config does.
if (import.meta.url === `file://${process.argv[1]}`) {
  serve().then(
    (running) => {
      const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'mirrorgate' } });
      exitOnSignals(() => running.close(), { log, graceMs: serverTimeouts(process.env).shutdownGraceMs });
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        for (const p of err.problems) console.error(p);
        console.error('mirrorgate: refusing to start with an invalid config');
      } else {
        console.error(err);
      }
      process.exit(1);
    },
  );
}
