import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSha256, FileIndex, FileIndexBuilder } from '../../src/core/fileIndex.js';
import type { OriginFile } from '../../src/core/model.js';

const A = 'ab'.repeat(32);
const B = '0123456789abcdef'.repeat(4);

describe('decodeSha256', () => {
  it('decodes 64 hex digits in any case, as Buffer does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom('lower', 'upper', 'mixed'), (bytes, style) => {
        let hex = Buffer.from(bytes).toString('hex');
        if (style === 'upper') hex = hex.toUpperCase();
        if (style === 'mixed') hex = [...hex].map((c, i) => (i % 3 ? c : c.toUpperCase())).join('');
        const out = new Uint8Array(32);
        expect(decodeSha256(hex, out)).toBe(true);
        expect(out).toEqual(bytes);
      }),
    );
  });

  it('refuses anything but 64 hex digits', () => {
    const out = new Uint8Array(32);
    for (const bad of [
      '',
      A.slice(1),
      `${A}0`,
      `${A.slice(0, 63)}g`,
      `${A.slice(0, 63)}\u0661`,
      `${A.slice(0, 62)} 0`,
      `${A.slice(0, 63)}\u0130`,
      `x${A.slice(1)}`,
    ]) {
      expect(decodeSha256(bad, out), bad).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ minLength: 64, maxLength: 64, unit: 'binary' }), (s) => {
        expect(decodeSha256(s, out)).toBe(/^[0-9a-fA-F]{64}$/.test(s));
      }),
    );
  });
});

describe('FileIndexBuilder', () => {
  it('numbers files densely, keeps the first copy of a path and tells the caller about later ones', () => {
    const b = new FileIndexBuilder();
    const hash = new Uint8Array(32);
    decodeSha256(A, hash);
    expect(b.add('a', 1, 100, hash)).toBe(0);
    expect(b.add('b', 2, undefined)).toBe(1);
    expect(b.add('a', 3, 300)).toBe(-1);
    expect(b.lookup('a')).toBe(0);
    expect(b.lookup('nope')).toBe(-1);
    expect(b.count).toBe(2);
    hash.fill(0); // the builder copied it
    const index = b.build();
    expect([...index.files()]).toEqual([
      { path: 'a', size: 1, mtime: 100, sha256: A },
      { path: 'b', size: 2 },
    ]);
    expect(() => b.add('c', 1, 1)).toThrow();
    expect(() => b.build()).toThrow();
  });

  it('grows past its first capacity and trims the columns to the file count', () => {
    const b = new FileIndexBuilder();
    const hash = new Uint8Array(32);
    for (let i = 0; i < 5000; i++) {
      hash[0] = i & 0xff;
      b.add(`f/${i}`, i, i % 3 ? 1_700_000_000 + i : undefined, i % 2 ? hash : undefined);
    }
    const index = b.build();
    const cols = index.columns();
    expect(index.count).toBe(5000);
    expect([cols.sizes.length, cols.mtimes.length, cols.hashes.length, cols.hashKnown.length]).toEqual([5000, 5000, 5000 * 32, 5000]);
    expect(index.file(4999)).toEqual({ path: 'f/4999', size: 4999, mtime: 1_700_004_999, sha256: `${(4999 & 0xff).toString(16)}${'0'.repeat(62)}` });
    expect(index.sha256Hex(4998)).toBeUndefined();
    expect(index.mtime(3)).toBeUndefined();
    expect(index.lookup('f/1234')).toBe(1234);
  });
});

/** FileIndex.from as it was before the builder: Set + filter, then parseInt over slices. */
function referenceColumns(files: readonly OriginFile[]) {
  const seen = new Set<string>();
  const unique = files.filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)));
  const n = unique.length;
  const sizes = new Float64Array(n);
  const mtimes = new Float64Array(n);
  const hashes = new Uint8Array(n * 32);
  const hashKnown = new Uint8Array(n);
  unique.forEach((f, i) => {
    sizes[i] = f.size;
    mtimes[i] = f.mtime ?? Number.NaN;
    if (f.sha256 && /^[0-9a-f]{64}$/.test(f.sha256)) {
      hashKnown[i] = 1;
      for (let b = 0; b < 32; b++) hashes[i * 32 + b] = parseInt(f.sha256.slice(b * 2, b * 2 + 2), 16);
    }
  });
  return { paths: unique.map((f) => f.path), sizes, mtimes, hashes, hashKnown };
}

describe('FileIndex.from', () => {
  it('builds what it always built: first copy wins, only lower-case hex hashes are known', () => {
    const file = fc.record(
      {
        path: fc.constantFrom('a', 'b', 'c/d', '日本', '😀'),
        size: fc.nat(),
        mtime: fc.nat(),
        sha256: fc.constantFrom(A, B, A.toUpperCase(), 'xyz', '', `${A.slice(0, 63)}g`),
      },
      { requiredKeys: ['path', 'size'] },
    );
    fc.assert(
      fc.property(fc.array(file, { maxLength: 12 }), (files) => {
        const index = FileIndex.from(files);
        const want = referenceColumns(files);
        const got = index.columns();
        expect(got.paths).toEqual(want.paths);
        expect(got.sizes).toEqual(want.sizes);
        expect(Buffer.from(got.mtimes.buffer, got.mtimes.byteOffset, got.mtimes.byteLength)).toEqual(Buffer.from(want.mtimes.buffer));
        expect(got.hashes).toEqual(want.hashes);
        expect(got.hashKnown).toEqual(want.hashKnown);
        want.paths.forEach((p, i) => expect(index.lookup(p)).toBe(i));
      }),
    );
  });

  it('takes any iterable, and round-trips through its columns', () => {
    const files: OriginFile[] = [
      { path: 'x', size: 1, mtime: 5, sha256: B },
      { path: 'y', size: 2 },
    ];
    const index = FileIndex.from(new Set(files));
    const again = FileIndex.fromColumns(index.columns());
    expect([...again.files()]).toEqual(files);
    expect(again.lookup('y')).toBe(1);
    expect(again.sha256Base64(0)).toBe(Buffer.from(B, 'hex').toString('base64'));
    expect(FileIndex.from([]).count).toBe(0);
  });
});

