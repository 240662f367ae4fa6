// Runs the store contract on Redis, plus what only Redis brings: several instances sharing it, and outages.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/store/openStore.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redisStore.js';
import { type Change, type StoreStatus, StoreUnavailableError } from '../../src/store/store.js';
import type { StoreLog } from '../../src/store/storeLog.js';
import { auditEntry, bigInventory, override, storeContract } from './contract.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_PREFIX = `mgtest:${randomBytes(4).toString('hex')}:`;
const quiet: StoreLog = { warn: () => undefined, error: () => undefined };

async function reachable(url: string): Promise<string | undefined> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  let cause: string | undefined;
  probe.on('error', (err: Error) => {
    cause = err.message;
  });
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    return cause ?? (err as Error).message;
  } finally {
    probe.disconnect();
  }
}

function hasRedisServerBinary(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const unreachable = await reachable(REDIS_URL);
if (unreachable !== undefined) {
  if (process.env.CI === 'true') throw new Error(`Redis at ${REDIS_URL} is required in CI: ${unreachable}`);
  console.warn(`Skipping RedisStore tests: no Redis at ${REDIS_URL} (${unreachable}); set REDIS_URL to run them.`);
}
const canSpawn = hasRedisServerBinary();
if (!canSpawn) {
  if (process.env.CI === 'true') throw new Error('redis-server is required in CI for the restart test');
  console.warn('Skipping the Redis restart test: no redis-server binary on PATH.');
}

/** Deletes every key under a prefix. */
async function dropKeys(prefix: string): Promise<void> {
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  await admin.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

const open = (prefix: string, extra: Partial<RedisStoreOptions> = {}) => RedisStore.connect({ url: REDIS_URL, prefix, log: quiet, ...extra });

let harnessCount = 0;

describe.skipIf(unreachable !== undefined)('RedisStore on the shared Redis', () => {
  afterAll(async () => {
    await dropKeys(RUN_PREFIX);
  });

  storeContract('RedisStore', async () => {
    // A prefix per case, so every case starts empty; all under this run's prefix for the final sweep.
    const prefix = `${RUN_PREFIX}${++harnessCount}:`;
    const opened: RedisStore[] = [];
    const connect = async (): Promise<RedisStore> => {
      const store = await open(prefix);
      opened.push(store);
      return store;
    };
    return {
      store: await connect(),
      reopen: connect,
      cleanup: async () => {
        for (const store of opened) await store.close();
        await dropKeys(prefix);
      },
    };
  });

  describe('two instances on one Redis', () => {
    const stores: RedisStore[] = [];
    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
    });

    it("see each other's writes and publishes, each change once on each", async () => {
      const prefix = `${RUN_PREFIX}pair:`;
      const a = await open(prefix);
      const b = await open(prefix);
      stores.push(a, b);
      const seenA: Change[] = [];
      const seenB: Change[] = [];
      a.subscribe((change) => seenA.push(change));
      b.subscribe((change) => seenB.push(change));

      await a.putOverride('acme-de', override(5));
      await a.publish({ kind: 'override', mirror: 'acme-de' });
      await b.putInventory('acme-de', bigInventory(3));
      await b.publish({ kind: 'inventory', mirror: 'acme-de' });

      const expected: Change[] = [
        { kind: 'override', mirror: 'acme-de' },
        { kind: 'inventory', mirror: 'acme-de' },
      ];
      await vi.waitFor(() => {
        expect(seenA).toEqual(expected);
        expect(seenB).toEqual(expected);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seenA).toHaveLength(2);
      expect(seenB).toHaveLength(2);
      expect((await b.getOverrides()).get('acme-de')).toEqual(override(5));
      expect(await a.getInventory('acme-de')).toEqual(bigInventory(3));
    });

    it('agree on one epoch, and both see a new one once the data is gone', async () => {
      const prefix = `${RUN_PREFIX}epoch:`;
      const a = await open(prefix);
      const b = await open(prefix);
      stores.push(a, b);
      const [first, second] = await Promise.all([a.epoch(), b.epoch()]);
      expect(second).toBe(first);
      await dropKeys(prefix); // what FLUSHALL, or a restart without persistence, does
      const after = await b.epoch();
      expect(after).not.toBe(first);
      expect(await a.epoch()).toBe(after);
    });

    it('keep deployments with different prefixes apart', async () => {
      const a = await open(`${RUN_PREFIX}left:`);
      const b = await open(`${RUN_PREFIX}right:`);
      stores.push(a, b);
      const seenB: Change[] = [];
      b.subscribe((change) => seenB.push(change));
      await a.putOverride('x', override(1));
      await a.publish({ kind: 'override', mirror: 'x' });
      await b.publish({ kind: 'offer', id: 'mine' });
      await vi.waitFor(() => expect(seenB).toEqual([{ kind: 'offer', id: 'mine' }]));
      expect(await b.getOverrides()).toEqual(new Map());
    });

    it('splits a big inventory into chunks and reads it back whole', async () => {
      const prefix = `${RUN_PREFIX}chunks:`;
      const store = await open(prefix, { inventoryChunkBytes: 64 * 1024 });
      stores.push(store);
      const record = bigInventory(200_000);
      await store.putInventory('big', record);
      const admin = new Redis(REDIS_URL);
      const chunks = Number(await admin.hget(`${prefix}inv:big`, 'chunks'));
      admin.disconnect();
      expect(chunks).toBeGreaterThan(5);
      expect(await store.getInventory('big')).toEqual(record);
      // A smaller replacement leaves no stale chunks behind.
      await store.putInventory('big', bigInventory(2));
      expect(await store.getInventory('big')).toEqual(bigInventory(2));
    });

    it('reports a bad value written behind its back (its mirror unconfirmed, never back to its config state), still reading the rest', async () => {
      const prefix = `${RUN_PREFIX}bad:`;
      const errors: object[] = [];
      const store = await open(prefix, { log: { warn: () => undefined, error: (obj) => errors.push(obj) } });
      stores.push(store);
      await store.putOverride('good', override(1));
      const admin = new Redis(REDIS_URL);
      await admin.hset(`${prefix}overrides`, 'broken', '{"patch":', 'wrong', JSON.stringify({ patch: {}, updatedAt: 'soon' }));
      await admin.hset(`${prefix}inv:junk`, 'chunks', '1', 'c0', 'not gzip');
      admin.disconnect();
      const read = await store.getOverrides();
      expect(read.get('good')).toEqual(override(1));
      expect(read.get('broken')).toMatchObject({ patch: {}, unconfirmed: expect.stringContaining('invalid') });
      expect(read.get('wrong')).toMatchObject({ patch: {}, unconfirmed: expect.stringContaining('updatedAt') });
      expect(await store.getInventory('junk')).toBeUndefined();
      // A Redis hash has no order once it outgrows a listpack (and the server seeds its hashing at start).
      expect(errors).toHaveLength(3);
      expect(errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ mirror: 'broken' }),
          expect.objectContaining({ mirror: 'wrong' }),
          expect.objectContaining({ key: `${prefix}inv:junk` }),
        ]),
      );
    });

    it('is opened by openStore for a redis:// URL', async () => {
      const store = await openStore({ store: REDIS_URL, dataDir: '/nonexistent', redisPrefix: `${RUN_PREFIX}open:`, log: quiet });
      expect(store.kind).toBe('redis');
      await store.close();
    });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Our own redis-server, so killing it disturbs nobody else. */
async function startRedis(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  await vi.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      expect(await reachable(`redis://127.0.0.1:${port}`)).toBeUndefined();
    },
    { timeout: 10_000, interval: 50 },
  );
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('RedisStore through an outage', () => {
  const children: ChildProcess[] = [];
  const stores: RedisStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const child of children.splice(0)) await stopRedis(child);
  });

  it.skipIf(!canSpawn)(
    'goes unavailable when redis-server dies, fails fast, and recovers when it is back',
    async () => {
      const port = await freePort();
      children.push(await startRedis(port));
      const store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix: 'mgtest:', log: quiet });
      stores.push(store);
      const statuses: StoreStatus[] = [];
      store.onStatus((status) => statuses.push(status));
      const seen: Change[] = [];
      store.subscribe((change) => seen.push(change));

      await store.putOverride('a', override(1));
      await store.publish({ kind: 'override', mirror: 'a' });
      await vi.waitFor(() => expect(seen).toHaveLength(1));

      await stopRedis(children.pop()!);
      await vi.waitFor(() => expect(store.status().available).toBe(false), { timeout: 2000, interval: 10 });
      expect(statuses).toEqual([{ available: false, detail: expect.stringContaining(`127.0.0.1:${port}`) }]);

      let started = Date.now();
      await expect(store.putOverride('a', override(2))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.appendAudit(auditEntry(1))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.publish({ kind: 'health', mirror: 'a' })).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.getOverrides()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);

      children.push(await startRedis(port));
      started = Date.now();
      await vi.waitFor(() => expect(store.status()).toEqual({ available: true }), { timeout: 10_000, interval: 20 });
      expect(Date.now() - started).toBeLessThan(5000); // reconnects at least once a second
      expect(statuses.map((status) => status.available)).toEqual([false, true]);

      // A fresh, empty Redis: writes work again and the subscriber is subscribed again.
      expect(await store.getOverrides()).toEqual(new Map());
      await store.putOverride('a', override(3));
      expect((await store.getOverrides()).get('a')).toEqual(override(3));
      await store.publish({ kind: 'health', mirror: 'b' });
      await vi.waitFor(() =>
        expect(seen).toEqual([
          { kind: 'override', mirror: 'a' },
          { kind: 'health', mirror: 'b' },
        ]),
      );
    },
    60_000,
  );

  it.skipIf(!canSpawn)(
    'fails a command in flight when the connection drops, even if Redis is back at once',
    async () => {
      const port = await freePort();
      children.push(await startRedis(port, ['--enable-debug-command', 'yes']));
      const url = `redis://127.0.0.1:${port}`;
      const store = await RedisStore.connect({ url, prefix: 'mgtest:', log: quiet });
      stores.push(store);
      // Hold the server busy so our write is sent but unanswered when the server dies.
      const blocker = new Redis(url);
      blocker.on('error', () => undefined);
      await blocker.ping();
      blocker.call('DEBUG', 'SLEEP', '5').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));

      const started = Date.now();
      const write = store.putOverride('a', override(1)).then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await stopRedis(children.pop()!);
      children.push(await startRedis(port));
      expect(await write).toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      blocker.disconnect();
      // Never replayed behind the caller's back once Redis is back.
      await vi.waitFor(() => expect(store.status().available).toBe(true), { timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await store.getOverrides()).toEqual(new Map());
    },
    60_000,
  );

  it('rejects connect with StoreUnavailableError when nothing listens, never showing the password', async () => {
    const port = await freePort();
    const logged: string[] = [];
    const log: StoreLog = {
      warn: (obj, msg) => logged.push(JSON.stringify(obj) + (msg ?? '')),
      error: (obj, msg) => logged.push(JSON.stringify(obj) + (msg ?? '')),
    };
    const connecting = RedisStore.connect({ url: `redis://:hunter2@127.0.0.1:${port}/0`, connectTimeoutMs: 500, log });
    const error = await connecting.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).not.toContain('hunter2');
    expect(logged.join('\n')).not.toContain('hunter2');
  });
});
