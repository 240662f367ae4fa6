import { describe, expect, it } from 'vitest';
import { HitWindows } from '../../src/core/hitWindows.js';

describe('HitWindows', () => {
  it('counts hits in a window that starts with the first one, and starts anew after it', () => {
    const w = new HitWindows();
    expect(w.count('a', 1_000, 1, 0)).toEqual({ hits: 1, resetAtMs: 1_000 });
    expect(w.count('a', 1_000, 1, 500)).toEqual({ hits: 2, resetAtMs: 1_000 });
    expect(w.count('a', 1_000, -5, 600)).toEqual({ hits: 0, resetAtMs: 1_000 });
    expect(w.count('a', 1_000, 0, 700)).toEqual({ hits: 0, resetAtMs: 1_000 });
    expect(w.count('a', 1_000, 1, 1_000)).toEqual({ hits: 1, resetAtMs: 2_000 });
  });

  it('opens no window to read or take back', () => {
    const w = new HitWindows();
    expect(w.count('a', 1_000, 0, 0)).toEqual({ hits: 0, resetAtMs: 0 });
    expect(w.count('b', 1_000, -1, 0)).toEqual({ hits: 0, resetAtMs: 0 });
    expect(w.size).toBe(0);
  });

  it('holds at most maxKeys windows, forgetting the oldest first, and keeps counting the newest', () => {
    const w = new HitWindows(64);
    for (let i = 0; i < 1_000; i++) {
      w.count(`k${i}`, 60_000, 1, i);
      expect(w.size).toBeLessThanOrEqual(64);
    }
    expect(w.count('k999', 60_000, 1, 1_000).hits).toBe(2);
    expect(w.count('k0', 60_000, 0, 1_000).hits).toBe(0);
  });

  it('a bound of one keeps the last key only (the edge budget for misses)', () => {
    const w = new HitWindows(1);
    expect(w.count('miss', 1_000, 1, 0).hits).toBe(1);
    expect(w.count('miss', 1_000, 1, 10).hits).toBe(2);
    expect(w.count('other', 1_000, 1, 20).hits).toBe(1);
    expect(w.size).toBe(1);
  });

  it('lets ended windows go in its periodic sweep, past ten thousand keys', () => {
    const w = new HitWindows();
    for (let i = 0; i < 20_000; i++) w.count(`k${i}`, 1_000, 1, 0);
    expect(w.size).toBe(20_000);
    // Within ten seconds of the last sweep only the key asked about goes; then the sweep takes them all.
    w.count('late', 1_000, 1, 5_000);
    w.count('later', 1_000, 1, 20_000);
    expect(w.size).toBeLessThanOrEqual(2);
  });
});
