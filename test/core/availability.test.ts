import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bitCount,
  bitGet,
  compileGlob,
  compileInventory,
  computeRuleClasses,
  extendRuleClasses,
  rebaseInventory,
  ruleClassesFor,
  ruleKey,
  type RuleClasses,
} from '../../src/core/availability.js';
import { linearGlob } from '../../src/core/globMatch.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec } from '../../src/core/model.js';

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

type Content = MirrorSpec['content'];

const mirror = (id: string, content: Content): MirrorSpec => ({
  id,
  name: id,
  baseUrl: `https://${id}.example/`,
  country: 'DE',
  asn: [],
  weight: 1,
  countryOnly: false,
  enabled: true,
  content,
});

/** Whether the rule set `key` covers `path`, straight from the definition with the general (linear) matcher. */
function naiveCovers(key: string, path: string): boolean {
  const [include, exclude] = JSON.parse(key) as [string[], string[]];
  const hit = (g: string) => linearGlob(g)(path);
  return include.some(hit) && !exclude.some(hit);
}

const covered = (rc: RuleClasses, f: number, key: string): boolean => {
  const bit = rc.ruleKeys.indexOf(key);
  return bit >= 0 && bitGet(rc.membership[rc.fileClass[f]!]!, bit);
};

// Valid origin paths (no empty, "." or ".." segments) over a few projects, and globs of every shape:
// the fast ones, ones gated by their first segment, and ones only the general matcher answers.
const segment = fc.constantFrom('proj', 'a', 'debug', 'testing', '.x', 'x.iso', '.iso', 'b.tar.gz', 'c.gz', 'iso', 'proj.iso', 'a.', 'Ünï (1)', 'a|proj');
const originPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const glob = fc.constantFrom(
  '**',
  'proj/**',
  'a/**',
  'a/proj/**',
  'proj',
  'proj/*.iso',
  'proj/*/debug/**',
  'a/*',
  'Ünï (1)/**',
  '**/*.iso',
  '**/*.tar.gz',
  '**/*.gz',
  '**/*.',
  '**/*.x/a',
  '*.iso',
  '*/testing/**',
  '**/debug/**',
  '**/debug',
  '*/*/iso/**',
  '**/*',
  '**/*/debug',
  '{a,proj}/**',
  '!proj/**',
  'a|proj/**',
  'proj/x.iso|a/**',
  'proj/**/x.iso',
  '**/.x/**',
);
const content: fc.Arbitrary<Content> = fc.record({
  include: fc.array(glob, { minLength: 1, maxLength: 3 }),
  exclude: fc.array(glob, { maxLength: 2 }),
});

