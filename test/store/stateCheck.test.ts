// Damaged or tampered state read back from disk or Redis fails safe: rebuilt from the audit log, or the
// mirror held out of rotation, never silently back to its config state; stray files set aside.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { effectiveMirrors } from '../../src/core/mirrors.js';
import type { MirrorSpec } from '../../src/core/model.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { RedisStore } from '../../src/store/redisStore.js';
import { overridesFromAudit } from '../../src/store/stateCheck.js';
import type { AuditEntry, MirrorOverride } from '../../src/core/records.js';
import { redisProblem } from '../support/redis.js';
import { mirrorSpec } from '../support/specs.js';

const drained: MirrorOverride = { patch: {}, drain: { startMs: 1_000, overMs: 0 }, updatedAt: 1_000, updatedBy: 'ops' };
const disabled: MirrorOverride = { patch: { enabled: false }, updatedAt: 2_000, updatedBy: 'ops' };
const entry = (n: number, mirror: string, action: string, applies?: AuditEntry['applies']): AuditEntry => ({
  id: `e${n}`,
  at: n * 1_000,
  actor: 'ops',
  action,
  target: `mirror:${mirror}`,
  ...(applies ? { applies } : {}),
});
const log = () => {
  const errors: { obj: object; msg?: string }[] = [];
  return { errors, log: { warn: () => undefined, error: (obj: object, msg?: string) => errors.push({ obj, msg }) } };
};
const config: MirrorSpec[] = ['a', 'b', 'c'].map((id) => mirrorSpec(id));

describe('memory store', () => {
  let dataDir: string;
  let stateDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mirrorgate-statecheck-'));
    stateDir = join(dataDir, 'state');
    await mkdir(join(stateDir, 'inventories'), { recursive: true });
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  const writeAudit = (entries: AuditEntry[]) => writeFile(join(stateDir, 'audit.jsonl'), entries.map((e) => JSON.stringify(e) + '\n').join(''));

  it('rebuilds a corrupt overrides.json from the audit log: drained and disabled mirrors stay so', async () => {
    await writeAudit([
      entry(1, 'a', 'mirror.drain', { override: drained }),
      entry(2, 'b', 'mirror.update', { override: disabled }),
      entry(3, 'b', 'mirror.probe'),
      entry(4, 'c', 'mirror.update', { override: { patch: { weight: 5 }, updatedAt: 4_000, updatedBy: 'ops' } }),
      entry(5, 'c', 'mirror.delete', { override: null }),
    ]);
    await writeFile(join(stateDir, 'overrides.json'), '{"version":1,"overrides":{"a":{"patch":{},"drai');
    const { log: quiet, errors } = log();
    const store = await MemoryStore.open({ dataDir, log: quiet });
    const overrides = await store.getOverrides();
    expect(overrides).toEqual(
      new Map([
        ['a', drained],
        ['b', disabled],
      ]),
    );
    expect((await readdir(stateDir)).some((n) => n.startsWith('overrides.json.corrupt-'))).toBe(true);
    expect(errors.map((e) => e.msg)).toContain('staff state missing or unreadable: rebuilt from the audit log');
    // Written back, so the next start reads it as it is.
    await store.close();
    expect(JSON.parse(await readFile(join(stateDir, 'overrides.json'), 'utf8')).overrides).toEqual({ a: drained, b: disabled });
  });

  it('holds a mirror out when the log cannot say its state (an entry from before entries carried it)', async () => {
    await writeAudit([entry(1, 'a', 'mirror.drain'), entry(2, 'b', 'mirror.probe')]);
    await writeFile(join(stateDir, 'overrides.json'), 'not json');
    const store = await MemoryStore.open({ dataDir, log: log().log });
    const overrides = await store.getOverrides();
    expect([...overrides.keys()]).toEqual(['a']);
    expect(overrides.get('a')?.unconfirmed).toMatch(/predates audit entries/);
    // Out of rotation (disabled) until staff change it; b was never changed, so it is as configured.
    const mirrors = effectiveMirrors(config, overrides);
    expect(mirrors.map((m) => [m.id, m.enabled])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
    ]);
    await store.close();
  });

  it('checks each record with the API rules: a javascript: baseUrl takes the last audited state, else leaves the mirror unconfirmed', async () => {
    await writeAudit([entry(1, 'a', 'mirror.update', { override: disabled })]);
    const tampered = { patch: { baseUrl: 'javascript:alert(1)//' }, updatedAt: 9_000, updatedBy: 'ops' };
    await writeFile(
      join(stateDir, 'overrides.json'),
      JSON.stringify({
        version: 1,
        overrides: { a: tampered, b: tampered, c: drained, 'Bad Id': drained, d: { ...drained, patch: { content: { include: ['@(x|y)'], exclude: [] } } } },
      }),
    );
    const { log: quiet, errors } = log();
    const store = await MemoryStore.open({ dataDir, log: quiet });
    const overrides = await store.getOverrides();
    expect(overrides.get('a')).toEqual(disabled);
    expect(overrides.get('b')?.unconfirmed).toMatch(/baseUrl/);
    expect(overrides.get('c')).toEqual(drained);
    expect(overrides.get('d')?.unconfirmed).toMatch(/extglobs/);
    expect(overrides.has('Bad Id')).toBe(false);
    expect(JSON.stringify([...effectiveMirrors(config, overrides)])).not.toContain('javascript:');
    expect(errors.length).toBeGreaterThanOrEqual(4);
    await store.close();
  });

  it('drops an offer whose link fields fail the API rules (a javascript: baseUrl), keeping the others', async () => {
    const offer = (id: string, baseUrl: string) =>
      JSON.stringify({
        id,
        createdAt: 1,
        status: 'offered',
        contact: { name: 'A', email: 'a@example.org' },
        organisation: 'O',
        location: { country: 'DE' },
        storageTB: 10,
        bandwidthMbps: 1000,
        baseUrl,
      });
    await writeFile(join(stateDir, 'offers.jsonl'), `${offer('good', 'https://m.example/pub/')}\n${offer('evil', 'javascript:alert(1)//')}\n`);
    const store = await MemoryStore.open({ dataDir, log: log().log });
    expect((await store.getOffers()).map((o) => o.id)).toEqual(['good']);
    expect((await readdir(stateDir)).some((n) => n.startsWith('offers.jsonl.corrupt-'))).toBe(true);
    await store.close();
  });

  it('sets stray inventory file names aside instead of failing to start', async () => {
    const inventories = join(stateDir, 'inventories');
    await writeFile(join(inventories, '%E0%A4%A.jsonl.gz'), 'x');
    await writeFile(join(inventories, '..%2Fescape.jsonl.gz'), 'x');
    await mkdir(join(inventories, 'adir.jsonl.gz'));
    await writeFile(join(stateDir, 'stray.bin'), 'x');
    await mkdir(join(stateDir, 'health.json'));
    await mkdir(join(stateDir, 'x.json.tmp-abc'));
    const store = await MemoryStore.open({ dataDir, log: log().log });
    expect(await store.listInventories()).toEqual([]);
    const names = await readdir(inventories);
    expect(names.filter((n) => n.includes('.corrupt-'))).toHaveLength(3);
    expect((await readdir(stateDir)).some((n) => n.startsWith('health.json.corrupt-'))).toBe(true);
    expect((await readdir(stateDir)).some((n) => n.startsWith('x.json.tmp-abc.corrupt-'))).toBe(true);
    await store.close();
    // The inventories folder replaced by a file: set aside too.
    await rm(join(stateDir, 'inventories'), { recursive: true });
    await writeFile(join(stateDir, 'inventories'), 'x');
    const again = await MemoryStore.open({ dataDir, log: log().log });
    expect(await again.listInventories()).toEqual([]);
    expect((await readdir(stateDir)).some((n) => n.startsWith('inventories.corrupt-'))).toBe(true);
    await again.close();
  });

  it('rebuilds from entries in order: the newest state of each mirror', () => {
    const rebuilt = overridesFromAudit([
      entry(1, 'a', 'mirror.update', { override: disabled }),
      entry(2, 'a', 'mirror.drain', { override: drained }),
      entry(3, 'b', 'mirror.add', {
        override: { patch: { name: 'B', baseUrl: 'https://b.example/', country: 'FR' }, added: true, updatedAt: 3_000, updatedBy: 'ops' },
      }),
      entry(4, 'b', 'mirror.delete', { override: null }),
      entry(5, 'c', 'mirror.update', { override: { patch: { weight: -1 }, updatedAt: 5_000, updatedBy: 'ops' } }),
    ]);
    expect(rebuilt.get('a')).toEqual(drained);
    expect(rebuilt.has('b')).toBe(false);
    expect(rebuilt.get('c')?.unconfirmed).toMatch(/weight/);
  });
});

