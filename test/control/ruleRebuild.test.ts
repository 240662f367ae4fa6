// New include/exclude rules are evaluated in slices that leave the event loop free, and a rebuild past
// its budget is given up on: the mirror then carries nothing by its rules, never a file it may lack.
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec, MirrorState } from '../../src/core/model.js';
import { mirrorCarries, type Snapshot } from '../../src/core/snapshot.js';
import { mirrorSpec } from '../support/specs.js';

const spec = (id: string, include: string[]): MirrorSpec => mirrorSpec(id, { content: { include, exclude: [] } });
const routing = { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 };
const up = (ids: string[]) => new Map<string, MirrorState>(ids.map((id) => [id, { health: 'up' }]));

// Enough files that one rule evaluation takes many slices.
const files = FileIndex.from(
  Array.from({ length: 200_000 }, (_, i) => ({ path: `p${i % 50}/d${i % 977}/file-${i}.${i % 3 ? 'iso' : 'tar.gz'}`, size: 1, mtime: 1 })),
);

const carried = (s: Snapshot, id: string): number => {
  const m = s.mirrors.find((x) => x.spec.id === id)!;
  let n = 0;
  for (let f = 0; f < s.files.count; f++) if (mirrorCarries(s, m, f)) n++;
  return n;
};

describe('rule rebuilds', () => {
  it('evaluate new rules in slices, answering other work between them; the mirror carries nothing meanwhile', async () => {
    const b = new SnapshotBuilder({ mirrors: [spec('a', ['**']), spec('b', ['**'])], files, originBaseUrl: 'https://o.example/', routing, rebuildSliceMs: 1 });
    const edited = [spec('a', ['**']), spec('b', ['p1*/d*7/*-?1*.iso'])];
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const applied = b.applyMirrorsAndStates(edited, up(['a', 'b']));
    // Published at once: b's new rules are not known yet, so b carries nothing; a is untouched.
    expect(carried(b.current(), 'b')).toBe(0);
    expect(carried(b.current(), 'a')).toBe(files.count);
    const result = await applied;
    clearInterval(ticker);
    expect(result.abandoned).toEqual([]);
    expect(turns).toBeGreaterThan(0);
    const expected = Array.from({ length: files.count }, (_, f) => files.paths[f]!).filter((p) => /^p1[^/]*\/d[^/]*7\/[^/]*-.1[^/]*\.iso$/.test(p)).length;
    expect(expected).toBeGreaterThan(0);
    expect(carried(b.current(), 'b')).toBe(expected);
  });

  it('give up past the budget: the mirror carries nothing by rules, is not retried, and recovers when its rules change', async () => {
    const b = new SnapshotBuilder({
      mirrors: [spec('a', ['**']), spec('b', ['**'])],
      files,
      originBaseUrl: 'https://o.example/',
      routing,
      rebuildBudgetMs: 0,
      rebuildSliceMs: 0,
    });
    const hostile = [spec('a', ['**']), spec('b', ['**/*?*?*?*?*?*?*?*?Z'])];
    const result = await b.applyMirrorsAndStates(hostile, up(['a', 'b']));
    expect(result.abandoned).toHaveLength(1);
    expect(carried(b.current(), 'b')).toBe(0);
    expect(carried(b.current(), 'a')).toBe(files.count);
    // A later change (a probe result) does not start it again.
    expect((await b.applyMirrorsAndStates(hostile, up(['a', 'b']))).abandoned).toEqual([]);
    expect(carried(b.current(), 'b')).toBe(0);
    // Rules it already knows come back at once.
    await b.applyMirrorsAndStates([spec('a', ['**']), spec('b', ['**'])], up(['a', 'b']));
    expect(carried(b.current(), 'b')).toBe(files.count);
  });
});
