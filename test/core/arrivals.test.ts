// A file version that arrived at the origin while we watched is compared with a mirror's last sync by
// the time it arrived, not only by its mtime: a file copied in with an old mtime kept is still new.
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { arrivalRecord, arrivalsSince, keptArrival, matchArrivals, type ArrivalRecord } from '../../src/core/arrivals.js';
import { decide } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { ClientFacts, OriginFile } from '../../src/core/model.js';
import { mirrorCarries, whyNotCarried } from '../../src/core/snapshot.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/core/snapshotCodec.js';
import { mirrorSpec } from '../support/specs.js';

const OLD = 1_700_000_000;
const SYNC = OLD + 1000;
const NOW_MS = (SYNC + 5000) * 1000;
const HASH_A = 'aa'.repeat(32);
const HASH_B = 'bb'.repeat(32);
const BERLIN: ClientFacts = { ip: '203.0.113.7', country: 'DE', continent: 'EU', lat: 52.5, lon: 13.4, https: false };

const before = FileIndex.from([
  { path: 'pub/kept.iso', size: 10, mtime: OLD, sha256: HASH_A },
  { path: 'pub/changed.txt', size: 20, mtime: OLD, sha256: HASH_A },
  { path: 'pub/gone.txt', size: 30, mtime: OLD },
]);
const after = FileIndex.from([
  { path: 'pub/new.iso', size: 40, mtime: OLD },
  { path: 'pub/kept.iso', size: 10, mtime: OLD, sha256: HASH_A },
  // Same size and mtime, other bytes (cp -p of a rebuilt file): a new version all the same.
  { path: 'pub/changed.txt', size: 20, mtime: OLD, sha256: HASH_B },
]);

describe('arrivalsSince', () => {
  it('names new paths and changed versions, arrived at the last look that did not show them', () => {
    const { carried, fresh } = arrivalsSince(before, after, SYNC + 10);
    expect(carried).toEqual([]);
    expect(fresh).toEqual([
      { file: after.lookup('pub/new.iso'), at: SYNC + 10, isNew: true },
      { file: after.lookup('pub/changed.txt'), at: SYNC + 10, isNew: false },
    ]);
  });

  it('dates a version by its mtime where that is newer than anything the origin held before', () => {
    const later = FileIndex.from([
      { path: 'pub/kept.iso', size: 10, mtime: OLD, sha256: HASH_A },
      { path: 'pub/built.iso', size: 50, mtime: OLD + 7 },
      { path: 'pub/changed.txt', size: 21, mtime: OLD + 9 },
      { path: 'pub/nodate.txt', size: 22 },
    ]);
    // changed.txt, dated by its new mtime, needs no row: its mtime says it all.
    expect(arrivalsSince(before, later, SYNC + 10).fresh).toEqual([
      { file: 1, at: OLD + 7, isNew: true },
      { file: 3, at: SYNC + 10, isNew: true },
    ]);
  });

  it('carries earlier arrivals of versions that did not change, and only those', () => {
    const watched = before.withArrivals([
      { file: before.lookup('pub/kept.iso'), at: SYNC - 50, isNew: true },
      { file: before.lookup('pub/changed.txt'), at: SYNC - 40, isNew: true },
    ]);
    const { carried, fresh } = arrivalsSince(watched, after, SYNC + 10);
    expect(carried).toEqual([{ file: after.lookup('pub/kept.iso'), at: SYNC - 50, isNew: true }]);
    expect(fresh.map((a) => after.paths[a.file])).toEqual(['pub/new.iso', 'pub/changed.txt']);
  });
});

describe('FileIndex arrivals', () => {
  it('compares last syncs with the later of mtime and arrival; files from the first load keep their mtime', () => {
    const files = after.withArrivals([{ file: 0, at: SYNC + 10, isNew: true }]);
    expect(files.syncKey(0)).toBe(SYNC + 10);
    expect(files.syncKey(1)).toBe(OLD);
    expect(files.arrival(0)).toEqual({ file: 0, at: SYNC + 10, isNew: true });
    expect(files.arrival(1)).toBeUndefined();
    // An mtime later than the arrival (a clock ahead, or a future-dated file) still counts.
    expect(after.withArrivals([{ file: 0, at: OLD - 5, isNew: true }]).syncKey(0)).toBe(OLD);
    // Unknown mtime and no arrival: any last sync will do.
    expect(FileIndex.from([{ path: 'x', size: 1 }]).syncKey(0)).toBe(-Infinity);
    expect(
      FileIndex.from([{ path: 'x', size: 1 }])
        .withArrivals([{ file: 0, at: 5, isNew: false }])
        .syncKey(0),
    ).toBe(5);
    // The same files: paths and columns are shared, not copied.
    expect(files.paths).toBe(after.paths);
    // One row per file, the last given winning.
    const twice = after.withArrivals([
      { file: 0, at: 1, isNew: true },
      { file: 0, at: 2, isNew: false },
    ]);
    expect([...twice.knownArrivals()]).toEqual([{ file: 0, at: 2, isNew: false }]);
  });

  it('round-trips through the store form, matching only the versions the index holds', () => {
    const files = after.withArrivals([
      { file: 0, at: SYNC + 10, isNew: true },
      { file: 2, at: SYNC + 20, isNew: false },
    ]);
    const records = [...files.knownArrivals()].map((a) => arrivalRecord(files, a));
    expect(records[1]).toEqual({ path: 'pub/changed.txt', size: 20, mtime: OLD, sha256: HASH_B, at: SYNC + 20, isNew: false });
    expect(matchArrivals(after, records)).toEqual([...files.knownArrivals()]);
    // A record of another version (the one before, or one not come yet) matches nothing.
    const other: ArrivalRecord = { ...records[1]!, sha256: HASH_A };
    expect(matchArrivals(after, [other, { ...records[0]!, size: 41 }, { ...records[0]!, path: 'pub/none' }])).toEqual([]);
  });

  it('keeps the first sighting of a version, and the later of two versions', () => {
    const r = (at: number, size = 1): ArrivalRecord => ({ path: 'p', size, mtime: null, sha256: null, at, isNew: true });
    expect(keptArrival(undefined, r(5))).toEqual(r(5));
    expect(keptArrival(r(5), r(9))).toEqual(r(5));
    expect(keptArrival(r(9), r(5))).toEqual(r(5));
    expect(keptArrival(r(5, 1), r(9, 2))).toEqual(r(9, 2));
    expect(keptArrival(r(9, 2), r(5, 1))).toEqual(r(9, 2));
    // A path gone is a version of its own: its going replaces an earlier sighting, and a return after it replaces it.
    const gone = { ...r(7), gone: true };
    expect(keptArrival(r(5), gone)).toEqual(gone);
    expect(keptArrival(gone, r(9))).toEqual(r(9));
    expect(keptArrival(r(9), gone)).toEqual(r(9));
    expect(matchArrivals(FileIndex.from([{ path: 'p', size: 1 }]), [gone])).toEqual([]);
  });
});

