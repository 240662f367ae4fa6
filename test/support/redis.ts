// Redis for tests: a database of the local Redis (127.0.0.1:6379) per suite, skipped off CI when it is not there,
// and a redis-server of a test's own, to kill and restart under running instances.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './loopback.js';
import { sleep } from './wait.js';

export function redisUrl(db: number): string {
  return `redis://127.0.0.1:6379/${db}`;
}

/** Undefined when Redis answers PING on 127.0.0.1:6379; else why not. */
export async function redisProblem(db: number): Promise<string | undefined> {
  const redis = new Redis(redisUrl(db), { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (err) {
    return `Redis on 127.0.0.1:6379 not reachable: ${(err as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

/** Empties one Redis database (tests use a dedicated one each). */
export async function flushRedis(db: number): Promise<void> {
  const redis = new Redis(redisUrl(db), { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/**
 * Whether a Redis-backed suite should be skipped: only when Redis is unreachable and this is not
 * CI (there, an unreachable Redis must fail the run). Prints the reason when it skips.
 */
export async function skipWithoutRedis(db: number, suite: string): Promise<boolean> {
  const problem = await redisProblem(db);
  if (problem === undefined) return false;
  if (process.env.CI === 'true') return false;
  console.warn(`[${suite}] skipped: ${problem}`);
  return true;
}

async function pingRedis(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// A redis-server of our own

export interface RedisServerProcess {
  port: number;
  url: string;
  /** Kills it (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** Kills it if running (afterAll). */
  stop(): Promise<void>;
}

/** A redis-server on a free loopback port, without persistence, its working folder `dir`. */
export async function startRedisServer(dir: string): Promise<RedisServerProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr}`);
      if (await pingRedis(`redis://127.0.0.1:${port}`)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${stderr}`);
      await sleep(25);
    }
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };
  await launch();
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: launch, stop: kill };
}
