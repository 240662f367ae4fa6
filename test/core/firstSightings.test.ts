import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FirstSightings } from '../../src/core/firstSightings.js';

describe('FirstSightings', () => {
  it('counts a key once per window and again after it', () => {
    const s = new FirstSightings(1_000, 100);
    expect(s.first('a', 0)).toBe(true);
    expect(s.first('a', 999)).toBe(false);
    expect(s.first('b', 500)).toBe(true);
    expect(s.first('a', 1_000)).toBe(true);
    // The window restarts at the new sighting.
    expect(s.first('a', 1_999)).toBe(false);
    expect(s.first('b', 1_499)).toBe(false);
    expect(s.first('b', 1_500)).toBe(true);
  });

  it('forgets keys whose window ended, without being asked about them, a sixteenth of a window at a time', () => {
    const s = new FirstSightings(1_000, 100);
    for (let i = 0; i < 50; i++) s.first(`k${i}`, i * 10);
    expect(s.size).toBe(50);
    // k0 ended at 1_000, but sweeps wait for a sixteenth of a window more (1_062.5).
    s.first('soon', 1_050);
    expect(s.size).toBe(51);
    s.first('late', 1_300);
    // k0..k30 ended at 1_000..1_300; k31..k49 and 'soon' are still within their window.
    expect(s.size).toBe(21);
    s.first('later', 5_000);
    expect(s.size).toBe(1);
  });

  it('remembers at most max keys, the oldest forgotten first', () => {
    const s = new FirstSightings(60_000, 3);
    for (const k of ['a', 'b', 'c', 'd']) s.first(k, 10);
    expect(s.size).toBe(3);
    expect(s.first('a', 11)).toBe(true);
    expect(s.first('d', 11)).toBe(false);
  });

  it('agrees with a plain reading of the rule (window and bound) on any sequence', () => {
    const event = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), step: fc.integer({ min: 0, max: 400 }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 200 }), fc.integer({ min: 1, max: 4 }), (events, max) => {
        const windowMs = 1_000;
        const s = new FirstSightings(windowMs, max);
        // The reference: every remembered (key, at), oldest first, pruned after each sighting.
        let kept: { key: string; at: number }[] = [];
        let now = 0;
        for (const { key, step } of events) {
          now += step;
          const had = kept.find((k) => k.key === key);
          const expected = had === undefined || now - had.at >= windowMs;
          if (expected) {
            kept = kept.filter((k) => k.key !== key);
            kept.push({ key, at: now });
            kept = kept.filter((k) => now - k.at < windowMs);
            while (kept.length > max) kept.shift();
          }
          expect(s.first(key, now)).toBe(expected);
        }
      }),
    );
  });
});
