// The one behaviour every Store must show; each implementation's test file runs it (as hono's routers share common.case.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArrivalRecord } from '../../src/core/arrivals.js';
import type { HealthRecord, InventoryEntry } from '../../src/core/model.js';
import type { Change, SessionRecord, Store, TokenRecord } from '../../src/store/store.js';
import type { AuditEntry, InventoryRecord, MirrorOverride, Offer, StoredLogo } from '../../src/core/records.js';

export interface StoreHarness {
  store: Store;
  /** A fresh store on the same data (dataDir / Redis prefix), as after a restart. */
  reopen: () => Promise<Store>;
  /** Closes every store opened and removes the data. */
  cleanup: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const override = (weight: number, extra: Partial<MirrorOverride> = {}): MirrorOverride => ({
  patch: { weight, sponsor: { name: 'ACME', url: 'https://acme.example' } },
  updatedAt: 1_700_000_000_000,
  updatedBy: 'ops',
  ...extra,
});

export const healthRecord = (health: HealthRecord['health'], extra: Partial<HealthRecord> = {}): HealthRecord => ({
  health,
  consecutiveFailures: health === 'down' ? 3 : 0,
  consecutiveSuccesses: health === 'up' ? 2 : 0,
  ...extra,
});

export const offer = (id: string, createdAt: number, extra: Partial<Offer> = {}): Offer => ({
  id,
  createdAt,
  status: 'offered',
  contact: { name: 'Ada', email: 'ada@example.org' },
  organisation: 'Example University',
  location: { country: 'DE', city: 'Berlin' },
  storageTB: 12,
  bandwidthMbps: 1000,
  ...extra,
});

export const auditEntry = (n: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  id: `a${n}`,
  at: 1_700_000_000_000 + n * 1000,
  actor: n % 2 === 0 ? 'ops' : 'acme',
  action: n % 3 === 0 ? 'mirror.drain' : 'mirror.update',
  target: `mirror:m${n % 4}`,
  ...extra,
});

export const tokenRecord = (id: string, extra: Partial<TokenRecord> = {}): TokenRecord => ({
  id,
  name: `provider-${id}`,
  role: 'provider',
  mirrors: ['acme-de'],
  hash: id.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
  createdAt: 1_700_000_000_000,
  createdBy: 'ops',
  ...extra,
});

export const storedLogo = (sha: string, extra: Partial<StoredLogo> = {}): StoredLogo => ({
  contentType: 'image/svg+xml',
  body: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg"><title>${sha}</title></svg>`).toString('base64'),
  sha256: sha,
  updatedAt: 1_700_000_000_000,
  updatedBy: 'acme',
  ...extra,
});

const UNICODE_PATHS: InventoryEntry[] = [
  { path: 'pub/日本語/ファイル.iso', size: 1, mtime: 1_700_000_000 },
  { path: 'pub/emoji/🚀 launch.txt', size: 2 },
  { path: 'pub/ümlaut/Grüße.tar.gz', size: 3, mtime: 0 },
  { path: 'pub/quotes/"x" \\ back\tslash', size: 0 },
  { path: 'pub/rtl/שלום.txt', size: 5, mtime: 1 },
];

export function bigInventory(count: number): InventoryRecord {
  const entries: InventoryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry: InventoryEntry = { path: `projects/p${i % 97}/release-${i}/file-${i}.tar.xz`, size: i * 7919 };
    if (i % 3 !== 0) entry.mtime = 1_700_000_000 + i;
    entries.push(entry);
  }
  return { scannedAt: 1_700_000_123_456, source: 'rsync', entries };
}

/** Waits for async deliveries, then a little longer so a duplicate would have arrived too. */
async function settle(check: () => void): Promise<void> {
  await vi.waitFor(check, { timeout: 3000, interval: 10 });
  await sleep(100);
  check();
}

