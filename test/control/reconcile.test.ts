// At start, audited changes whose write was lost are rolled forward; what is already there is left alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcileAudit } from '../../src/control/reconcile.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import type { AuditEntry, MirrorOverride, Offer } from '../../src/core/records.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const NOW = 1_800_000_000_000;
const o = (weight: number, at: number): MirrorOverride => ({ patch: { weight }, updatedAt: at, updatedBy: 'ops' });
const offer = (status: Offer['status']): Offer => ({
  id: 'f1',
  createdAt: NOW - 5_000,
  status,
  contact: { name: 'Ada', email: 'ada@example.org' },
  organisation: 'Example',
  location: { country: 'DE' },
  storageTB: 10,
  bandwidthMbps: 1000,
});

describe('reconcileAudit', () => {
  let dataDir: string;
  let store: MemoryStore;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mirrorgate-reconcile-'));
    store = await MemoryStore.open({ dataDir, log: quiet });
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const audit = (n: number, target: string, action: string, applies?: AuditEntry['applies']) =>
    store.appendAudit({ id: `e${n}`, at: NOW - 10_000 + n, actor: 'ops', action, target, ...(applies ? { applies } : {}) });

  it('rolls forward what the log applied and the store lacks, and nothing else', async () => {
    // m1: written; m2: audited, write lost; m3: deleted in the log, still stored; m4: stored newer than its entry.
    await audit(1, 'mirror:m1', 'mirror.update', { override: o(1, NOW - 9_999) });
    await store.putOverride('m1', o(1, NOW - 9_999));
    await store.putOverride('m2', o(7, NOW - 20_000));
    await audit(2, 'mirror:m2', 'mirror.update', { override: o(2, NOW - 9_998) });
    await store.putOverride('m3', o(3, NOW - 20_000));
    await audit(3, 'mirror:m3', 'mirror.delete', { override: null });
    await audit(4, 'mirror:m4', 'mirror.update', { override: o(4, NOW - 9_996) });
    await store.putOverride('m4', o(40, NOW));
    await audit(5, 'offer:f1', 'offer.create', { offer: offer('offered') });
    await audit(6, 'mirror:m1', 'mirror.probe');

    const changes: string[] = [];
    store.subscribe((c) => changes.push(JSON.stringify(c)));
    const result = await reconcileAudit(store, { clock: () => NOW, log: quiet });
    expect(result.rolledForward.sort()).toEqual(['mirror:m2', 'mirror:m3', 'offer:f1']);
    const overrides = await store.getOverrides();
    expect(overrides.get('m1')).toEqual(o(1, NOW - 9_999));
    expect(overrides.get('m2')).toEqual(o(2, NOW - 9_998));
    expect(overrides.has('m3')).toBe(false);
    expect(overrides.get('m4')).toEqual(o(40, NOW));
    expect((await store.getOffer('f1'))?.status).toBe('offered');
    // Every instance hears of it.
    await new Promise((r) => setTimeout(r, 10));
    expect(changes).toContain(JSON.stringify({ kind: 'override', mirror: 'm2' }));

    // A second run finds nothing to do.
    expect((await reconcileAudit(store, { clock: () => NOW, log: quiet })).rolledForward).toEqual([]);
  });

  it('rolls a decision forward onto the stored offer, keeping what only the store holds', async () => {
    await store.putOffer({ ...offer('offered'), statusKeyHash: 'a'.repeat(64) });
    await audit(1, 'offer:f1', 'offer.reject', { offer: { ...offer('rejected'), decidedBy: 'ops' } });
    await reconcileAudit(store, { clock: () => NOW, log: quiet });
    expect(await store.getOffer('f1')).toMatchObject({ status: 'rejected', decidedBy: 'ops', statusKeyHash: 'a'.repeat(64) });
  });

  it('rolls a token revocation forward', async () => {
    await store.putToken({ id: 't1', name: 'edge', role: 'staff', mirrors: [], hash: 'b'.repeat(64), createdAt: NOW - 50_000, createdBy: 'ops' });
    await audit(1, 'token:t1', 'token.revoke');
    await reconcileAudit(store, { clock: () => NOW, log: quiet });
    expect((await store.getTokens())[0]).toMatchObject({ revokedBy: 'ops', revokedAt: NOW - 10_000 + 1 });
  });
});
