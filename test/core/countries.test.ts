import { describe, expect, it } from 'vitest';
import { countryCodes, countryInfo, isCountryCode } from '../../src/core/countries.js';

describe('countries', () => {
  it('covers every ISO 3166-1 alpha-2 code plus Kosovo', () => {
    const codes = countryCodes();
    expect(codes).toHaveLength(250);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[A-Z]{2}$/);
    expect(codes).toContain('XK');
  });

  it.each([
    ['RU', 'EU'],
    ['TR', 'AS'],
    ['EG', 'AF'],
    ['MX', 'NA'],
    ['AQ', 'AN'],
    ['CY', 'EU'],
    ['AM', 'AS'],
    ['PA', 'NA'],
    ['TL', 'OC'],
    ['AU', 'OC'],
    ['BR', 'SA'],
    ['GF', 'SA'],
    ['GL', 'NA'],
  ] as const)('%s is on continent %s (GeoLite2 assignment)', (code, continent) => {
    expect(countryInfo(code)?.continent).toBe(continent);
  });

  it('is case-insensitive', () => {
    expect(countryInfo('de')).toEqual(countryInfo('DE'));
    expect(countryInfo('De')?.name).toBe('Germany');
    expect(isCountryCode('fr')).toBe(true);
  });

  it('rejects unknown codes', () => {
    for (const code of ['', 'X', 'ZZ', 'UK', 'EU', 'DEU', ' DE', '12']) {
      expect(isCountryCode(code)).toBe(false);
      expect(countryInfo(code)).toBeUndefined();
    }
  });

  it('has plausible coordinates for every country', () => {
    for (const code of countryCodes()) {
      const info = countryInfo(code)!;
      expect(info.name.length).toBeGreaterThan(2);
      expect(Math.abs(info.lat)).toBeLessThanOrEqual(90);
      expect(Math.abs(info.lon)).toBeLessThanOrEqual(180);
    }
  });

  it.each([
    ['DE', 51, 10],
    ['US', 38, -98],
    ['JP', 36, 139],
    ['AU', -33, 143],
    ['BR', -23, -43],
    ['ZA', -29, 24],
    ['NZ', -41, 174],
  ] as const)('%s sits near %d,%d', (code, lat, lon) => {
    const info = countryInfo(code)!;
    expect(Math.abs(info.lat - lat)).toBeLessThan(2);
    expect(Math.abs(info.lon - lon)).toBeLessThan(2);
  });
});