describe('piece hashes', () => {
  const KiB = 1024;
  /** `count` distinct 64-digit hashes, concatenated. */
  const hexes = (count: number, seed = 0) => Array.from({ length: count }, (_, k) => ((seed * 31 + k) % 256).toString(16).padStart(2, '0').repeat(32)).join('');

  it('keeps them sparse: only files that have them are in the side table, in file order', () => {
    const files: OriginFile[] = [
      { path: 'small', size: 10 },
      { path: 'iso', size: 100 * KiB + 1, sha256: A, pieces: { length: 16 * KiB, sha256: hexes(7) } },
      { path: 'plain', size: 5 * 1024 * KiB, mtime: 9 },
      { path: 'img', size: 64 * KiB, pieces: { length: 32 * KiB, sha256: hexes(2, 5) } },
    ];
    const index = FileIndex.from(files);
    expect([...index.files()]).toEqual(files);
    const table = index.columns().pieces!;
    expect([...table.files]).toEqual([1, 3]);
    expect([...table.lengths]).toEqual([16 * KiB, 32 * KiB]);
    expect([...table.starts]).toEqual([0, 7, 9]);
    expect(table.hashes).toHaveLength(9 * 32);
    expect(index.pieceInfo(1)).toEqual({ length: 16 * KiB, count: 7 });
    expect(index.pieceInfo(0)).toBeUndefined();
    expect(index.pieceInfo(2)).toBeUndefined();
    expect(Buffer.from(index.pieceHashes(3)!.hashes).toString('hex')).toBe(hexes(2, 5));
    expect(index.file(1, { pieces: false })).toEqual({ path: 'iso', size: 100 * KiB + 1, sha256: A });
    expect([...FileIndex.fromColumns(index.columns()).files()]).toEqual(files);
    // A file set without any has no table at all.
    expect(FileIndex.from([{ path: 'a', size: 1 }]).columns().pieces).toBeUndefined();
  });

  it('FileIndex.from drops pieces that do not fit, keeping the file', () => {
    const size = 40 * KiB; // three 16 KiB pieces
    const bad: OriginFile['pieces'][] = [
      { length: 16 * KiB, sha256: hexes(2) }, // too few
      { length: 16 * KiB, sha256: hexes(4) }, // too many
      { length: 24 * KiB, sha256: hexes(2) }, // not a power of two
      { length: 8 * KiB, sha256: hexes(5) }, // below 16 KiB
      { length: 2 ** 31, sha256: hexes(1) }, // above 1 GiB
      { length: 16 * KiB, sha256: hexes(3, 5).toUpperCase() }, // not lower case
      { length: 16 * KiB, sha256: `${hexes(3).slice(1)}g` },
    ];
    for (const pieces of bad) {
      const index = FileIndex.from([{ path: 'f', size, pieces }]);
      expect(index.file(0), JSON.stringify(pieces?.length)).toEqual({ path: 'f', size });
    }
    expect(FileIndex.from([{ path: 'f', size, pieces: { length: 16 * KiB, sha256: hexes(3) } }]).pieceInfo(0)).toEqual({ length: 16 * KiB, count: 3 });
    // An empty file has no pieces to hash.
    expect(FileIndex.from([{ path: 'e', size: 0, pieces: { length: 16 * KiB, sha256: '' } }]).file(0)).toEqual({ path: 'e', size: 0 });
  });

  it('the builder refuses pieces that do not fit the size, and copies the ones it takes', () => {
    const b = new FileIndexBuilder();
    expect(() => b.add('a', 40 * KiB, undefined, undefined, { length: 16 * KiB, hashes: new Uint8Array(64) })).toThrow(RangeError);
    expect(() => b.add('a', 40 * KiB, undefined, undefined, { length: 3000, hashes: new Uint8Array(32) })).toThrow(RangeError);
    const hashes = new Uint8Array(96).fill(7);
    expect(b.add('a', 40 * KiB, undefined, undefined, { length: 16 * KiB, hashes })).toBe(0);
    hashes.fill(0);
    // Many files with pieces grow the table past its first size.
    for (let i = 1; i < 3000; i++) b.add(`f${i}`, 20 * KiB, undefined, undefined, { length: 16 * KiB, hashes: new Uint8Array(64).fill(i & 0xff) });
    const index = b.build();
    expect(index.pieceHashes(0)!.hashes).toEqual(new Uint8Array(96).fill(7));
    expect(index.pieceHashes(2999)!.hashes).toEqual(new Uint8Array(64).fill(2999 & 0xff));
    expect(index.columns().pieces!.hashes).toHaveLength(96 + 2999 * 64);
  });
});
