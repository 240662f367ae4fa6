// Redis is not a back door: AUTH, an ACL user and TLS work; two networks on one Redis do not hear each
// other; a change notice only makes instances read again, and what they read is checked.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisStore } from '../../src/store/redisStore.js';
import type { Change } from '../../src/store/store.js';
import { encodePath, FILES, freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { redisProblem } from '../support/redis.js';
import { sleep } from '../support/wait.js';

const STORE_DB = 5;
const SERVER_DB = 6;
const skip = await redisProblem(SERVER_DB);
const RUN = `h14-${process.pid}-${Date.now()}`;
const quiet = { warn: () => undefined, error: () => undefined };

let net: MirrorNetwork;
beforeAll(async () => {
  if (!skip) net = await startNetwork();
});
afterAll(async () => {
  await net?.close();
  if (skip) return;
  for (const db of [STORE_DB, SERVER_DB]) {
    const redis = new Redis(`redis://127.0.0.1:6379/${db}`);
    const keys = await redis.keys(`${RUN}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});

const heard = (store: RedisStore): Change[] => {
  const got: Change[] = [];
  store.subscribe((c) => got.push(c));
  return got;
};

describe.skipIf(skip !== undefined)('one Redis, several networks', () => {
  it('the change channel is namespaced by key prefix and db: other networks never hear a change', async () => {
    const url = (db: number, prefix: string) => `redis://127.0.0.1:6379/${db}?prefix=${encodeURIComponent(prefix)}`;
    const a = await RedisStore.connect({ url: url(STORE_DB, `${RUN}:a:`), log: quiet });
    const sameNetwork = await RedisStore.connect({ url: url(STORE_DB, `${RUN}:a:`), log: quiet });
    const otherDb = await RedisStore.connect({ url: url(SERVER_DB, `${RUN}:a:`), log: quiet });
    const otherPrefix = await RedisStore.connect({ url: url(STORE_DB, `${RUN}:b:`), log: quiet });
    try {
      const [hearsSame, hearsDb, hearsPrefix] = [heard(sameNetwork), heard(otherDb), heard(otherPrefix)];
      await a.publish({ kind: 'override', mirror: 'de-berlin' });
      await vi.waitFor(() => expect(hearsSame).toEqual([{ kind: 'override', mirror: 'de-berlin' }]), { timeout: 3_000 });
      await sleep(200);
      expect(hearsDb).toEqual([]);
      expect(hearsPrefix).toEqual([]);
      // The prefix from the URL is the key prefix too.
      await a.putOverride('de-berlin', { patch: { weight: 3 }, updatedAt: 1, updatedBy: 'ops' });
      expect((await otherPrefix.getOverrides()).size).toBe(0);
      expect((await sameNetwork.getOverrides()).get('de-berlin')?.patch.weight).toBe(3);
    } finally {
      await Promise.all([a, sameNetwork, otherDb, otherPrefix].map((s) => s.close()));
    }
  });
});

describe.skipIf(skip !== undefined)('an ACL user', () => {
  const user = `${RUN}-user`;
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const prefix = `${RUN}:acl:`;
  beforeAll(async () => {
    const admin = new Redis(`redis://127.0.0.1:6379/${STORE_DB}`);
    // Only its own keys and channels: what a shared Redis should grant each network.
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `~${prefix}*`, 'resetchannels', `&${prefix}*`, '+@all', '-@dangerous');
    admin.disconnect();
  });
  afterAll(async () => {
    const admin = new Redis(`redis://127.0.0.1:6379/${STORE_DB}`);
    await admin.call('ACL', 'DELUSER', user);
    admin.disconnect();
  });

  it('is enough to run a network (state, audit, claims, leases, changes), and a wrong password is refused without being shown', async () => {
    const url = `redis://${user}:${encodeURIComponent(password)}@127.0.0.1:6379/${STORE_DB}?prefix=${encodeURIComponent(prefix)}`;
    const store = await RedisStore.connect({ url, log: quiet });
    try {
      const changes = heard(store);
      await store.putOverride('de-berlin', { patch: { weight: 7 }, updatedAt: 1, updatedBy: 'ops' });
      expect((await store.getOverrides()).get('de-berlin')?.patch.weight).toBe(7);
      await store.appendAudit({ id: 'a1', at: 1, actor: 'ops', action: 'mirror.update', target: 'mirror:de-berlin' });
      expect((await store.listAudit({})).map((e) => e.id)).toEqual(['a1']);
      expect(await store.claimOnce(['k1', 'k1b'], 60_000)).toEqual([true, true]);
      expect(await store.claimOnce(['k1'], 60_000)).toEqual([false]);
      expect(await store.acquireLease('probe', 'me', 5_000)).toBe(true);
      await store.publish({ kind: 'health', mirror: 'de-berlin' });
      await vi.waitFor(() => expect(changes).toEqual([{ kind: 'health', mirror: 'de-berlin' }]), { timeout: 3_000 });
    } finally {
      await store.close();
    }
    const wrong = `redis://${user}:not-the-password-${Date.now()}@127.0.0.1:6379/${STORE_DB}?prefix=${encodeURIComponent(prefix)}`;
    const refused = await RedisStore.connect({ url: wrong, log: quiet, connectTimeoutMs: 1_500 }).then(
      (s) => s.close().then(() => undefined),
      (err: Error) => err,
    );
    expect(refused).toBeInstanceOf(Error);
    expect(refused!.message).not.toContain('not-the-password');
    expect(refused!.message).toMatch(/WRONGPASS|auth|not reachable/i);
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(skip !== undefined || !hasOpenssl)('AUTH and TLS (rediss://)', () => {
  let redis: ChildProcess | undefined;
  let port: number;
  let ca: string;
  const password = `tls-secret-${Date.now()}`;
  beforeAll(async () => {
    const dir = path.join(net.dir, 'tls');
    await mkdir(dir, { recursive: true });
    const run = (args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir });
      if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr.toString()}`);
    };
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=mirrorgate-test-ca']);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    await writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
    ca = path.join(dir, 'ca.crt');
    port = await freePort();
    redis = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        'server.crt',
        '--tls-key-file',
        'server.key',
        '--tls-ca-cert-file',
        'ca.crt',
        '--tls-auth-clients',
        'no',
        '--requirepass',
        password,
        '--save',
        '',
        '--appendonly',
        'no',
        '--bind',
        '127.0.0.1',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    await sleep(500);
  });
  afterAll(() => {
    redis?.kill('SIGKILL');
  });

  it('a real server runs on rediss:// with a password and a private CA (ca=); plain redis:// and a wrong password are refused', async () => {
    const url = `rediss://:${password}@127.0.0.1:${port}/0?ca=${encodeURIComponent(ca)}&prefix=${RUN}:tls:`;
    const server = await net.startServer({ env: { REDIS_URL: url } });
    try {
      expect(((await (await fetch(`${server.url}/readyz`)).json()) as { store: string }).store).toBe('redis');
      const r = await fetch(`${server.url}/admin/v1/mirrors/de-berlin/drain`, { method: 'POST', headers: { Authorization: `Bearer ${STAFF_TOKEN}` } });
      expect(r.status).toBe(200);
      expect((await server.store.getOverrides()).get('de-berlin')?.drain).toBeDefined();
    } finally {
      await server.close();
    }
    const plain = await RedisStore.connect({ url: `redis://:${password}@127.0.0.1:${port}/0`, log: quiet, connectTimeoutMs: 1_500 }).catch((e: Error) => e);
    expect(plain).toBeInstanceOf(Error);
    const wrong = await RedisStore.connect({
      url: `rediss://:wrong-${password}@127.0.0.1:${port}/0?ca=${encodeURIComponent(ca)}`,
      log: quiet,
      connectTimeoutMs: 1_500,
    }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(Error);
    expect((wrong as Error).message).not.toContain(password);
    // Without the CA, the server's certificate is not trusted.
    const untrusted = await RedisStore.connect({ url: `rediss://:${password}@127.0.0.1:${port}/0`, log: quiet, connectTimeoutMs: 1_500 }).catch(
      (e: Error) => e,
    );
    expect(untrusted).toBeInstanceOf(Error);
  });
});

describe.skipIf(skip !== undefined)('a Redis writer behind our back', () => {
  it('forged notices only make instances read again; tampered values read back are checked on every instance', async () => {
    const prefix = `${RUN}:net:`;
    const url = `redis://127.0.0.1:6379/${SERVER_DB}?prefix=${prefix}`;
    const a = await net.startServer({ env: { REDIS_URL: url } });
    const b = await net.startServer({ env: { REDIS_URL: url } });
    const writer = new Redis(`redis://127.0.0.1:6379/${SERVER_DB}`);
    try {
      const channel = `${prefix}changes:db${SERVER_DB}`;
      const mirrorOf = async (server: typeof a, from: string) =>
        (await fetch(`${server.url}/download/${encodePath(FILES.readme)}`, { redirect: 'manual', headers: { 'X-Forwarded-For': from } })).headers.get(
          'x-mirrorgate-mirror',
        );
      expect(await mirrorOf(a, '130.149.1.1')).toBe('de-berlin');

      // Junk on the channel: ignored, nothing breaks.
      for (const junk of [
        'not json',
        '{"kind":"override","mirror":"../../etc/passwd"}',
        '{"kind":"inventory","mirror":"ghost"}',
        'x'.repeat(200_000),
        '{"kind":"nuke"}',
      ]) {
        await writer.publish(channel, junk);
      }
      // Tampered values, then a genuine-looking notice: an extglob (outside the dialect), a javascript: URL,
      // and the glob that used to pin the CPU (valid: matched in linear time).
      await writer.hset(
        `${prefix}overrides`,
        'de-berlin',
        JSON.stringify({ patch: { content: { include: ['@(pub)/**'], exclude: [] } }, updatedAt: 1, updatedBy: 'x' }),
      );
      await writer.hset(`${prefix}overrides`, 'fr-paris', JSON.stringify({ patch: { baseUrl: 'javascript:alert(1)//' }, updatedAt: 1, updatedBy: 'x' }));
      await writer.hset(
        `${prefix}overrides`,
        'us-east',
        JSON.stringify({ patch: { content: { include: ['**/*?*?*?*?*?*?*?*?Z'], exclude: [] } }, updatedAt: 1, updatedBy: 'x' }),
      );
      for (const mirror of ['de-berlin', 'fr-paris', 'us-east']) await writer.publish(channel, JSON.stringify({ kind: 'override', mirror }));

      for (const server of [a, b]) {
        await vi.waitFor(
          async () => {
            const list = (await (
              await fetch(`${server.url}/download/${encodePath(FILES.readme)}?mirrorlist`, {
                headers: { Accept: 'application/json', 'X-Forwarded-For': '130.149.1.1' },
              })
            ).json()) as {
              mirrors: { id: string; url: string }[];
              excluded: { id: string; reason: string }[];
            };
            const excluded = new Map(list.excluded.map((e) => [e.id, e.reason]));
            expect(excluded.get('de-berlin')).toBe('disabled');
            expect(excluded.get('fr-paris')).toBe('disabled');
            expect(excluded.has('us-east')).toBe(true); // README.txt has no "Z"
            expect(JSON.stringify(list)).not.toContain('javascript:');
          },
          { timeout: 5_000, interval: 100 },
        );
        // Still answering at once.
        expect(await mirrorOf(server, '195.83.60.1')).not.toMatch(/^(de-berlin|fr-paris)$/);
      }
    } finally {
      writer.disconnect();
      await a.close();
      await b.close();
    }
  });
});
