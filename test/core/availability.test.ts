import { describe, expect, it } from 'vitest';
import { bitCount, bitGet, compileInventory, computeRuleClasses, rebaseInventory, ruleKey } from '../../src/core/availability.js';
import { FileIndex } from '../../src/core/fileIndex.js';

const files = FileIndex.from([
  { path: 'debian/a.iso', size: 10, mtime: 100, sha256: 'ab'.repeat(32) },
  { path: 'debian/a.iso.sig', size: 1, mtime: 100 },
  { path: 'fedora/b.iso', size: 20 },
  { path: 'fedora/tmp/x.tmp', size: 3, mtime: 50 },
]);

describe('FileIndex', () => {
  it('stores files compactly and gives them back whole', () => {
    expect(files.count).toBe(4);
    expect(files.lookup('fedora/b.iso')).toBe(2);
    expect(files.lookup('missing')).toBe(-1);
    expect(files.file(0)).toEqual({ path: 'debian/a.iso', size: 10, mtime: 100, sha256: 'ab'.repeat(32) });
    expect(files.file(2)).toEqual({ path: 'fedora/b.iso', size: 20 });
    expect(files.sha256Base64(0)).toBe(Buffer.from('ab'.repeat(32), 'hex').toString('base64'));
    expect(files.sha256Base64(1)).toBeUndefined();
  });

  it('counts a copy as current only with the origin size, and mtime where both are known', () => {
    expect(files.isCurrent(0, 10, 100)).toBe(true);
    expect(files.isCurrent(0, 10, 99)).toBe(false);
    expect(files.isCurrent(0, 11, 100)).toBe(false);
    expect(files.isCurrent(0, 10, undefined)).toBe(true);
    expect(files.isCurrent(2, 20, 12345)).toBe(true);
  });
});

describe('rule classes', () => {
  it('groups files by the rule sets that cover them', () => {
    const keys = [
      ruleKey({ include: ['**'], exclude: ['**/*.tmp'] }),
      ruleKey({ include: ['debian/**'], exclude: [] }),
    ];
    const rc = computeRuleClasses(files, keys);
    // debian files: both rule sets; fedora/b.iso: first only; the .tmp file: none.
    expect(new Set(rc.fileClass).size).toBe(3);
    const covered = (f: number, r: number) => bitGet(rc.membership[rc.fileClass[f]!]!, r);
    expect([covered(0, 0), covered(0, 1)]).toEqual([true, true]);
    expect([covered(2, 0), covered(2, 1)]).toEqual([true, false]);
    expect([covered(3, 0), covered(3, 1)]).toEqual([false, false]);
  });
});

describe('inventories', () => {
  it('compiles only current copies, and loses files whose origin copy changed on rebase', () => {
    const inv = compileInventory(
      [
        { path: 'debian/a.iso', size: 10, mtime: 100 },
        { path: 'debian/a.iso.sig', size: 2, mtime: 100 }, // stale size
        { path: 'fedora/b.iso', size: 20, mtime: 1 },
        { path: 'not/in/origin', size: 1 },
      ],
      files,
    );
    expect([0, 1, 2, 3].map((f) => bitGet(inv, f))).toEqual([true, false, true, false]);
    expect(bitCount(inv)).toBe(2);

    const next = FileIndex.from([
      { path: 'new/file', size: 1 },
      { path: 'fedora/b.iso', size: 20 },
      { path: 'debian/a.iso', size: 10, mtime: 200 }, // changed at the origin
    ]);
    const rebased = rebaseInventory(inv, files, next);
    expect([0, 1, 2].map((f) => bitGet(rebased, f))).toEqual([false, true, false]);
  });
});

describe('compileGlob', () => {
  it('agrees with picomatch on the fast-path shapes and everything else', async () => {
    const { default: fc } = await import('fast-check');
    const { default: picomatch } = await import('picomatch');
    const { compileGlob } = await import('../../src/core/availability.js');
    const seg = fc.constantFrom('proj', 'a', '.x', 'x.iso', '.iso', 'b.tar.gz', 'iso', 'proj.iso', 'Ünï (1)');
    const path = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    const glob = fc.constantFrom('**', 'proj/**', 'a/proj/**', '**/*.iso', '**/*.tar.gz', 'proj/*.iso', '*.iso', '{a,proj}/**', 'Ünï (1)/**');
    fc.assert(
      fc.property(glob, path, (g, p) => {
        expect(compileGlob(g)(p)).toBe(picomatch(g, { dot: true })(p));
      }),
      { numRuns: 2000 },
    );
  });
});
