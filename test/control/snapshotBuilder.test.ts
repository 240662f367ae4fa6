import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec } from '../../src/core/model.js';
import { mirrorSpec } from '../support/specs.js';

const spec = (id: string, over: Partial<MirrorSpec> = {}): MirrorSpec => mirrorSpec(id, over);
const client = { ip: '203.0.113.1', country: 'DE', continent: 'EU' as const, lat: 52, lon: 13, https: false };

describe('SnapshotBuilder', () => {
  it('publishes a new immutable snapshot on every change and keeps old ones intact', () => {
    const files = FileIndex.from([{ path: 'a', size: 1, mtime: 10 }]);
    const b = new SnapshotBuilder({
      mirrors: [spec('m1')],
      files,
      originBaseUrl: 'https://o.example/',
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    });
    const seen: number[] = [];
    b.onChange((s) => seen.push(s.version));
    const first = b.current();
    b.setState('m1', { health: 'down', reason: 'refused' });
    expect(decide(first, 'a', client, { nowMs: 0 }).outcome).toBe('mirror');
    expect(decide(b.current(), 'a', client, { nowMs: 0 }).outcome).toBe('origin');
    expect(seen).toEqual([1]);
    // Rule classes are reused when neither files nor rules changed.
    expect(b.current().rules).toBe(first.rules);
  });

  it('carries inventories to a new origin index and serves new files from the origin until seen', () => {
    const files = FileIndex.from([{ path: 'a', size: 1, mtime: 10 }]);
    const b = new SnapshotBuilder({
      mirrors: [spec('m1')],
      files,
      originBaseUrl: 'https://o.example/',
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    });
    b.setInventory('m1', [{ path: 'a', size: 1, mtime: 10 }]);
    b.setFiles(
      FileIndex.from([
        { path: 'a', size: 1, mtime: 10 },
        { path: 'b', size: 5, mtime: 20 },
      ]),
    );
    expect(decide(b.current(), 'a', client, { nowMs: 0 }).outcome).toBe('mirror');
    expect(decide(b.current(), 'b', client, { nowMs: 0 }).outcome).toBe('origin');
    expect(decide(b.current(), 'c', client, { nowMs: 0 }).outcome).toBe('not-found');
  });

  it('matches what a scan listed before the origin index had it, once the index has it in that version', () => {
    const b = new SnapshotBuilder({
      mirrors: [spec('m1')],
      files: FileIndex.from([{ path: 'a', size: 1, mtime: 10 }]),
      originBaseUrl: 'https://o.example/',
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    });
    b.setState('m1', { health: 'up', lastSync: 1e12 });
    // The scan ran just before the origin index showed b and c: it lists them, the index does not know them yet.
    b.setInventory('m1', [
      { path: 'a', size: 1, mtime: 10 },
      { path: 'b', size: 2, mtime: 20 },
      { path: 'c', size: 3, mtime: 30 },
    ]);
    b.setFiles(
      FileIndex.from([
        { path: 'a', size: 1, mtime: 10 },
        { path: 'b', size: 2, mtime: 20 },
        { path: 'c', size: 4, mtime: 31 }, // another version than the mirror's
      ]),
    );
    const s = b.current();
    expect(decide(s, 'b', client, { nowMs: 0 }).chosen?.mirror.spec.id).toBe('m1');
    expect(decide(s, 'c', client, { nowMs: 0 }).outcome).toBe('origin');
    expect(decide(s, 'a', client, { nowMs: 0 }).chosen?.mirror.spec.id).toBe('m1');
  });
});
