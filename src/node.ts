// Node entry: load the config, build the services, serve the app, run the control loops.
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { serve as serveNode, type HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import pino from 'pino';
import { ConfigError, loadConfig, resolveConfigPath, type Config } from './config/load.js';
import { loadLogos } from './control/logos.js';
import { formatManifestProblem, readMirrorManifest } from './control/manifest.js';
import { loadOriginIndex, watchOrigin } from './control/origin.js';
import { SnapshotBuilder } from './control/snapshotBuilder.js';
import type { MirrorSpec } from './core/model.js';
import { createTrustedProxies } from './geo/clientAddress.js';
import { openLocator } from './geo/maxmindLocator.js';
import { createApp } from './http/app.js';
import type { AppServices, Connection } from './http/services.js';

export interface ServeOptions {
  configPath?: string;
  port?: number;
  /** Host to bind; default all interfaces. */
  hostname?: string;
  env?: Record<string, string | undefined>;
  /** Silence request logs (tests). */
  logLevel?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  config: Config;
  builder: SnapshotBuilder;
  close(): Promise<void>;
}

export function mirrorSpecs(config: Config): MirrorSpec[] {
  return config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
}

/** Loads a mirror's configured manifest into the builder; a bad line is logged and skipped. */
async function loadMirrorManifests(mirrors: MirrorSpec[], builder: SnapshotBuilder, log: pino.Logger): Promise<void> {
  for (const m of mirrors) {
    if (!m.content.manifest) continue;
    try {
      const { files, problems } = await readMirrorManifest(m.content.manifest);
      for (const p of problems) log.warn({ mirror: m.id, problem: formatManifestProblem(p) }, 'mirror manifest line skipped');
      builder.setInventory(m.id, files);
    } catch (err) {
      log.error({ mirror: m.id, err: (err as Error).message }, 'mirror manifest unreadable; using its include/exclude rules');
    }
  }
}

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

export async function serve(opts: ServeOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const configPath = opts.configPath ?? resolveConfigPath(env);
  const config = await loadConfig(configPath, env);
  const logger = pino({ level: opts.logLevel ?? env.LOG_LEVEL ?? 'info', base: { service: 'mirrorgate' } });
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
    },
  });
  await loadMirrorManifests(mirrors, builder, logger);
  const locator = await openLocator(config.geoip);
  const logos = await loadLogos(mirrors, logger);

  const services: AppServices = {
    publicUrl: config.publicUrl,
    snapshot: () => builder.current(),
    locator,
    trustedProxies: createTrustedProxies(config.trustedProxies),
    connection: nodeConnection,
    logo: (id) => logos.get(id),
    tokens: config.tokens,
    logger,
    clock: Date.now,
  };
  const app = createApp(services);
  const stopOriginWatch = watchOrigin(config.origin, config.dataDir, logger, (f) => builder.setFiles(f), 5_000);

  const port = opts.port ?? (env.PORT ? Number(env.PORT) : (config.port ?? 8080));
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
    const s = serveNode({ fetch: app.fetch, port, hostname: opts.hostname }, () => resolve(s));
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`;
  logger.info({ url, config: config.file, files: files.count, mirrors: mirrors.length }, 'mirrorgate listening');

  return {
    url,
    port: address.port,
    config,
    builder,
    close: () =>
      new Promise<void>((resolve) => {
        stopOriginWatch();
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

// Run directly (npm start): serve, print config problems the way check-config does.
if (import.meta.url === `file://${process.argv[1]}`) {
  serve().then(
    (running) => {
      const stop = () => void running.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
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
