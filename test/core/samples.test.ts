import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileIndex } from '../../src/core/fileIndex.js';
import { chooseSamples } from '../../src/core/samples.js';

function indexOf(count: number): FileIndex {
  return FileIndex.from(Array.from({ length: count }, (_, i) => ({ path: `pub/f${i}.bin`, size: 1000 + i })));
}

const all = () => true;

describe('chooseSamples', () => {
  const files = indexOf(500);

  it('gives n distinct files with their origin sizes', () => {
    const picked = chooseSamples(files, all, 5, 1);
    expect(picked).toHaveLength(5);
    expect(new Set(picked.map((s) => s.path)).size).toBe(5);
    for (const s of picked) expect(s.size).toBe(files.size(files.lookup(s.path)));
  });

  it('is the same for the same round', () => {
    expect(chooseSamples(files, all, 5, 42)).toEqual(chooseSamples(files, all, 5, 42));
  });

  it('rotates across rounds and covers the file set over time', () => {
    const seen = new Set<string>();
    const samples = new Set<string>();
    for (let round = 0; round < 200; round++) {
      const picked = chooseSamples(files, all, 3, round);
      samples.add(picked.map((s) => s.path).join(','));
      for (const s of picked) seen.add(s.path);
    }
    expect(samples.size).toBeGreaterThan(190);
    // 600 picks over 500 files: a fair rotation reaches most of them.
    expect(seen.size).toBeGreaterThan(300);
  });

  it('only picks files the mirror carries', () => {
    const even = (f: number) => f % 2 === 0;
    for (let round = 0; round < 20; round++) {
      for (const s of chooseSamples(files, even, 4, round)) expect(files.lookup(s.path) % 2).toBe(0);
    }
  });

  it('finds the few files a narrow mirror carries', () => {
    const carried = new Set([7, 123, 499]);
    const picked = chooseSamples(files, (f) => carried.has(f), 10, 3);
    expect(picked.map((s) => files.lookup(s.path)).sort((a, b) => a - b)).toEqual([7, 123, 499]);
  });

  it('gives nothing for an empty set, a mirror carrying nothing, or n = 0', () => {
    expect(chooseSamples(indexOf(0), all, 3, 1)).toEqual([]);
    expect(chooseSamples(files, () => false, 3, 1)).toEqual([]);
    expect(chooseSamples(files, all, 0, 1)).toEqual([]);
  });

  it('never repeats a file and never exceeds n (any size, any round)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer(),
        fc.integer({ min: 1, max: 7 }),
        (count, n, round, modulus) => {
          const idx = indexOf(count);
          const carries = (f: number) => f % modulus === 0;
          const picked = chooseSamples(idx, carries, n, round);
          const carriedCount = Math.ceil(count / modulus);
          expect(picked.length).toBe(Math.min(n, carriedCount));
          expect(new Set(picked.map((s) => s.path)).size).toBe(picked.length);
          for (const s of picked) expect(carries(idx.lookup(s.path))).toBe(true);
        },
      ),
    );
  });
});
