import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { distanceKm } from '../../src/core/geo.js';

const lat = fc.double({ min: -90, max: 90, noNaN: true });
const lon = fc.double({ min: -180, max: 180, noNaN: true });

describe('distanceKm', () => {
  it.each([
    // [from, to, expected km, tolerance km]
    ['Berlin–Paris', 52.52, 13.405, 48.8566, 2.3522, 878, 5],
    ['London–New York', 51.5074, -0.1278, 40.7128, -74.006, 5570, 10],
    ['Sydney–Auckland', -33.8688, 151.2093, -36.8485, 174.7633, 2156, 10],
    ['across the antimeridian', 0, 179.5, 0, -179.5, 111.2, 0.5],
    ['one degree of latitude', 10, 20, 11, 20, 111.2, 0.1],
  ] as const)('%s', (_name, a, b, c, d, km, tol) => {
    expect(Math.abs(distanceKm(a, b, c, d) - km)).toBeLessThan(tol);
  });

  it('is zero for the same point and half the circumference for antipodes', () => {
    expect(distanceKm(48, 11, 48, 11)).toBe(0);
    expect(distanceKm(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6371, 6);
    expect(distanceKm(90, 0, -90, 0)).toBeCloseTo(Math.PI * 6371, 6);
    expect(distanceKm(30, 40, -30, -140)).toBeCloseTo(Math.PI * 6371, 3);
  });

  it('is symmetric, bounded and never NaN', () => {
    fc.assert(
      fc.property(lat, lon, lat, lon, (a, b, c, d) => {
        const x = distanceKm(a, b, c, d);
        expect(Number.isNaN(x)).toBe(false);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(Math.PI * 6371 + 1e-6);
        expect(Math.abs(x - distanceKm(c, d, a, b))).toBeLessThan(1e-6);
      }),
    );
  });
});