export function storeContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await make();
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    it('starts empty', async () => {
      expect(await store.getOverrides()).toEqual(new Map());
      expect(await store.getHealth()).toEqual(new Map());
      expect(await store.listInventories()).toEqual([]);
      expect(await store.getOffers()).toEqual([]);
      expect(await store.listAudit({})).toEqual([]);
      expect(store.status().available).toBe(true);
    });

    describe('overrides', () => {
      it('puts, replaces and removes with null', async () => {
        await store.putOverride('acme-de', override(50));
        await store.putOverride('new-one', override(10, { added: true, lifecycle: 'syncing' }));
        expect(await store.getOverrides()).toEqual(
          new Map([
            ['acme-de', override(50)],
            ['new-one', override(10, { added: true, lifecycle: 'syncing' })],
          ]),
        );

        const drained = override(50, { drain: { startMs: 1_700_000_000_000, overMs: 600_000 }, updatedBy: 'sam' });
        await store.putOverride('acme-de', drained);
        expect((await store.getOverrides()).get('acme-de')).toEqual(drained);

        await store.putOverride('acme-de', null);
        await store.putOverride('never-there', null);
        expect([...(await store.getOverrides()).keys()]).toEqual(['new-one']);
      });

      it('hands out copies: changing a result changes nothing stored', async () => {
        await store.putOverride('acme-de', override(50));
        const read = await store.getOverrides();
        read.get('acme-de')!.patch.weight = 1;
        read.delete('acme-de');
        expect((await store.getOverrides()).get('acme-de')).toEqual(override(50));
      });
    });

    describe('health', () => {
      it('puts and overwrites one record per mirror', async () => {
        await store.putHealth('a', healthRecord('up', { latencyMs: 12.5, checkedAt: 5, lastSync: 7, lagSeconds: 30 }));
        await store.putHealth('b', healthRecord('down', { reason: 'HTTP 503' }));
        await store.putHealth('a', healthRecord('unknown'));
        expect(await store.getHealth()).toEqual(
          new Map([
            ['a', healthRecord('unknown')],
            ['b', healthRecord('down', { reason: 'HTTP 503' })],
          ]),
        );
      });
    });

    describe('inventories', () => {
      it('round-trips unicode paths, missing mtimes and zero sizes', async () => {
        expect(await store.getInventory('acme-de')).toBeUndefined();
        const record: InventoryRecord = { scannedAt: 42, source: 'http-manifest', entries: UNICODE_PATHS };
        await store.putInventory('acme-de', record);
        const read = await store.getInventory('acme-de');
        expect(read).toEqual(record);
        expect(read!.entries[1]).not.toHaveProperty('mtime');
      });

      it('round-trips 200,000 entries', async () => {
        const record = bigInventory(200_000);
        await store.putInventory('big', record);
        const read = await store.getInventory('big');
        expect(read?.entries.length).toBe(200_000);
        expect(read).toEqual(record);
      });

      it('replaces, lists and deletes', async () => {
        await store.putInventory('b', { scannedAt: 1, source: 'probe', entries: [{ path: 'x', size: 1 }] });
        await store.putInventory('a', { scannedAt: 1, source: 'rsync', entries: [] });
        await store.putInventory('b', { scannedAt: 2, source: 'rsync', entries: [{ path: 'y', size: 2 }] });
        expect(await store.listInventories()).toEqual(['a', 'b']);
        expect(await store.getInventory('b')).toEqual({ scannedAt: 2, source: 'rsync', entries: [{ path: 'y', size: 2 }] });
        expect(await store.getInventory('a')).toEqual({ scannedAt: 1, source: 'rsync', entries: [] });

        await store.deleteInventory('b');
        await store.deleteInventory('never-there');
        expect(await store.listInventories()).toEqual(['a']);
        expect(await store.getInventory('b')).toBeUndefined();
      });
    });

    describe('offers', () => {
      it('lists by createdAt, gets one, updates in place', async () => {
        await store.putOffer(offer('o2', 2000));
        await store.putOffer(offer('o3', 3000, { peerings: 'DE-CIX', note: 'hello' }));
        await store.putOffer(offer('o1', 1000));
        expect((await store.getOffers()).map((o) => o.id)).toEqual(['o1', 'o2', 'o3']);
        expect(await store.getOffer('o3')).toEqual(offer('o3', 3000, { peerings: 'DE-CIX', note: 'hello' }));
        expect(await store.getOffer('nope')).toBeUndefined();

        const accepted = offer('o2', 2000, { status: 'accepted', decidedAt: 5000, decidedBy: 'ops', mirrorId: 'example-de' });
        await store.putOffer(accepted);
        expect(await store.getOffer('o2')).toEqual(accepted);
        expect((await store.getOffers()).map((o) => o.id)).toEqual(['o1', 'o2', 'o3']);
      });
    });

    describe('tokens', () => {
      it('lists by creation, replaces by id (a revocation), and hands out copies', async () => {
        await store.putToken(tokenRecord('t2', { createdAt: 2 }));
        await store.putToken(tokenRecord('t1', { createdAt: 1, role: 'staff', mirrors: [] }));
        expect((await store.getTokens()).map((t) => t.id)).toEqual(['t1', 't2']);
        const revoked = tokenRecord('t2', { createdAt: 2, revokedAt: 5, revokedBy: 'ops', offer: 'o1' });
        await store.putToken(revoked);
        expect((await store.getTokens())[1]).toEqual(revoked);
        const read = await store.getTokens();
        read[0]!.name = 'mallory';
        expect((await store.getTokens())[0]!.name).toBe('provider-t1');
      });
    });

    describe('sessions', () => {
      it('keeps a session until it is ended or expires', async () => {
        const now = Date.now();
        const session: SessionRecord = { tokenRef: 'runtime:t1', createdAt: now, expiresAt: now + 60_000 };
        expect(await store.getSession('k1')).toBeUndefined();
        await store.putSession('k1', session);
        await store.putSession('k2', { tokenRef: 'config:ops', createdAt: now, expiresAt: now + 400 });
        expect(await store.getSession('k1')).toEqual(session);
        expect(await store.getSession('k2')).toMatchObject({ tokenRef: 'config:ops' });
        await store.putSession('k1', null);
        expect(await store.getSession('k1')).toBeUndefined();
        await sleep(600);
        expect(await store.getSession('k2')).toBeUndefined();
      });
    });

    describe('logos', () => {
      it('puts, replaces and removes one uploaded logo per mirror', async () => {
        await store.putLogo('acme-de', storedLogo('aa'));
        await store.putLogo('other', storedLogo('bb', { contentType: 'image/png' }));
        await store.putLogo('acme-de', storedLogo('cc'));
        expect(await store.getLogos()).toEqual(
          new Map([
            ['acme-de', storedLogo('cc')],
            ['other', storedLogo('bb', { contentType: 'image/png' })],
          ]),
        );
        await store.putLogo('other', null);
        expect([...(await store.getLogos()).keys()]).toEqual(['acme-de']);
      });
    });

    describe('origin arrivals', () => {
      const arrival = (path: string, at: number, over: Partial<ArrivalRecord> = {}): ArrivalRecord => ({
        path,
        size: 10,
        mtime: 1_700_000_000,
        sha256: null,
        at,
        isNew: true,
        ...over,
      });

      it('keeps the earlier sighting of one version, and a later version over an earlier one', async () => {
        const first = await store.noteArrivals([arrival('pub/a.iso', 2000), arrival('pub/Ünï b.txt', 2000, { sha256: 'ab'.repeat(32), mtime: null })]);
        expect(first).toEqual([arrival('pub/a.iso', 2000), arrival('pub/Ünï b.txt', 2000, { sha256: 'ab'.repeat(32), mtime: null })]);
        // Another instance saw the same versions later: the store answers the first sighting.
        const again = await store.noteArrivals([arrival('pub/a.iso', 2005), arrival('pub/Ünï b.txt', 2004, { sha256: 'ab'.repeat(32), mtime: 1_700_000_000 })]);
        expect(again.map((r) => r.at)).toEqual([2000, 2000]);
        // A new version replaces the old one; a stale instance noting an older version changes nothing.
        const changed = await store.noteArrivals([arrival('pub/a.iso', 3000, { size: 11, isNew: false })]);
        expect(changed).toEqual([arrival('pub/a.iso', 3000, { size: 11, isNew: false })]);
        expect(await store.noteArrivals([arrival('pub/a.iso', 2500, { size: 12 })])).toEqual([arrival('pub/a.iso', 3000, { size: 11, isNew: false })]);
        const all = await store.getArrivals(0);
        expect(all.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
          arrival('pub/a.iso', 3000, { size: 11, isNew: false }),
          arrival('pub/Ünï b.txt', 2000, { sha256: 'ab'.repeat(32), mtime: null }),
        ]);
      });

      it('forgets arrivals before the cutoff it is read with', async () => {
        await store.noteArrivals([arrival('old', 100), arrival('new', 5000)]);
        expect((await store.getArrivals(1000)).map((r) => r.path)).toEqual(['new']);
        expect((await store.getArrivals(0)).map((r) => r.path)).toEqual(['new']);
      });

      it('notes more arrivals than one chunk at once', async () => {
        const many = Array.from({ length: 1234 }, (_, i) => arrival(`pub/f${i}`, 4000 + i));
        expect(await store.noteArrivals(many)).toEqual(many);
        expect(await store.getArrivals(0)).toHaveLength(1234);
      });
    });

    describe('epoch', () => {
      it('stays the same while the data lives', async () => {
        const first = await store.epoch();
        expect(first).toMatch(/\S/);
        expect(await store.epoch()).toBe(first);
      });
    });

    describe('stats', () => {
      beforeEach(async () => {
        await store.addStats({
          downloads: [
            { day: '2024-05-01', mirror: 'a', country: 'DE', count: 3, bytes: 300 },
            { day: '2024-05-01', mirror: 'b', country: 'FR', count: 1, bytes: 100 },
            { day: '2024-05-02', mirror: 'a', country: 'FR', count: 2, bytes: 200 },
            { day: '2024-05-03', mirror: 'b', country: 'DE', count: 10, bytes: 1000 },
            { day: '2024-04-30', mirror: 'a', country: 'DE', count: 100, bytes: 1 },
          ],
          files: [
            { day: '2024-05-01', path: 'x.iso', count: 3, mirror: 'a' },
            { day: '2024-05-01', path: 'y.iso', count: 1, mirror: 'b' },
            { day: '2024-05-02', path: 'y.iso', count: 2, mirror: 'a' },
            { day: '2024-05-03', path: 'z|pipe.iso', count: 10, mirror: 'b' },
            { day: '2024-05-02', path: 'unattributed.iso', count: 7 },
          ],
          impressions: [
            { day: '2024-05-01', mirror: 'a', count: 4 },
            { day: '2024-05-02', mirror: 'b', count: 1 },
          ],
        });
        // A second batch adds to the same counters.
        await store.addStats({
          downloads: [{ day: '2024-05-01', mirror: 'a', country: 'DE', count: 1, bytes: 50 }],
          files: [{ day: '2024-05-01', path: 'x.iso', count: 1, mirror: 'a' }],
          impressions: [{ day: '2024-05-01', mirror: 'a', count: 1 }],
        });
      });

      it('sums an inclusive day range across all mirrors', async () => {
        const result = await store.queryStats({ from: '2024-05-01', to: '2024-05-03' });
        expect(result.byDay).toEqual([
          { day: '2024-05-01', downloads: 5, bytes: 450, impressions: 5 },
          { day: '2024-05-02', downloads: 2, bytes: 200, impressions: 1 },
          { day: '2024-05-03', downloads: 10, bytes: 1000, impressions: 0 },
        ]);
        expect(result.byMirror).toEqual([
          { mirror: 'b', downloads: 11, bytes: 1100, impressions: 1 },
          { mirror: 'a', downloads: 6, bytes: 550, impressions: 5 },
        ]);
        expect(result.byCountry).toEqual([
          { country: 'DE', downloads: 14, bytes: 1350 },
          { country: 'FR', downloads: 3, bytes: 300 },
        ]);
        expect(result.topFiles).toEqual([
          { path: 'z|pipe.iso', downloads: 10 },
          { path: 'unattributed.iso', downloads: 7 },
          { path: 'x.iso', downloads: 4 },
          { path: 'y.iso', downloads: 3 },
        ]);
        expect(result.totals).toEqual({ downloads: 17, bytes: 1650, impressions: 6 });
      });

      it('keeps to the range ends and to a provider scope', async () => {
        const oneDay = await store.queryStats({ from: '2024-05-02', to: '2024-05-02' });
        expect(oneDay.totals).toEqual({ downloads: 2, bytes: 200, impressions: 1 });

        const scoped = await store.queryStats({ from: '2024-04-01', to: '2024-05-31', mirrors: ['a'] });
        expect(scoped.byMirror.map((row) => row.mirror)).toEqual(['a']);
        expect(scoped.totals).toEqual({ downloads: 106, bytes: 551, impressions: 5 });
        expect(scoped.byDay.map((row) => row.day)).toEqual(['2024-04-30', '2024-05-01', '2024-05-02']);
        // Files served by other mirrors, or by no known mirror, stay out of a provider's view.
        expect(scoped.topFiles).toEqual([
          { path: 'x.iso', downloads: 4 },
          { path: 'y.iso', downloads: 2 },
        ]);

        const nothing = await store.queryStats({ from: '2024-05-01', to: '2024-05-03', mirrors: [] });
        expect(nothing.totals).toEqual({ downloads: 0, bytes: 0, impressions: 0 });
        expect(nothing.topFiles).toEqual([]);

        const empty = await store.queryStats({ from: '2025-01-01', to: '2025-12-31' });
        expect(empty).toEqual({
          byDay: [],
          byMirror: [],
          byCountry: [],
          topFiles: [],
          totals: { downloads: 0, bytes: 0, impressions: 0 },
        });
      });

      it('rejects a batch with a malformed day or negative count', async () => {
        await expect(
          store.addStats({ downloads: [{ day: '1 May', mirror: 'a', country: 'DE', count: 1, bytes: 1 }], files: [], impressions: [] }),
        ).rejects.toThrow();
        await expect(store.addStats({ downloads: [], files: [], impressions: [{ day: '2024-05-01', mirror: 'a', count: -1 }] })).rejects.toThrow();
        expect((await store.queryStats({ from: '2024-05-01', to: '2024-05-01' })).totals.impressions).toBe(5);
      });
    });

    describe('audit', () => {
      beforeEach(async () => {
        for (let n = 1; n <= 12; n++) await store.appendAudit(auditEntry(n, n === 5 ? { before: { weight: 1 }, after: { weight: 2 } } : {}));
      });

      it('lists newest first, with limit', async () => {
        expect((await store.listAudit({})).map((e) => e.id)).toEqual(Array.from({ length: 12 }, (_, i) => `a${12 - i}`));
        expect((await store.listAudit({ limit: 3 })).map((e) => e.id)).toEqual(['a12', 'a11', 'a10']);
        expect((await store.listAudit({ actor: 'ops' })).find((e) => e.id === 'a5')).toBeUndefined();
        expect((await store.listAudit({ target: 'mirror:m1' }))[0]).toEqual(auditEntry(9));
        expect((await store.listAudit({ actor: 'acme' })).find((e) => e.id === 'a5')).toEqual(auditEntry(5, { before: { weight: 1 }, after: { weight: 2 } }));
      });

      it('filters by actor, target, action and an inclusive time window', async () => {
        const ids = async (query: Parameters<Store['listAudit']>[0]) => (await store.listAudit(query)).map((e) => e.id);
        expect(await ids({ actor: 'ops' })).toEqual(['a12', 'a10', 'a8', 'a6', 'a4', 'a2']);
        expect(await ids({ target: 'mirror:m1' })).toEqual(['a9', 'a5', 'a1']);
        expect(await ids({ action: 'mirror.drain' })).toEqual(['a12', 'a9', 'a6', 'a3']);
        expect(await ids({ since: auditEntry(4).at, until: auditEntry(6).at })).toEqual(['a6', 'a5', 'a4']);
        expect(await ids({ actor: 'ops', action: 'mirror.drain', limit: 1 })).toEqual(['a12']);
        expect(await ids({ actor: 'nobody' })).toEqual([]);
      });

      it('filters by any of several targets (a provider scope)', async () => {
        const ids = (await store.listAudit({ targets: ['mirror:m1', 'mirror:m2'] })).map((e) => e.id);
        expect(ids).toEqual(['a10', 'a9', 'a6', 'a5', 'a2', 'a1']);
        expect(await store.listAudit({ targets: [] })).toEqual([]);
      });

      it('merges back missing entries in time order, never duplicating or changing one', async () => {
        const older = auditEntry(0, { id: 'restored-old', at: auditEntry(3).at + 1 });
        const newer = auditEntry(0, { id: 'restored-new', at: auditEntry(12).at + 1 });
        const changed = { ...auditEntry(7), actor: 'mallory' };
        expect(await store.mergeAudit([newer, older, changed, auditEntry(2)])).toBe(2);
        const all = await store.listAudit({});
        expect(all.map((e) => e.id)).toEqual(['restored-new', 'a12', 'a11', 'a10', 'a9', 'a8', 'a7', 'a6', 'a5', 'a4', 'restored-old', 'a3', 'a2', 'a1']);
        expect(all.find((e) => e.id === 'a7')!.actor).toBe(auditEntry(7).actor);
        expect(await store.mergeAudit([older])).toBe(0);
        await store.appendAudit(auditEntry(13));
        expect((await store.listAudit({ limit: 1 }))[0]!.id).toBe('a13');
      });

      it('is append-only: no way to change or delete an entry', async () => {
        const methods = new Set<string>();
        for (let proto: object | null = store; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
          for (const key of Object.getOwnPropertyNames(proto)) methods.add(key);
        }
        const rewriting = [...methods].filter((key) => /audit/i.test(key) && /update|delete|remove|edit|set|put|clear|trim|replace|change/i.test(key));
        expect(rewriting).toEqual([]);
        const listed = await store.listAudit({ limit: 1 });
        listed[0]!.actor = 'mallory';
        expect((await store.listAudit({ limit: 1 }))[0]!.actor).toBe('ops');
        expect(await store.listAudit({})).toHaveLength(12);
      });
    });

    describe('changes', () => {
      it('delivers each change once to each subscriber, the publisher included, and stops after unsubscribe', async () => {
        const first: Change[] = [];
        const second: Change[] = [];
        const stopFirst = store.subscribe((change) => first.push(change));
        store.subscribe((change) => second.push(change));
        const changes: Change[] = [
          { kind: 'override', mirror: 'a' },
          { kind: 'health', mirror: 'b' },
          { kind: 'inventory', mirror: 'c' },
          { kind: 'offer', id: 'o1' },
          { kind: 'token', id: 't1' },
          { kind: 'logo', mirror: 'd' },
          { kind: 'origin', from: 'instance-1' },
        ];
        for (const change of changes) await store.publish(change);
        await settle(() => {
          expect(first).toEqual(changes);
          expect(second).toEqual(changes);
        });

        stopFirst();
        await store.publish({ kind: 'override', mirror: 'z' });
        await settle(() => expect(second).toHaveLength(8));
        expect(first).toHaveLength(7);
      });

      it('delivers asynchronously, never inside publish()', async () => {
        let delivered = false;
        store.subscribe(() => {
          delivered = true;
        });
        const publishing = store.publish({ kind: 'offer', id: 'x' });
        expect(delivered).toBe(false);
        await publishing;
        await settle(() => expect(delivered).toBe(true));
      });

      it('keeps delivering to others when one listener throws', async () => {
        const seen: Change[] = [];
        store.subscribe(() => {
          throw new Error('listener bug');
        });
        store.subscribe((change) => seen.push(change));
        await store.publish({ kind: 'health', mirror: 'a' });
        await settle(() => expect(seen).toHaveLength(1));
      });
    });

    describe('download claims', () => {
      it('grants each key once until it expires, and reports per key', async () => {
        expect(await store.claimOnce([], 1000)).toEqual([]);
        expect(await store.claimOnce(['a', 'b'], 300)).toEqual([true, true]);
        expect(await store.claimOnce(['a', 'c', 'b'], 300)).toEqual([false, true, false]);
        await new Promise((r) => setTimeout(r, 400));
        expect(await store.claimOnce(['a'], 300)).toEqual([true]);
      });
    });

    describe('rate-limit hits', () => {
      it('counts hits per key in a window that starts with the first, takes one back, and starts anew after it', async () => {
        const before = Date.now();
        const first = await store.countHit('api:203.0.113.7', 300, 1);
        expect(first.hits).toBe(1);
        expect(first.resetAtMs).toBeGreaterThanOrEqual(before + 200);
        expect(first.resetAtMs).toBeLessThanOrEqual(Date.now() + 300);
        expect((await store.countHit('api:203.0.113.7', 300, 1)).hits).toBe(2);
        expect((await store.countHit('api:198.51.100.1', 300, 1)).hits).toBe(1);
        const back = await store.countHit('api:203.0.113.7', 300, -1);
        expect(back.hits).toBe(1);
        // The window is the first hit's: later hits do not push its end out.
        expect(Math.abs(back.resetAtMs - first.resetAtMs)).toBeLessThan(100);
        // Taking back from a key with no window is nothing, and never goes below zero.
        expect((await store.countHit('api:192.0.2.1', 300, -1)).hits).toBe(0);
        expect((await store.countHit('api:192.0.2.1', 300, 1)).hits).toBe(1);
        await new Promise((r) => setTimeout(r, 400));
        expect((await store.countHit('api:203.0.113.7', 300, 1)).hits).toBe(1);
      });
    });

    describe('leases', () => {
      it('grants one holder at a time until the ttl passes; the holder renews', async () => {
        if (store.kind === 'memory') {
          // One process is the whole deployment: every caller holds every lease.
          expect(await store.acquireLease('probe', 'x', 300)).toBe(true);
          expect(await store.acquireLease('probe', 'y', 300)).toBe(true);
          return;
        }
        // Margins of a few hundred ms, so a loaded test machine cannot turn a sleep into an expiry.
        expect(await store.acquireLease('probe', 'x', 800)).toBe(true);
        expect(await store.acquireLease('probe', 'y', 800)).toBe(false);
        expect(await store.acquireLease('scan', 'y', 800)).toBe(true); // leases are per name
        await sleep(500);
        expect(await store.acquireLease('probe', 'x', 800)).toBe(true); // renewed: now runs until ~1300 ms
        await sleep(500);
        expect(await store.acquireLease('probe', 'y', 800)).toBe(false); // past the first ttl, within the renewal
        await sleep(900);
        expect(await store.acquireLease('probe', 'y', 800)).toBe(true);
        expect(await store.acquireLease('probe', 'x', 800)).toBe(false);
      });
    });

    it('keeps everything across a restart', async () => {
      await store.putOverride('acme-de', override(50, { drain: { startMs: 1, overMs: 0 } }));
      await store.putOverride('gone', override(1));
      await store.putOverride('gone', null);
      await store.putHealth('acme-de', healthRecord('down', { reason: 'timeout after 5000 ms' }));
      await store.putInventory('acme-de', { scannedAt: 9, source: 'rsync', entries: UNICODE_PATHS });
      await store.putInventory('deleted', { scannedAt: 9, source: 'rsync', entries: [] });
      await store.deleteInventory('deleted');
      await store.putOffer(offer('o1', 1000));
      await store.putOffer(offer('o2', 500, { status: 'rejected', decisionNote: 'too small' }));
      await store.addStats({
        downloads: [{ day: '2024-06-01', mirror: 'acme-de', country: 'NL', count: 2, bytes: 20 }],
        files: [{ day: '2024-06-01', path: 'f.iso', count: 2, mirror: 'acme-de' }],
        impressions: [{ day: '2024-06-01', mirror: 'acme-de', count: 1 }],
      });
      await store.appendAudit(auditEntry(1));
      await store.appendAudit(auditEntry(2));
      await store.putToken(tokenRecord('t1', { revokedAt: 9, revokedBy: 'ops' }));
      const session: SessionRecord = { tokenRef: 'runtime:t1', createdAt: Date.now(), expiresAt: Date.now() + 60_000 };
      await store.putSession('k1', session);
      await store.putLogo('acme-de', storedLogo('aa'));
      const epoch = await store.epoch();
      await store.close();

      const again = await harness.reopen();
      expect(await again.getOverrides()).toEqual(new Map([['acme-de', override(50, { drain: { startMs: 1, overMs: 0 } })]]));
      expect(await again.getHealth()).toEqual(new Map([['acme-de', healthRecord('down', { reason: 'timeout after 5000 ms' })]]));
      expect(await again.listInventories()).toEqual(['acme-de']);
      expect(await again.getInventory('acme-de')).toEqual({ scannedAt: 9, source: 'rsync', entries: UNICODE_PATHS });
      expect((await again.getOffers()).map((o) => [o.id, o.status])).toEqual([
        ['o2', 'rejected'],
        ['o1', 'offered'],
      ]);
      const stats = await again.queryStats({ from: '2024-06-01', to: '2024-06-01' });
      expect(stats.totals).toEqual({ downloads: 2, bytes: 20, impressions: 1 });
      expect(stats.topFiles).toEqual([{ path: 'f.iso', downloads: 2 }]);
      expect(await again.listAudit({})).toEqual([auditEntry(2), auditEntry(1)]);
      expect(await again.getTokens()).toEqual([tokenRecord('t1', { revokedAt: 9, revokedBy: 'ops' })]);
      expect(await again.getSession('k1')).toEqual(session);
      expect(await again.getLogos()).toEqual(new Map([['acme-de', storedLogo('aa')]]));
      expect(await again.epoch()).toBe(epoch);

      // And it goes on writing after the restart.
      await again.appendAudit(auditEntry(3));
      expect((await again.listAudit({ limit: 1 }))[0]).toEqual(auditEntry(3));
    });

    it('closes idempotently', async () => {
      await store.close();
      await store.close();
    });
  });
}