describe('rule classes', () => {
  it('groups files by the rule sets that cover them', () => {
    const keys = [ruleKey({ include: ['**'], exclude: ['**/*.tmp'] }), ruleKey({ include: ['debian/**'], exclude: [] })];
    const rc = computeRuleClasses(files, keys);
    // debian files: both rule sets; fedora/b.iso: first only; the .tmp file: none.
    expect(new Set(rc.fileClass).size).toBe(3);
    const coveredBy = (f: number, r: number) => bitGet(rc.membership[rc.fileClass[f]!]!, r);
    expect([coveredBy(0, 0), coveredBy(0, 1)]).toEqual([true, true]);
    expect([coveredBy(2, 0), coveredBy(2, 1)]).toEqual([true, false]);
    expect([coveredBy(3, 0), coveredBy(3, 1)]).toEqual([false, false]);
  });

  it('puts each file in a class whose membership is what the rule sets say of its path', () => {
    fc.assert(
      fc.property(fc.uniqueArray(originPath, { minLength: 1, maxLength: 40 }), fc.array(content, { minLength: 1, maxLength: 6 }), (paths, contents) => {
        const index = FileIndex.from(paths.map((path) => ({ path, size: 1 })));
        const keys = [...new Set(contents.map(ruleKey))];
        const rc = computeRuleClasses(index, keys);
        for (let f = 0; f < index.count; f++) {
          for (const key of keys) expect(covered(rc, f, key)).toBe(naiveCovers(key, paths[f]!));
        }
        // Classes are distinct memberships, all of one width (the snapshot codec ships them flat).
        expect(new Set(rc.membership.map((m) => m.join(','))).size).toBe(rc.membership.length);
        for (const m of rc.membership) expect(m.length).toBe((keys.length + 31) >>> 5);
      }),
      { numRuns: 300 },
    );
  });

  it('after any sequence of rule edits, gives every mirror the coverage a full recompute gives', () => {
    const edit = fc.record({ mirror: fc.nat({ max: 5 }), content });
    fc.assert(
      fc.property(
        fc.uniqueArray(originPath, { minLength: 1, maxLength: 40 }),
        fc.array(content, { minLength: 1, maxLength: 6 }),
        fc.array(edit, { maxLength: 12 }),
        (paths, initial, edits) => {
          const index = FileIndex.from(paths.map((path) => ({ path, size: 1 })));
          let mirrors = initial.map((c, i) => mirror(`m${i}`, c));
          let rc = ruleClassesFor(index, mirrors);
          for (const e of edits) {
            mirrors = mirrors.map((m, i) => (i === e.mirror % mirrors.length ? mirror(m.id, e.content) : m));
            const before = rc;
            rc = ruleClassesFor(index, mirrors, before);
            // Old membership bits keep their meaning unless everything was recomputed.
            const extended = rc !== before && rc.ruleKeys.length > before.ruleKeys.length && before.ruleKeys.every((k, i) => rc.ruleKeys[i] === k);
            if (extended) for (let f = 0; f < index.count; f++) for (const k of before.ruleKeys) expect(covered(rc, f, k)).toBe(covered(before, f, k));
            const full = computeRuleClasses(index, [...new Set(mirrors.map((m) => ruleKey(m.content)))].sort());
            for (const m of mirrors) {
              const key = ruleKey(m.content);
              for (let f = 0; f < index.count; f++) {
                expect(covered(rc, f, key)).toBe(covered(full, f, key));
                expect(covered(rc, f, key)).toBe(naiveCovers(key, paths[f]!));
              }
            }
            for (const m of rc.membership) expect(m.length).toBe((rc.ruleKeys.length + 31) >>> 5);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('extends classes across a word of membership bits', () => {
    const index = FileIndex.from(Array.from({ length: 40 }, (_, i) => ({ path: `p${i}/f${i % 3 ? '.iso' : ''}`, size: 1 })));
    const keys = Array.from({ length: 36 }, (_, i) => ruleKey({ include: [`p${i}/**`, `p${i + 1}/**`], exclude: i % 2 ? ['**/*.iso'] : [] }));
    const rc = extendRuleClasses(computeRuleClasses(index, keys.slice(0, 30)), keys.slice(30));
    expect(rc.ruleKeys).toEqual(keys);
    for (const m of rc.membership) expect(m.length).toBe(2);
    for (let f = 0; f < index.count; f++) for (const k of keys) expect(covered(rc, f, k)).toBe(naiveCovers(k, index.paths[f]!));
  });

  it('reuses classes that cover every rule key, extends them by new keys, and starts afresh when unused keys pile up', () => {
    const index = FileIndex.from(['debian/a.deb', 'debian/a.iso', 'fedora/b.rpm', 'fedora/b.iso', 'README'].map((path) => ({ path, size: 1 })));
    const all = mirror('all', { include: ['**'], exclude: [] });
    const debian = mirror('debian', { include: ['debian/**'], exclude: [] });
    const first = ruleClassesFor(index, [all, debian]);
    expect(first.ruleKeys).toEqual([ruleKey(all.content), ruleKey(debian.content)].sort());
    // A mirror removed: its key stays, the classes are reused as they are.
    expect(ruleClassesFor(index, [all], first)).toBe(first);

    // A new rule set: appended after the known ones, old bits and classes untouched.
    const noIso = mirror('debian', { include: ['debian/**'], exclude: ['**/*.iso'] });
    const second = ruleClassesFor(index, [all, noIso], first);
    expect(second.ruleKeys).toEqual([...first.ruleKeys, ruleKey(noIso.content)]);
    expect([0, 1, 2, 3, 4].map((f) => covered(second, f, ruleKey(noIso.content)))).toEqual([true, false, false, false, false]);
    expect(extendRuleClasses(first, [ruleKey(noIso.content)]).fileClass).toEqual(second.fileClass);

    // Two unused keys (debian/**, debian/** without ISOs) against one used: recomputed from the used keys.
    const fedora = mirror('fedora', { include: ['fedora/**'], exclude: [] });
    const third = ruleClassesFor(index, [fedora], second);
    expect(third.ruleKeys).toEqual([ruleKey(fedora.content)]);
    expect(third.membership).toHaveLength(2);

    // A new file index: recomputed.
    const next = FileIndex.from([{ path: 'debian/c.deb', size: 1 }]);
    expect(ruleClassesFor(next, [all, debian], first).files).toBe(next);
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

  it('finds a manifest path spelled decomposed (NFD) as the origin spells it composed (NFC), as scans do', () => {
    const origin = FileIndex.from([{ path: 'unicode/\u00dcn\u00efcode.txt', size: 5, mtime: 1 }]);
    const nfd = 'unicode/\u00dcn\u00efcode.txt'.normalize('NFD');
    expect(nfd).not.toBe('unicode/\u00dcn\u00efcode.txt');
    expect(bitGet(compileInventory([{ path: nfd, size: 5, mtime: 1 }], origin), 0)).toBe(true);
  });
});

describe('compileGlob', () => {
  // The general matcher is checked against picomatch itself in globMatch.test.ts.
  it('agrees with the general matcher on the fast-path shapes and everything else', () => {
    const seg = fc.constantFrom('proj', 'a', '.x', 'x.iso', '.iso', 'b.tar.gz', 'iso', 'proj.iso', 'Ünï (1)', 'debug', 'a|proj', 'a$b', 'a.');
    const path = fc.array(seg, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
    const glob = fc.constantFrom(
      '**',
      'proj/**',
      'a/proj/**',
      '**/*.iso',
      '**/*.tar.gz',
      '**/*.',
      '**/*.x/a',
      'proj/*.iso',
      '*.iso',
      '{a,proj}/**',
      'Ünï (1)/**',
      'a|proj/**',
      'a$b/**',
      '*/proj/**',
      '**/debug/**',
      '**/debug',
      'debug/**/x',
      '*/*/iso',
      'proj/*/debug/**',
      '**/*',
      '*',
      'a/*',
      '**/a/*',
      '**/.x/**',
      '**/*/debug/**',
      'proj',
      'proj/a',
    );
    fc.assert(
      fc.property(glob, path, (g, p) => {
        expect(compileGlob(g)(p)).toBe(linearGlob(g)(p));
      }),
      { numRuns: 4000 },
    );
  });
});
