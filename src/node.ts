// Node entry: read the config, compose the instance (src/node/compose.ts), listen (src/node/server.ts); `npm start` runs it.
// First, before any module loads (and a GC can run): see tickShapes.ts.
import './node/tickShapes.js';
import pino from 'pino';
import { ConfigError, resolveConfigPath, type Config } from './config/load.js';
import type { ControlPlane } from './control/controlPlane.js';
import type { SnapshotBuilder } from './control/snapshotBuilder.js';
import type { StatsRecorder } from './control/statsRecorder.js';
import cluster from 'node:cluster';
import { CONFIG_COPY, onClusterStop, runClusterPrimary, WorkerCountError, workerCount, workerStore } from './node/cluster.js';
import { compose } from './node/compose.js';
import { loadServableConfig } from './node/startChecks.js';
import { exitOnSignals, listen, serverTimeouts } from './node/server.js';
import { DataDirInUseError, DataDirUnusableError } from './store/memoryStore.js';
import { StoreUnavailableError, type Store } from './store/store.js';

export { mirrorSpecs, withListeningPort } from './node/compose.js';
export { WorkerCountError } from './node/cluster.js';
// check-config reads a config as the server does; the CLI reaches node/ only through this entry.
export { loadServableConfig };

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

/** The server cannot start for a reason its operator can fix (the port is taken): one line says it, no stack trace. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

/** A failed listen as that line, for the errors an operator meets (taken or privileged port); undefined for others. */
function listenProblem(err: unknown, port: number): StartError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return new StartError(`port ${port} is already in use (EADDRINUSE)`);
  if (code === 'EACCES') return new StartError(`no permission to listen on port ${port} (EACCES; ports below 1024 need privileges)`);
  return undefined;
}

export async function serve(opts: ServeOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  // A cluster worker parses the config as its primary read it (CONFIG_COPY), resolving paths against the file.
  const config = await loadServableConfig(opts.configPath ?? resolveConfigPath(env), env, cluster.isWorker ? env[CONFIG_COPY] : undefined);
  const port = opts.port ?? (env.PORT ? Number(env.PORT) : (config.port ?? 8080));
  const instance = await compose(config, { env, logLevel: opts.logLevel, port, store: workerStore(env) });
  const timeouts = serverTimeouts(env);
  let server: Awaited<ReturnType<typeof listen>>;
  try {
    server = await listen(instance.app, instance.services, {
      port,
      hostname: opts.hostname,
      timeouts,
      fastPath: opts.fastPath ?? env.MIRRORGATE_FAST_PATH !== 'off',
    });
  } catch (err) {
    // The port is taken (or refused): stop the control loops and close the store, so a caller that reports it can exit.
    await instance.close();
    throw listenProblem(err, port) ?? err;
  }
  instance.listeningOn(server.port);
  instance.logger.info(
    { url: server.url, config: config.file, files: instance.builder.current().files.count, mirrors: config.mirrors.length },
    'mirrorgate listening',
  );
  return {
    url: server.url,
    port: server.port,
    config,
    builder: instance.builder,
    store: instance.store,
    control: instance.control,
    stats: instance.stats,
    // In-flight requests finish, then stats are flushed and the store closed.
    close: async () => {
      await server.close();
      await instance.close();
    },
  };
}

export interface StartOptions {
  configPath?: string;
  port?: number;
  workers?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Serves until SIGTERM/SIGINT: one process, or with `workers` (MIRRORGATE_WORKERS, `serve --workers`) a
 * cluster whose primary forks that many workers, each of which lands here again and serves. Resolves once
 * serving; rejects when it cannot start (`mirrorgate serve` reports that and exits 1).
 */
export async function start(opts: StartOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const workers = !cluster.isPrimary
    ? undefined
    : opts.workers !== undefined
      ? workerCount(opts.workers, '--workers')
      : workerCount(env.MIRRORGATE_WORKERS, 'MIRRORGATE_WORKERS');
  if (workers !== undefined) {
    await runClusterPrimary({ workers, configPath: opts.configPath, env });
    return;
  }
  // A cluster worker stops when its primary asks (over IPC, see runClusterPrimary), which may be while it starts.
  let stopAsked: ((reason: string) => void) | undefined;
  let askedEarly = false;
  onClusterStop(() => (stopAsked ? stopAsked('stop asked by the cluster primary') : (askedEarly = true)));
  let running: RunningServer;
  try {
    running = await serve({ configPath: opts.configPath, port: opts.port, env });
  } catch (err) {
    // A worker says why and exits, so its primary sees it go (its IPC channel would keep it alive, idle).
    if (cluster.isWorker) startFailed(err);
    throw err;
  }
  // A cluster worker names itself, as its other lines do.
  const log = pino({ level: env.LOG_LEVEL ?? 'info', base: { service: 'mirrorgate', ...(cluster.worker ? { worker: cluster.worker.id } : {}) } });
  exitOnSignals(() => running.close(), {
    log,
    graceMs: serverTimeouts(env).shutdownGraceMs,
    requests: (shutDown) => {
      stopAsked = shutDown;
      if (askedEarly) shutDown('stop asked by the cluster primary');
    },
  });
}

/** `npm start`: start(), or the reasons it could not, and exit 1. */
export function main(): void {
  start().catch(startFailed);
}

function startFailed(err: unknown): never {
  if (err instanceof ConfigError) {
    for (const p of err.problems) console.error(p);
    console.error('mirrorgate: refusing to start with an invalid config');
  } else if (
    err instanceof StartError ||
    err instanceof WorkerCountError ||
    err instanceof DataDirInUseError ||
    err instanceof DataDirUnusableError ||
    err instanceof StoreUnavailableError
  ) {
    // Expected, and fixed by the operator: the reason alone.
    console.error(`mirrorgate: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
}

// Run directly (npm start).
if (import.meta.url === `file://${process.argv[1]}`) main();
