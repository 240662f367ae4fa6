import fc from 'fast-check';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { GLOB_LIMITS, PROBE_PATHS, globCost, globProblem, linearGlob } from '../../src/core/globMatch.js';

// Paths as the origin has them: no empty, "." or ".." segments.
const pathChar = fc.constantFrom('a', 'b', 'c', '.', '-', 'Z');
const pathSegment = fc
  .array(pathChar, { minLength: 1, maxLength: 6 })
  .map((c) => c.join(''))
  .filter((s) => s !== '.' && s !== '..');
const originPath = fc.array(pathSegment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'));

// Globs in the part of the dialect where picomatch means the same thing.
const atom = fc.constantFrom('a', 'b', 'c', '.', '-', 'Z', '*', '?', '[ab]', '[a-c]', '[^a]', '{a,b}', '{a,.c}', 'ab');
const globSegment = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(atom, { minLength: 1, maxLength: 4 })
      .map((a) => a.join(''))
      .filter((s) => !s.includes('**') && s !== '.' && s !== '..'),
  },
  { weight: 1, arbitrary: fc.constant('**') },
);
const commonGlob = fc
  .tuple(fc.boolean(), fc.array(globSegment, { minLength: 1, maxLength: 5 }))
  .map(([negate, segments]) => `${negate ? '!' : ''}${segments.join('/')}`);

/** "…x*\/**": the last segment before a trailing "**" ends in "*" (where picomatch wants one more segment). */
function endsStarThenGlobstar(glob: string): boolean {
  const segments = glob.split('/');
  while (segments.length > 1 && segments.at(-1) === '**') segments.pop();
  const last = segments.at(-1)!;
  return segments.length < glob.split('/').length && last !== '**' && last.endsWith('*');
}

