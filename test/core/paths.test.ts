import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PATH_BYTES, decodeDownloadPath, encodePathForUrl, parseDownloadPath, validateOriginPath } from '../../src/core/paths.js';

const good: Array<[raw: string, path: string]> = [
  ['a', 'a'],
  ['projects/debian/12.0/debian-12-amd64.iso', 'projects/debian/12.0/debian-12-amd64.iso'],
  ['projects/debian/12.0/debian%2012%20(amd64).iso', 'projects/debian/12.0/debian 12 (amd64).iso'],
  ['projects/debian/12.0/debian 12 (amd64).iso', 'projects/debian/12.0/debian 12 (amd64).iso'],
  ['c%2B%2B/g++-13.tar.gz', 'c++/g++-13.tar.gz'],
  ['a+b', 'a+b'],
  ['%C3%A9t%C3%A9/caf%C3%A9.txt', 'été/café.txt'],
  ['été/café.txt', 'été/café.txt'],
  ['%E6%97%A5%E6%9C%AC/%F0%9F%98%80.iso', '日本/😀.iso'],
  ['file%2etxt', 'file.txt'],
  ['.hidden', '.hidden'],
  ['...', '...'],
  ['a/.../b', 'a/.../b'],
  ['..a/b..', '..a/b..'],
  ['a/.%2e%2e', 'a/...'],
  ['v1.0~rc1/x', 'v1.0~rc1/x'],
  ["it's!(*)/x", "it's!(*)/x"],
  ['100%25/x', '100%/x'],
  ['%25252e/x', '%252e/x'],
  ['a%3Fb%23c', 'a?b#c'],
  ['x'.repeat(MAX_PATH_BYTES), 'x'.repeat(MAX_PATH_BYTES)],
  ['%20'.repeat(MAX_PATH_BYTES), ' '.repeat(MAX_PATH_BYTES)],
];

const bad: Array<[raw: string, reason: string]> = [
  ['', 'empty path'],
  ['..', 'path traversal'],
  ['.', 'path traversal'],
  ['../etc/passwd', 'path traversal'],
  ['a/../../etc/passwd', 'path traversal'],
  ['a/..', 'path traversal'],
  ['a/./b', 'path traversal'],
  ['%2e%2e', 'path traversal'],
  ['%2E%2E/etc/passwd', 'path traversal'],
  ['%2E./x', 'path traversal'],
  ['.%2e/x', 'path traversal'],
  ['a/%2e%2E', 'path traversal'],
  ['a/%2e', 'path traversal'],
  ['%252e%252e/etc/passwd', 'path traversal'],
  ['a/%252E.', 'path traversal'],
  ['a/.%252e/b', 'path traversal'],
  ['a/%2fb', 'encoded slash'],
  ['a%2Fb', 'encoded slash'],
  ['..%2fetc', 'encoded slash'],
  ['a%252fb', 'encoded slash'],
  ['a%255cb', 'encoded backslash'],
  ['a%2500b', 'encoded NUL'],
  ['a%00b', 'NUL byte'],
  ['a\u0000b', 'NUL byte'],
  ['%00', 'NUL byte'],
  ['a%5cb', 'backslash'],
  ['a%5Cb', 'backslash'],
  ['..\\', 'backslash'],
  ['..\\windows', 'backslash'],
  ['a\\b', 'backslash'],
  ['a%0Ab', 'control character'],
  ['a\tb', 'control character'],
  ['a%7Fb', 'control character'],
  ['a%C2%85b', 'control character'],
  ['/etc/passwd', 'leading slash'],
  ['a//b', 'empty segment'],
  ['a/', 'trailing slash'],
  ['a/b/', 'trailing slash'],
  ['%', 'bad percent-encoding'],
  ['a%2', 'bad percent-encoding'],
  ['a%zzb', 'bad percent-encoding'],
  ['a%g0', 'bad percent-encoding'],
  ['%ff', 'bad UTF-8'],
  ['%C3', 'bad UTF-8'],
  ['%C0%AE%C0%AE', 'bad UTF-8'],
  ['%ED%A0%80', 'bad UTF-8'],
  ['a\uD800b', 'bad unicode'],
  ['x'.repeat(MAX_PATH_BYTES + 1), 'path too long'],
  ['%20'.repeat(MAX_PATH_BYTES + 1), 'path too long'],
  ['é'.repeat(513), 'path too long'],
  ['a'.repeat(4000), 'path too long'],
];