describe('routing by arrival', () => {
  function network(arrivedAt: number | undefined) {
    const origin: OriginFile[] = [
      { path: 'debian/dists/stable/Release', size: 5, mtime: OLD },
      { path: 'debian/dists/stable/main/Packages', size: 6, mtime: OLD },
      { path: 'debian/pool/new.deb', size: 7, mtime: OLD },
      { path: 'debian/pool/old.deb', size: 8, mtime: OLD },
    ];
    const index = FileIndex.from(origin);
    const files =
      arrivedAt === undefined
        ? index
        : index.withArrivals([
            { file: index.lookup('debian/pool/new.deb'), at: arrivedAt, isNew: true },
            { file: index.lookup('debian/dists/stable/main/Packages'), at: arrivedAt, isNew: false },
          ]);
    const b = new SnapshotBuilder({
      mirrors: [mirrorSpec('de', { country: 'DE', baseUrl: 'https://de.example/' })],
      files,
      originBaseUrl: 'https://origin.example/',
      routing: { bandKm: 300, maxAlternatives: 3, maxLagSeconds: 1e9 },
      consistency: [{ folder: '**/dists/*', leaders: ['Release', 'InRelease', 'Release.gpg'] }],
      clock: () => NOW_MS,
    });
    b.setState('de', { health: 'up', lastSync: SYNC });
    return b.current();
  }

  it('a file arrived after a mirror synced goes to the origin, though its mtime is older than the sync', () => {
    const s = network(SYNC + 60);
    expect(decide(s, 'debian/pool/new.deb', BERLIN, { nowMs: NOW_MS }).outcome).toBe('origin');
    expect(decide(s, 'debian/pool/old.deb', BERLIN, { nowMs: NOW_MS }).chosen?.mirror.spec.id).toBe('de');
    const de = s.mirrors[0]!;
    expect(mirrorCarries(s, de, s.files.lookup('debian/pool/new.deb'))).toBe(false);
    // Why, in ?mirrorlist: a new path is missing there; a changed one is an older copy.
    expect(whyNotCarried(s, de, s.files.lookup('debian/pool/new.deb'))).toBe('missing-file');
    expect(whyNotCarried(s, de, s.files.lookup('debian/dists/stable/main/Packages'))).toBe('stale-copy');
    // The suite's Release waits for its whole folder: Packages changed after the sync.
    expect(decide(s, 'debian/dists/stable/Release', BERLIN, { nowMs: NOW_MS }).outcome).toBe('origin');
  });

  it('a file arrived before the sync, or with no arrival known, goes to the mirror', () => {
    for (const s of [network(SYNC - 60), network(undefined)]) {
      expect(decide(s, 'debian/pool/new.deb', BERLIN, { nowMs: NOW_MS }).chosen?.mirror.spec.id).toBe('de');
      expect(decide(s, 'debian/dists/stable/Release', BERLIN, { nowMs: NOW_MS }).chosen?.mirror.spec.id).toBe('de');
    }
  });

  it('the edge decides alike: arrivals travel in the snapshot bytes', () => {
    const s = network(SYNC + 60);
    const decoded = decodeSnapshot(encodeSnapshot(s), NOW_MS);
    expect([...decoded.files.knownArrivals()]).toEqual([...s.files.knownArrivals()]);
    for (const path of s.files.paths)
      expect(decide(decoded, path, BERLIN, { nowMs: NOW_MS, explain: true }).excluded.map((e) => e.reason)).toEqual(
        decide(s, path, BERLIN, { nowMs: NOW_MS, explain: true }).excluded.map((e) => e.reason),
      );
    // A snapshot without arrivals has no such sections: its bytes are as before.
    expect(new TextDecoder().decode(encodeSnapshot(network(undefined)).subarray(0, 4000))).not.toContain('arrivalFiles');
  });
});