describe('linearGlob', () => {
  it('agrees with picomatch wherever the two dialects agree', () => {
    fc.assert(
      fc.property(commonGlob, fc.array(originPath, { minLength: 1, maxLength: 8 }), (glob, paths) => {
        // Beyond 32 alternatives a glob is refused here; picomatch would build a regex of them.
        fc.pre(!/alternatives/.test(globProblem(glob) ?? ''));
        // picomatch: "a/**" matches "a" but "a*/**" does not match "ab"; here "X/**" always matches X.
        fc.pre(!endsStarThenGlobstar(glob));
        const mine = linearGlob(glob);
        const theirs = picomatch(glob, { dot: true });
        for (const p of paths) expect(mine(p), `${glob} on ${p}`).toBe(theirs(p));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads the rest of the dialect as documented', () => {
    const cases: [string, string, boolean][] = [
      ['**', 'a/b/c', true],
      ['a/**', 'a', true],
      ['a/**', 'a/b/c', true],
      ['a/**', 'ab', false],
      ['a/**/b', 'a/b', true],
      ['a/**/b', 'a/x/y/b', true],
      ['a/**/b', 'a/xb', false],
      ['**/b', 'b', true],
      ['a**b', 'axxb', true],
      ['a**b', 'ax/xb', false],
      ['[!a]', 'b', true],
      ['[!a]', 'a', false],
      ['[[:digit:]]x', '7x', true],
      ['[[:digit:]]x', 'ax', false],
      ['v{1..3}/x', 'v2/x', true],
      ['v{1..3}/x', 'v4/x', false],
      ['{a,b/c}/d', 'b/c/d', true],
      ['{a,{b,c}}/d', 'c/d', true],
      ['{a}', '{a}', true],
      ['a|b/**', 'a', true],
      ['a|b/**', 'b/x', true],
      ['a|b/**', 'c', false],
      ['!a/**', 'b', true],
      ['!a/**', 'a/b', false],
      ['!!a/**', 'a/b', true],
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['Ünï*/*.png', 'Ünïcode/x.png', true],
      ['Städte (2026)/**', 'Städte (2026)/x', true],
      ['Städte (2026)/**', 'Städte 2026/x', false],
      ['?', '😀', true],
      ['*', '', false],
      ['a/*', 'a/', false],
      ['**/*?*?*?*?*?*?*?*?Z', `${'a?'.repeat(40)}`, false],
      ['**/*?*?*?*?*?*?*?*?Z', 'x/abcdefghZ', true],
    ];
    for (const [glob, path, expected] of cases) expect(linearGlob(glob)(path), `${glob} on ${path}`).toBe(expected);
  });

  it('matches nothing for a glob outside the dialect (never throws)', () => {
    for (const glob of ['@(a|b)', '+(a)', 'a[[:nope:]]', '{a,b']) {
      expect(globProblem(glob)).toBeDefined();
      expect(() => linearGlob(glob)('a')).not.toThrow();
    }
    expect(linearGlob('@(a|b)')('a')).toBe(false);
    expect(linearGlob('x[[:nope:]]')('xa')).toBe(false);
  });
});

describe('globProblem', () => {
  it('accepts what configs use and names what it refuses', () => {
    for (const ok of ['**', 'debian/**', '**/*.iso', 'debian-cd/*/*/jigdo-*/**', '{fedora,epel}/**/*.rpm', '**/*?*?*?*?*?*?*?*?Z', '[[:alpha:]]*/**']) {
      expect(globProblem(ok), ok).toBeUndefined();
    }
    expect(globProblem('')).toBe('must not be empty');
    expect(globProblem('a'.repeat(GLOB_LIMITS.maxLength + 1))).toMatch(/longer than/);
    expect(globProblem('{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}')).toMatch(/more than 32 alternatives/);
    expect(globProblem('v{1..1000}')).toMatch(/alternatives/);
    expect(globProblem('@(a|b)')).toMatch(/extglobs/);
    expect(globProblem('a/*(b)')).toMatch(/extglobs/);
    expect(globProblem('Städte (2026)/**')).toBeUndefined();
    expect(globProblem('a/[b')).toMatch(/without its "]"/);
    expect(globProblem('a/[b/c]')).toMatch(/cannot hold "\/"/);
    expect(globProblem('{a|b}')).toMatch(/inside \{…\}/);
    expect(globProblem('a/../b')).toMatch(/"\." or "\.\."/);
    expect(globProblem(Array.from({ length: 40 }, () => 'a').join('/'))).toMatch(/more than 32 segments/);
  });

  // The one place a test reads a clock: a generous budget, as a guard against backtracking coming back.
  it('validates and matches random hostile globs within a time budget', () => {
    const hostile = fc.constantFrom('*', '?', '**', '/', '{', ',', '}', '[', ']', 'a', 'Z', '!', '|', '\\', '-', '[a-z]', '*?', '**/', '{a,b}');
    const longPaths = [...PROBE_PATHS, 'a/'.repeat(500) + 'Z', `${'a?'.repeat(500)}`, `${'ab'.repeat(200)}/${'a'.repeat(300)}Y`];
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 128 }), (parts) => {
        const glob = parts.join('').slice(0, GLOB_LIMITS.maxLength);
        const started = performance.now();
        const problem = globProblem(glob);
        const match = linearGlob(glob);
        for (const p of longPaths) match(p);
        const elapsed = performance.now() - started;
        expect(elapsed, `${glob}: ${elapsed.toFixed(1)} ms`).toBeLessThan(500);
        if (problem === undefined) {
          accepted++;
          expect(globCost(glob)).toBeLessThanOrEqual(GLOB_LIMITS.maxProbeCost);
        }
      }),
      { numRuns: 1500 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('the glob that pinned the CPU is matched in one pass', () => {
    const glob = '**/*?*?*?*?*?*?*?*?Z';
    const match = linearGlob(glob);
    const paths = Array.from({ length: 2000 }, (_, i) => `p${i}/${'a?'.repeat(100)}`);
    const started = performance.now();
    expect(paths.some(match)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
    // Work grows with the path, not exponentially with the wildcards.
    expect(globCost(glob, [`x/${'a'.repeat(400)}`])).toBeLessThan(2 * globCost(glob, [`x/${'a'.repeat(200)}`]) + 10);
  });
});