const REDIS_DB = 5;
const redisSkip = await redisProblem(REDIS_DB);

describe.skipIf(redisSkip !== undefined)('redis store', () => {
  const url = `redis://127.0.0.1:6379/${REDIS_DB}`;
  const prefix = `statecheck-${process.pid}-${Date.now()}:`;
  afterAll(async () => {
    const redis = new Redis(url);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('reads a tampered override as unconfirmed and a tampered health record as down', async () => {
    const { log: quiet, errors } = log();
    const store = await RedisStore.connect({ url, prefix, log: quiet });
    try {
      await store.putOverride('a', drained);
      const redis = new Redis(url);
      await redis.hset(`${prefix}overrides`, 'b', JSON.stringify({ patch: { baseUrl: 'javascript:alert(1)//' }, updatedAt: 1, updatedBy: 'x' }));
      await redis.hset(`${prefix}overrides`, '../../etc', JSON.stringify(drained));
      await redis.hset(`${prefix}health`, 'a', JSON.stringify({ health: 'up', consecutiveFailures: -4 }));
      redis.disconnect();
      const overrides = await store.getOverrides();
      expect(overrides.get('a')).toEqual(drained);
      expect(overrides.get('b')?.unconfirmed).toMatch(/baseUrl/);
      expect(overrides.has('../../etc')).toBe(false);
      expect((await store.getHealth()).get('a')).toMatchObject({ health: 'down' });
      expect(effectiveMirrors(config, overrides).find((m) => m.id === 'b')?.enabled).toBe(false);
      expect(errors.length).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }
  });
});
