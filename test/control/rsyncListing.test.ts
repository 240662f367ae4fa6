import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRsyncName, parseRsyncListLine } from '../../src/control/rsyncListing.js';

const T = Date.UTC(2026, 10, 1, 10, 0, 0) / 1000; // 2026/11/01 10:00:00 UTC

describe('parseRsyncListLine', () => {
  const table: Array<[string, ReturnType<typeof parseRsyncListLine>]> = [
    ['-rw-r--r--      1,234,567 2026/11/01 10:00:00 path/with spaces/file.iso', { path: 'path/with spaces/file.iso', size: 1_234_567, mtime: T }],
    ['-rw-r--r--      1.234.567 2026/11/01 10:00:00 de-locale.iso', { path: 'de-locale.iso', size: 1_234_567, mtime: T }],
    ["-rw-r--r--      1'234'567 2026/11/01 10:00:00 ch-locale.iso", { path: 'ch-locale.iso', size: 1_234_567, mtime: T }],
    ['-rw-r--r--        1234567 2026/11/01 10:00:00 plain', { path: 'plain', size: 1_234_567, mtime: T }],
    ['-rw-r--r--              0 2026/11/01 10:00:00 empty', { path: 'empty', size: 0, mtime: T }],
    ['-rw-r--r-- 12,345,678,901,234 2026/11/01 10:00:00 huge', { path: 'huge', size: 12_345_678_901_234, mtime: T }],
    // Two spaces after the time: the name itself starts with a space.
    ['-rw-r--r--              3 2026/11/01 10:00:00  leading space', { path: ' leading space', size: 3, mtime: T }],
    ['-rw-r--r--              3 2026/11/01 10:00:00 trailing space ', { path: 'trailing space ', size: 3, mtime: T }],
    ['-rw-r--r--              3 2026/11/01 10:00:00 tab\there', { path: 'tab\there', size: 3, mtime: T }],
    // What rsync really prints for "sp ace/Ü/f é.txt" in the C locale.
    ['-rw-r--r--              3 2026/11/01 10:00:00 sp ace/\\#303\\#234/f \\#303\\#251.txt', { path: 'sp ace/Ü/f é.txt', size: 3, mtime: T }],
    ['-rw-r--r--              3 2026/11/01 10:00:00 日本/ファイル.txt', { path: '日本/ファイル.txt', size: 3, mtime: T }],
    ['-rw-r--r--              1 2026/11/01 10:00:00 new\\#012line', { path: 'new\nline', size: 1, mtime: T }],
    // rsync escapes a backslash only where it is followed by '#'.
    ['-rw-r--r--              0 2026/11/01 10:00:00 back\\slash', { path: 'back\\slash', size: 0, mtime: T }],
    ['-rw-r--r--              0 2026/11/01 10:00:00 back\\#134#123x', { path: 'back\\#123x', size: 0, mtime: T }],
    ['-rw-r--r--              0 2026/11/01 10:00:00 ./dotted/x', { path: 'dotted/x', size: 0, mtime: T }],
    ['-rwsr-xr-t              5 2026/11/01 10:00:00 setuid', { path: 'setuid', size: 5, mtime: T }],
    ['-rw-r--r--+             5 2026/11/01 10:00:00 acl', { path: 'acl', size: 5, mtime: T }],
    ['-rw-r--r--              5 1970/01/01 00:00:00 epoch', { path: 'epoch', size: 5, mtime: 0 }],
    ['-rw-r--r--              5 2026/11/01 10:00:00 crlf\r', { path: 'crlf', size: 5, mtime: T }],
    ['-rw-r--r--              5 2026/11/01 10:00:00 files/-starts-with-dash', { path: 'files/-starts-with-dash', size: 5, mtime: T }],
    ['-rw-r--r--              5 2026/11/01 10:00:00 files/-starts-with-dash', { path: 'files/-starts-with-dash', size: 5, mtime: T }],
    ['drwxr-xr-x          4,096 2026/11/01 10:00:00 .', { skip: true }],
    ['drwxr-xr-x          4,096 2026/11/01 10:00:00 some dir', { skip: true }],
    ['lrwxrwxrwx              6 2026/11/01 10:00:00 latest -> v1.0', { skip: true }],
    ['lrwxrwxrwx              6 2026/11/01 10:00:00 lnk', { skip: true }],
    ['crw-rw-rw-          1,  3 2026/11/01 10:00:00 dev/null', { skip: true }],
    ['brw-rw----              0 2026/11/01 10:00:00 dev/sda', { skip: true }],
    ['prw-r--r--              0 2026/11/01 10:00:00 fifo', { skip: true }],
    ['srwxr-xr-x              0 2026/11/01 10:00:00 sock', { skip: true }],
    ['', { error: 'not an rsync listing line' }],
    ['receiving incremental file list', { error: 'not an rsync listing line' }],
    ['-rw-r--r--      1,234,567 2026/11/01 10:00:00 ', { error: 'empty path' }],
    ['-rw-r--r--      1,234,567 2026/11/01 10:00:00 .', { error: 'empty path' }],
    ['-rw-r--r--          1,2,3 2026/11/01 10:00:00 badsize', { error: 'bad size "1,2,3"' }],
    ['-rw-r--r--      1,234.567 2026/11/01 10:00:00 mixed', { error: 'bad size "1,234.567"' }],
    ['-rw-r--r--              1 2026/13/01 10:00:00 month', { error: 'bad date "2026/13/01 10:00:00"' }],
    ['-rw-r--r--              1 2026/11/01 10:00:00 bad\\#377utf8', { error: 'path is not valid UTF-8' }],
    ['-rw-r--r-- 99,999,999,999,999,999 2026/11/01 10:00:00 toobig', { error: 'size out of range "99,999,999,999,999,999"' }],
  ];
  it.each(table)('%j', (line, expected) => {
    expect(parseRsyncListLine(line)).toEqual(expected);
  });

  it('never throws, and returns exactly one of entry / skip / error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (line) => {
        const r = parseRsyncListLine(line);
        const kinds = ['path' in r, 'skip' in r, 'error' in r].filter(Boolean).length;
        expect(kinds).toBe(1);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on lines that look like listings', () => {
    const lineLike = fc
      .tuple(
        fc.constantFrom('-', 'd', 'l', 'p', 'x'),
        fc.stringMatching(/^[-rwxsStT+.@]{9,10}$/),
        fc.stringMatching(/^ {1,14}[0-9,.']{1,20}$/),
        fc.stringMatching(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/),
        fc.string({ unit: 'binary', maxLength: 60 }),
      )
      .map(([t, perms, size, date, name]) => `${t}${perms}${size} ${date} ${name}`);
    fc.assert(
      fc.property(lineLike, (line) => {
        expect(() => parseRsyncListLine(line)).not.toThrow();
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips any name, size and time as rsync would print them in the C locale', () => {
    const name = fc
      .array(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && s !== '.' && s !== '..'),
        {
          minLength: 1,
          maxLength: 4,
        },
      )
      .map((segments) => segments.join('/'))
      .filter((p) => !p.startsWith('./'));
    fc.assert(
      fc.property(name, fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 4_102_444_799 }), (path, size, mtime) => {
        const line = `-rw-r--r-- ${withCommas(size).padStart(14)} ${rsyncTime(mtime)} ${rsyncEscape(path)}`;
        expect(parseRsyncListLine(line)).toEqual({ path, size, mtime });
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('decodeRsyncName', () => {
  it('leaves names without escapes alone and decodes octal bytes as UTF-8', () => {
    expect(decodeRsyncName('plain name')).toBe('plain name');
    expect(decodeRsyncName('\\#342\\#234\\#223 ok')).toBe('✓ ok');
    expect(decodeRsyncName('\\#9xx')).toBe('\\#9xx');
    expect(decodeRsyncName('end\\#')).toBe('end\\#');
  });
});

/** rsync's C-locale escaping: non-printable and non-ASCII bytes, and a backslash before '#', as \#ooo. */
function rsyncEscape(name: string): string {
  const bytes = new TextEncoder().encode(name);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const escape = b < 0x20 || b >= 0x7f || (b === 0x5c && bytes[i + 1] === 0x23);
    out += escape ? `\\#${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b);
  }
  return out;
}

function withCommas(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function rsyncTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
