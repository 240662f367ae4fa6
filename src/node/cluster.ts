// Node only: every core. `mirrorgate serve --workers N|auto` (or MIRRORGATE_WORKERS) runs node:cluster workers on
// one port. With Redis each worker is an ordinary instance. In memory mode the primary owns the one store
// (persisted under dataDir) and every worker reaches it over IPC, as instances reach Redis: staff writes, health,
// leases (one worker probes and scans at a time), stats claims (each download counted once) and the audit log
// all go through it, and every change is announced to every worker.
import cluster, { type Worker } from 'node:cluster';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { parseConfig, readConfigText, resolveConfigPath } from '../config/load.js';
import { ipcStore, type StoreChannel, type StoreMessage } from '../store/ipcStore.js';
import { prepareDataDir } from '../store/memoryStore.js';
import { openStore } from '../store/openStore.js';
import type { Store } from '../store/store.js';
import type { StoreLog } from '../store/storeLog.js';
import { serverTimeouts, StopSignals } from './server.js';
import { refuseUnservable } from './startChecks.js';
import { hostStore } from './storeHost.js';

/** An unusable worker count (`--workers`, MIRRORGATE_WORKERS): the operator's to fix, said in one line. */
export class WorkerCountError extends Error {
  override readonly name = 'WorkerCountError';
}

const WORKER_COUNT_EXPECTED = 'expected a whole number from 1 to 256 or "auto"';

/**
 * How many workers `value` asks for: a plain whole number from 1 to 256 (digits only: "1e1" or "0x2" are not
 * read as numbers they happen to parse to), or "auto" (one per available core). Undefined for one process.
 * `source` names where the value came from in the refusal.
 */
export function workerCount(value: string | undefined, source = 'workers'): number | undefined {
  const text = value?.trim() ?? '';
  if (text === '') return undefined;
  const n = text === 'auto' ? availableParallelism() : /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || (n > 256 && text !== 'auto'))
    throw new WorkerCountError(`${source}: ${WORKER_COUNT_EXPECTED}, got ${JSON.stringify(value)}`);
  return n === 1 ? undefined : n;
}

/** The env key that tells a worker its store is the primary's. */
const IPC_STORE = 'MIRRORGATE_CLUSTER_STORE';

/** In a cluster worker of a memory-mode cluster: the store the primary holds; otherwise undefined. */
export function workerStore(env: Record<string, string | undefined>, log?: StoreLog): Store | undefined {
  if (!cluster.isWorker || env[IPC_STORE] !== 'ipc') return undefined;
  const channel: StoreChannel = {
    send: (m: StoreMessage) => process.send?.(m),
    onMessage: (listener) => {
      process.on('message', listener);
      return () => process.off('message', listener);
    },
  };
  return ipcStore(channel, log);
}

/** Messages for /metrics across workers: a worker asks, the primary collects from every worker and answers. */
type MetricsMessage =
  | { mg: 'metrics-ask'; id: number }
  | { mg: 'metrics-collect'; id: number }
  | { mg: 'metrics-part'; id: number; json: unknown }
  | { mg: 'metrics-answer'; id: number; text: string };

const isMetricsMessage = (m: unknown): m is MetricsMessage =>
  typeof m === 'object' && m !== null && typeof (m as { mg?: unknown }).mg === 'string' && (m as { mg: string }).mg.startsWith('metrics-');

/**
 * In a cluster worker: /metrics for the whole cluster (every worker's counters summed by the primary,
 * prom-client's AggregatorRegistry), and answers to the primary's collection rounds. Undefined elsewhere.
 */
export function clusterMetrics(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  let next = 1;
  const waiting = new Map<number, (text: string) => void>();
  process.on('message', (m: unknown) => {
    if (!isMetricsMessage(m)) return;
    if (m.mg === 'metrics-collect') {
      void registry.getMetricsAsJSON().then((json) => process.send?.({ mg: 'metrics-part', id: m.id, json } satisfies MetricsMessage));
    } else if (m.mg === 'metrics-answer') {
      waiting.get(m.id)?.(m.text);
      waiting.delete(m.id);
    }
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the cluster primary did not answer for /metrics'));
      }, 5_000);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      process.send?.({ mg: 'metrics-ask', id } satisfies MetricsMessage);
    });
}

