// Runs the store contract on the embedded store, plus what only it promises: its files under dataDir.
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataDirUnusableError, MemoryStore, prepareDataDir, type MemoryStoreOptions } from '../../src/store/memoryStore.js';
import { openStore } from '../../src/store/openStore.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import type { StoreLog } from '../../src/store/storeLog.js';
import { auditEntry, healthRecord, offer, override, storeContract } from './contract.js';

const quiet: StoreLog = { warn: () => undefined, error: () => undefined };

function recordingLog() {
  const errors: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const log: StoreLog = {
    warn: () => undefined,
    error: (obj, msg) => errors.push({ obj: obj as Record<string, unknown>, msg }),
  };
  return { log, errors };
}

storeContract('MemoryStore', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mg-memstore-'));
  const opened: Store[] = [];
  const open = async (): Promise<Store> => {
    const store = await MemoryStore.open({ dataDir, log: quiet });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe('MemoryStore files', () => {
  let dataDir: string;
  let stateDir: string;
  const stores: MemoryStore[] = [];
  const open = async (options: Partial<MemoryStoreOptions> = {}): Promise<MemoryStore> => {
    const store = await MemoryStore.open({ dataDir, log: quiet, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mg-memfiles-'));
    stateDir = join(dataDir, 'state');
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps one file per kind and a gzip per inventory under state/', async () => {
    const store = await open();
    await store.putOverride('a', override(1));
    await store.putHealth('a', healthRecord('up'));
    await store.putOffer(offer('o1', 1));
    await store.addStats({ downloads: [{ day: '2024-01-01', mirror: 'a', country: 'DE', count: 1, bytes: 1 }], files: [], impressions: [] });
    await store.appendAudit(auditEntry(1));
    await store.putInventory('acme-de', { scannedAt: 1, source: 'rsync', entries: [{ path: 'x', size: 1 }] });
    await store.close();
    expect((await readdir(stateDir)).sort()).toEqual(['audit.jsonl', 'health.json', 'inventories', 'offers.jsonl', 'overrides.json', 'stats.json']);
    expect(await readdir(join(stateDir, 'inventories'))).toEqual(['acme-de.jsonl.gz']);
    expect(JSON.parse(await readFile(join(stateDir, 'overrides.json'), 'utf8'))).toEqual({
      version: 1,
      overrides: { a: override(1) },
    });
  });

  it('keeps its state to the service user: files 0600, folders 0700 (offers hold contact details, the audit log who did what)', async () => {
    const store = await open();
    await store.putOverride('a', override(1));
    await store.putOffer(offer('o1', 1));
    await store.appendAudit(auditEntry(1));
    await store.putInventory('acme-de', { scannedAt: 1, source: 'rsync', entries: [{ path: 'x', size: 1 }] });
    await store.close();
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(stateDir)).toBe(0o700);
    expect(await mode(join(stateDir, 'inventories'))).toBe(0o700);
    for (const f of ['audit.jsonl', 'offers.jsonl', 'overrides.json', 'inventories/acme-de.jsonl.gz']) expect(await mode(join(stateDir, f)), f).toBe(0o600);
  });

  it('appends each offer to its log (one line per put, the last of an id wins), and reads the older offers.json once', async () => {
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'offers.json'), JSON.stringify({ version: 1, offers: [offer('old', 1)] }));
    const store = await open();
    expect((await store.getOffers()).map((o) => o.id)).toEqual(['old']);
    await expect(readFile(join(stateDir, 'offers.json'), 'utf8')).rejects.toThrow(/ENOENT/);
    const before = (await readFile(join(stateDir, 'offers.jsonl'), 'utf8')).split('\n').length;
    for (let i = 2; i < 12; i++) await store.putOffer(offer(`o${i}`, i));
    await store.putOffer({ ...offer('o2', 2), status: 'rejected' });
    const lines = (await readFile(join(stateDir, 'offers.jsonl'), 'utf8')).split('\n');
    expect(lines.length - before).toBe(11);
    expect(JSON.parse(lines.at(-2)!)).toMatchObject({ id: 'o2', status: 'rejected' });
    await store.close();
    const reopened = await open();
    expect((await reopened.getOffers()).length).toBe(11);
    expect((await reopened.getOffer('o2'))?.status).toBe('rejected');
    await reopened.close();
  });

  it('debounces snapshot writes and flushes them on close', async () => {
    const store = await open({ flushDelayMs: 60_000 });
    await store.putHealth('a', healthRecord('up'));
    await expect(readFile(join(stateDir, 'health.json'), 'utf8')).rejects.toThrow(/ENOENT/);
    await store.close();
    expect(Object.keys(JSON.parse(await readFile(join(stateDir, 'health.json'), 'utf8')).health)).toEqual(['a']);
  });

  it('has a staff change on disk as soon as putOverride resolves (it is audited)', async () => {
    const store = await open({ flushDelayMs: 60_000 });
    await store.putOverride('a', override(1));
    expect(JSON.parse(await readFile(join(stateDir, 'overrides.json'), 'utf8')).overrides).toEqual({ a: override(1) });
    await store.close();
  });

  it('writes gathered changes once the debounce delay passes, without close', async () => {
    const store = await open({ flushDelayMs: 20 });
    await store.putHealth('a', healthRecord('up'));
    await store.putHealth('b', healthRecord('down'));
    await vi.waitFor(async () => {
      const file = JSON.parse(await readFile(join(stateDir, 'health.json'), 'utf8'));
      expect(Object.keys(file.health)).toEqual(['a', 'b']);
    });
  });

  it('has an audit entry on disk as soon as appendAudit resolves', async () => {
    const store = await open({ flushDelayMs: 60_000 });
    await store.appendAudit(auditEntry(1));
    await store.appendAudit(auditEntry(2));
    const lines = (await readFile(join(stateDir, 'audit.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([auditEntry(1), auditEntry(2)]);
  });

  it('leaves no temp files behind, and removes those a crash left', async () => {
    const store = await open({ flushDelayMs: 1 });
    for (let i = 0; i < 20; i++) {
      await store.putOverride(`m${i}`, override(i));
      await store.putInventory('m', { scannedAt: i, source: 'probe', entries: [{ path: `f${i}`, size: i }] });
    }
    await store.close();
    const names = async () => [...(await readdir(stateDir)), ...(await readdir(join(stateDir, 'inventories')))];
    expect((await names()).filter((name) => name.includes('.tmp-'))).toEqual([]);

    // What a crash between write and rename leaves: a temp next to the real file.
    await writeFile(join(stateDir, 'overrides.json.tmp-deadbeef'), '{"half":');
    await writeFile(join(stateDir, 'inventories', 'm.jsonl.gz.tmp-deadbeef'), 'half');
    const again = await open();
    expect((await names()).filter((name) => name.includes('.tmp-'))).toEqual([]);
    expect((await again.getOverrides()).size).toBe(20);
    expect((await again.getInventory('m'))?.entries).toEqual([{ path: 'f19', size: 19 }]);
  });

  it('sets a corrupt state file aside, reports it by name and starts that kind empty', async () => {
    const first = await open();
    await first.putOverride('a', override(1));
    await first.putHealth('a', healthRecord('up'));
    await first.close();
    await writeFile(join(stateDir, 'overrides.json'), '{"version":1,"overrides":{"a":');
    // Valid JSON in the wrong shape is corrupt too.
    await writeFile(join(stateDir, 'offers.json'), JSON.stringify({ version: 1, offers: [{ id: 'o1' }] }));

    const { log, errors } = recordingLog();
    const store = await open({ log, clock: () => Date.UTC(2024, 4, 1, 12, 0, 0) });
    expect(await store.getOverrides()).toEqual(new Map());
    expect(await store.getOffers()).toEqual([]);
    expect(await store.getHealth()).toEqual(new Map([['a', healthRecord('up')]])); // untouched kinds still load

    const names = await readdir(stateDir);
    expect(names).toContain('overrides.json.corrupt-2024-05-01T12-00-00-000Z');
    expect(names).toContain('offers.json.corrupt-2024-05-01T12-00-00-000Z');
    expect(names).not.toContain('overrides.json');
    expect(errors.map((e) => e.obj['file'])).toEqual([join(stateDir, 'overrides.json'), join(stateDir, 'offers.json')]);

    // The set-aside copy is never overwritten by later writes.
    await store.putOverride('b', override(2));
    await store.close();
    expect(await readFile(join(stateDir, 'overrides.json.corrupt-2024-05-01T12-00-00-000Z'), 'utf8')).toBe('{"version":1,"overrides":{"a":');
  });

  it('sets a corrupt inventory aside and keeps the others', async () => {
    const first = await open();
    await first.putInventory('good', { scannedAt: 1, source: 'rsync', entries: [{ path: 'x', size: 1 }] });
    await first.close();
    const inventories = join(stateDir, 'inventories');
    await writeFile(join(inventories, 'bad.jsonl.gz'), 'not gzip at all');
    await writeFile(join(inventories, 'badline.jsonl.gz'), gzipSync('{"scannedAt":1,"source":"rsync"}\n{"path":"x","size":-1}\n'));

    const { log, errors } = recordingLog();
    const store = await open({ log });
    expect(await store.listInventories()).toEqual(['good']);
    expect(errors.map((e) => e.obj['file']).sort()).toEqual([join(inventories, 'bad.jsonl.gz'), join(inventories, 'badline.jsonl.gz')]);
    expect(String(errors.find((e) => String(e.obj['file']).includes('badline'))?.obj['reason'])).toMatch(/line 2/);
    expect((await readdir(inventories)).filter((name) => name.includes('.corrupt-'))).toHaveLength(2);
  });

  it('keeps the readable audit entries when the log ends in a torn append', async () => {
    await mkdir(stateDir, { recursive: true });
    const good = [auditEntry(1), auditEntry(2)].map((e) => JSON.stringify(e) + '\n').join('');
    await writeFile(join(stateDir, 'audit.jsonl'), good + '{"id":"a3","at":');

    const { log, errors } = recordingLog();
    const store = await open({ log });
    expect(await store.listAudit({})).toEqual([auditEntry(2), auditEntry(1)]);
    // (The entries name mirror changes with no overrides file: that is reported too, see stateCheck.test.ts.)
    expect(errors.filter((e) => e.obj['file'] === join(stateDir, 'audit.jsonl'))).toHaveLength(1);
    const aside = (await readdir(stateDir)).find((name) => name.startsWith('audit.jsonl.corrupt-'));
    expect(await readFile(join(stateDir, aside!), 'utf8')).toBe(good + '{"id":"a3","at":');

    await store.appendAudit(auditEntry(3));
    await store.close();
    const reopened = await open();
    expect((await reopened.listAudit({})).map((e) => e.id)).toEqual(['a3', 'a2', 'a1']);
  });

  it('refuses writes after close', async () => {
    const store = await open();
    await store.close();
    await expect(store.putOverride('a', override(1))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.appendAudit(auditEntry(1))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.putInventory('a', { scannedAt: 1, source: 'probe', entries: [] })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('round-trips a million-entry inventory through its gzip file', async () => {
    const entries = Array.from({ length: 1_000_000 }, (_, i) => ({ path: `d${i % 1000}/f${i}.bin`, size: i, mtime: 1_700_000_000 }));
    const store = await open();
    await store.putInventory('huge', { scannedAt: 1, source: 'rsync', entries });
    await store.close();
    const again = await open();
    const read = await again.getInventory('huge');
    expect(read?.entries.length).toBe(1_000_000);
    expect(read?.entries[999_999]).toEqual(entries[999_999]);
  }, 60_000);
});

describe('openStore', () => {
  it('opens the memory store for "memory"', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mg-open-'));
    const store = await openStore({ store: 'memory', dataDir, log: quiet });
    expect(store.kind).toBe('memory');
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('rejects anything else without echoing a password', async () => {
    await expect(openStore({ store: 'postgres://u:hunter2@db/x', dataDir: '/nonexistent' })).rejects.toThrow(/memory.*redis/);
    await expect(openStore({ store: 'postgres://u:hunter2@db/x', dataDir: '/nonexistent' })).rejects.not.toThrow(/hunter2/);
  });
});

describe('prepareDataDir', () => {
  it('creates a missing dataDir, and names what is wrong with one that cannot hold state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mg-datadir-'));
    try {
      await prepareDataDir(join(dir, 'new', 'var'));
      expect((await stat(join(dir, 'new', 'var'))).isDirectory()).toBe(true);
      await writeFile(join(dir, 'afile'), 'x');
      await expect(prepareDataDir(join(dir, 'afile'))).rejects.toThrow(
        new DataDirUnusableError(`dataDir ${join(dir, 'afile')}: not a directory (a file is in the way)`),
      );
      await expect(prepareDataDir(join(dir, 'afile', 'var'))).rejects.toThrow(/: not a directory \(a file is in the way\)$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
