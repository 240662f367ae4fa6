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
    for (const bad of ['', A.slice(1), `${A}0`, `${A.slice(0, 63)}g`, `${A.slice(0, 63)}\u0661`, `${A.slice(0, 62)} 0`, `${A.slice(0, 63)}\u0130`, `x${A.slice(1)}`]) {
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