/** The primary's side of clusterMetrics: one collection round per question, over the workers alive now. */
function answerMetrics(): void {
  let round = 1;
  cluster.on('message', (asker, m: unknown) => {
    if (!isMetricsMessage(m) || m.mg !== 'metrics-ask') return;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const id = round++;
    const parts: unknown[] = [];
    const finish = async () => {
      cluster.off('message', collect);
      clearTimeout(timer);
      const text = await AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
      if (asker.isConnected()) asker.send({ mg: 'metrics-answer', id: m.id, text } satisfies MetricsMessage);
    };
    const collect = (_w: Worker, part: unknown) => {
      if (!isMetricsMessage(part) || part.mg !== 'metrics-part' || part.id !== id) return;
      parts.push(part.json);
      if (parts.length === workers.length) void finish();
    };
    // A worker that does not answer in time (busy, dying) is left out rather than holding the scrape.
    const timer = setTimeout(() => void finish(), 2_000);
    cluster.on('message', collect);
    for (const w of workers) w.send({ mg: 'metrics-collect', id } satisfies MetricsMessage);
  });
}

/** The environment variable naming the primary's copy of the config, which a worker parses instead of the file. */
export const CONFIG_COPY = 'MIRRORGATE_CONFIG_COPY';

/** `text` in a file only this user can read (a config holds tokens), removed when the primary exits. */
async function privateCopy(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-config-'));
  const file = path.join(dir, 'mirrorgate.yaml');
  await writeFile(file, text, { mode: 0o600 });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

/** Workers that die before listening, in a row and with none serving, after which the primary gives up. */
const MAX_FAILED_STARTS = 3;

export interface ClusterOptions {
  workers: number;
  configPath?: string;
  env: Record<string, string | undefined>;
}

/**
 * The primary: forks the workers (each runs src/node.ts's serve()), restarts one that dies, and on SIGTERM or
 * SIGINT stops them (each finishes its in-flight requests and flushes its stats) before closing the store. A worker
 * still running well past the grace period is killed, as are all of them on a second signal; the exit code is 1 then.
 */
export async function runClusterPrimary(opts: ClusterOptions): Promise<void> {
  const { env } = opts;
  const log = pino({ level: env.LOG_LEVEL ?? 'info', base: { service: 'mirrorgate', role: 'primary' } });
  const configFile = path.resolve(opts.configPath ?? resolveConfigPath(env));
  const configText = await readConfigText(configFile);
  const config = parseConfig(configText, { file: configFile, env });
  await refuseUnservable(config, env);
  // Every worker runs the config as the primary read it: one started later (a replacement) would
  // otherwise read the file as edited since, and the cluster would route two ways.
  const configCopy = await privateCopy(configText);
  // Read before anything starts: a bad value stops the start here, as it would stop each worker.
  const { shutdownGraceMs } = serverTimeouts(env);
  const redis = env.REDIS_URL || (config.store !== 'memory' ? config.store : undefined);
  let host: ReturnType<typeof hostStore> | undefined;
  let store: Store | undefined;
  if (!redis) {
    await prepareDataDir(config.dataDir);
    store = await openStore({ store: 'memory', dataDir: config.dataDir, log });
    host = hostStore(store);
  }
  // Structured clone, so Maps, Sets and typed arrays cross as they are.
  cluster.setupPrimary({ serialization: 'advanced' });
  const workerEnv = { ...env, ...(redis ? {} : { [IPC_STORE]: 'ipc' }), MIRRORGATE_WORKERS: '1', [CONFIG_COPY]: configCopy };
  let stopping = false;
  const fork = (): Worker => {
    const w = cluster.fork(workerEnv);
    host?.attach(w);
    return w;
  };
  // A worker that dies before it ever listened could not start (a taken port, Redis away): another one
  // started at once would fail the same way. Replacements wait longer after each such failure (1 s, 2 s, …
  // 30 s). While no worker serves at all, a few failures in a row stop the cluster (exit 1), as a single
  // instance refuses to start; while one serves, the others keep being replaced (an outage ends).
  let failedStarts = 0;
  const listened = new Set<number>();
  cluster.on('listening', (worker) => {
    listened.add(worker.id);
    failedStarts = 0;
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const wasServing = listened.delete(worker.id);
    if (wasServing) {
      log.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker died; starting another');
      fork();
      return;
    }
    failedStarts++;
    if (listened.size === 0 && failedStarts >= MAX_FAILED_STARTS) {
      log.error({ worker: worker.id, pid: worker.process.pid, code, failedStarts }, 'workers cannot start (see their message above); stopping');
      stop('workers cannot start', 1);
      return;
    }
    const delayMs = Math.min(30_000, 1000 * 2 ** (failedStarts - 1));
    log.error({ worker: worker.id, pid: worker.process.pid, code, signal, retryInMs: delayMs }, 'worker could not start; starting another after a pause');
    // Not unref'd: with no worker left, this timer is what keeps the primary waiting for the next one.
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });
  answerMetrics();
  // More workers than cores only take turns on them, each holding its own index (and GeoIP) in memory.
  const cores = availableParallelism();
  if (opts.workers > cores)
    log.warn({ workers: opts.workers, cores }, 'more workers than cores: they take turns on the cores, each with its own origin index in memory');
  for (let i = 0; i < opts.workers; i++) fork();
  log.info({ workers: opts.workers, store: redis ? 'redis' : 'memory (held by the primary)' }, 'mirrorgate cluster started');

  // Workers get the stop over IPC, not as a signal: under systemd's default KillMode=control-group (or Ctrl-C in a
  // terminal) every worker has had the signal itself already, and a second one would make it exit at once, its
  // in-flight requests cut and its stats unflushed. One still starting (it has not listened) has nothing to finish.
  // A worker's own shutdown gives up after twice the grace period and 5 s more; past that it is wedged.
  const stopDeadlineMs = shutdownGraceMs * 2 + 10_000;
  let unclean = false;
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  function stop(reason: string, exitCode = 0): void {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping workers');
    const workers = alive();
    let left = workers.length;
    let finished = false;
    const done = async () => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      host?.close();
      await store?.close();
      log.info({}, 'cluster stopped');
      process.exit(exitCode || (unclean ? 1 : 0));
    };
    const deadline = setTimeout(() => {
      const stuck = alive();
      log.error({ workers: stuck.map((w) => w.process.pid), afterMs: stopDeadlineMs }, 'workers did not stop in time; killing them');
      unclean = true;
      for (const w of stuck) w.process.kill('SIGKILL');
    }, stopDeadlineMs);
    if (left === 0) return void done();
    for (const w of workers) {
      w.once('exit', (code: number | null) => {
        // A serving worker that could not stop cleanly (a failed flush, killed) makes the stop unclean.
        if (code !== 0 && listened.has(w.id)) unclean = true;
        if (--left === 0) void done();
      });
      if (listened.has(w.id) && w.isConnected()) {
        w.send({ mg: 'cluster-stop' } satisfies ClusterStopMessage, (err: Error | null) => {
          if (err) w.process.kill('SIGTERM');
        });
      } else {
        w.process.kill('SIGTERM');
      }
    }
  }

  /** The first signal stops the workers in order; a second one kills them now (exit 1), as a single process exits at once. */
  const seen = new StopSignals();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!seen.again()) {
      if (!stopping) stop(signal);
      return;
    }
    log.error({ signal }, 'second signal while stopping; killing the workers now');
    unclean = true;
    for (const w of alive()) w.process.kill('SIGKILL');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** The primary's request that a serving worker stop (finish its requests, flush, exit). */
interface ClusterStopMessage {
  mg: 'cluster-stop';
}

/**
 * In a cluster worker: calls `listener` when the primary asks it to stop. Register it early: an ask that comes
 * before the worker is ready to stop is the caller's to keep.
 */
export function onClusterStop(listener: () => void): void {
  if (!cluster.isWorker) return;
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as { mg?: unknown }).mg === 'cluster-stop') listener();
  });
}