describe('parseDownloadPath', () => {
  it.each(good)('accepts %j', (raw, path) => {
    expect(parseDownloadPath(raw)).toEqual({ ok: true, path });
  });

  it.each(bad)('rejects %j as %s', (raw, reason) => {
    expect(parseDownloadPath(raw)).toEqual({ ok: false, reason });
  });

  it('counts decoded UTF-8 bytes, not characters, against the limit', () => {
    expect(parseDownloadPath('é'.repeat(512)).ok).toBe(true);
    expect(parseDownloadPath(encodePathForUrl('é'.repeat(512))).ok).toBe(true);
    expect(parseDownloadPath(encodePathForUrl('é'.repeat(513))).ok).toBe(false);
  });

  it('never throws and never yields a traversal, NUL or backslash for arbitrary input', () => {
    const alphabet = fc.constantFrom('.', '/', '%', '2', 'e', 'E', 'f', 'F', '5', 'c', 'C', '0', 'a', '\\', '\u0000', '+', ' ', 'é');
    const arbitraryRaw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.string({ unit: alphabet, maxLength: 40 }),
      fc
        .array(fc.constantFrom('%2e', '%2E', '%252e', '.', '..', '/', '%2f', '%5c', '%00', 'a', '%25'), {
          maxLength: 12,
        })
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(arbitraryRaw, (raw) => {
        const result = parseDownloadPath(raw);
        if (!result.ok) {
          expect(result.reason.length).toBeGreaterThan(0);
          return;
        }
        const segments = result.path.split('/');
        for (const segment of segments) {
          expect(segment).not.toBe('..');
          expect(segment).not.toBe('.');
          expect(segment).not.toBe('');
          // A second decoding must not produce a traversal either.
          expect(segment.replaceAll(/%2e/gi, '.')).not.toMatch(/^\.{1,2}$/);
        }
        expect(result.path).not.toContain('\u0000');
        expect(result.path).not.toContain('\\');
        expect(result.path).not.toMatch(/%(2f|5c|00)/i);
        expect(new TextEncoder().encode(result.path).length).toBeLessThanOrEqual(MAX_PATH_BYTES);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('validateOriginPath', () => {
  it.each(['a', 'projects/debian/12.0/debian 12 (amd64).iso', '日本/😀.iso', 'c++/a+b', '100%/x', '.git/config'])('accepts %j', (path) => {
    expect(validateOriginPath(path)).toBeUndefined();
  });

  it.each([
    ['', 'empty path'],
    ['/a', 'leading slash'],
    ['a//b', 'empty segment'],
    ['a/', 'trailing slash'],
    ['a/../b', 'path traversal'],
    ['./a', 'path traversal'],
    ['a/%2e%2e/b', 'path traversal'],
    ['a%2fb', 'encoded slash'],
    ['a%5Cb', 'encoded backslash'],
    ['a%00', 'encoded NUL'],
    ['a\u0000', 'NUL byte'],
    ['a\\b', 'backslash'],
    ['a\nb', 'control character'],
    ['a\uDC00', 'bad unicode'],
    ['x'.repeat(MAX_PATH_BYTES + 1), 'path too long'],
    [`${'a/'.repeat(512)}b`, 'path too long'],
  ])('rejects %j as %s', (path, reason) => {
    expect(validateOriginPath(path)).toBe(reason);
  });
});

describe('encodePathForUrl', () => {
  it.each([
    ['projects/debian 12 (amd64).iso', 'projects/debian%2012%20(amd64).iso'],
    ['c++/a+b', 'c%2B%2B/a%2Bb'],
    ['été/😀', '%C3%A9t%C3%A9/%F0%9F%98%80'],
    ["a!'()*-._~/b", "a!'()*-._~/b"],
    ['a?b#c&d=e;f:g@h$i,j', 'a%3Fb%23c%26d%3De%3Bf%3Ag%40h%24i%2Cj'],
    ['100%/x', '100%25/x'],
  ])('encodes %j as %s', (path, encoded) => {
    expect(encodePathForUrl(path)).toBe(encoded);
  });

  it('round-trips through parseDownloadPath for every valid path', () => {
    // Biased towards the characters that matter to encoding, plus arbitrary code points.
    const character = fc.oneof(
      fc.constantFrom('.', '%', '2', 'e', 'f', '+', ' ', '(', ')'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    const segment = fc.string({ unit: character, minLength: 1, maxLength: 30 });
    const validPath = fc
      .array(segment, { minLength: 1, maxLength: 8 })
      .map((segments) => segments.join('/'))
      .filter((path) => validateOriginPath(path) === undefined);
    fc.assert(
      fc.property(validPath, (path) => {
        expect(parseDownloadPath(encodePathForUrl(path))).toEqual({ ok: true, path });
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips the longest valid path even when every byte needs escaping', () => {
    for (const path of [' '.repeat(MAX_PATH_BYTES), 'é'.repeat(MAX_PATH_BYTES / 2), '😀'.repeat(MAX_PATH_BYTES / 4)]) {
      expect(validateOriginPath(path)).toBeUndefined();
      expect(parseDownloadPath(encodePathForUrl(path))).toEqual({ ok: true, path });
    }
  });
});

describe('decodeDownloadPath', () => {
  it('decodes as parseDownloadPath does, and leaves validation to the caller', () => {
    expect(decodeDownloadPath('a/b%20c.iso')).toEqual({ ok: true, path: 'a/b c.iso' });
    expect(decodeDownloadPath('a/../b')).toEqual({ ok: true, path: 'a/../b' });
    expect(parseDownloadPath('a/../b')).toEqual({ ok: false, reason: 'path traversal' });
    expect(decodeDownloadPath('a/%zz')).toEqual(parseDownloadPath('a/%zz'));
    expect(decodeDownloadPath('')).toEqual({ ok: false, reason: 'empty path' });
  });
});
