// The edge's per-core shard composer gives, field for field, the snapshot composeShardSnapshot gives (random networks).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { ClientFacts, MirrorSpec, MirrorState, OriginFile } from '../../src/core/model.js';
import { composeShardSnapshot, decodeCore, decodeShard, splitSnapshot } from '../../src/core/snapshotShards.js';
import { ShardComposer } from '../../src/edge/composeShard.js';
import { mirrorSpec } from '../support/specs.js';

const NOW = Date.UTC(2026, 10, 1);
const ROUTING = { bandKm: 300, maxAlternatives: 3, maxLagSeconds: 6 * 3600 };
const DIRS = ['debian', 'fedora', 'pub/images'];
const INCLUDES = [['**'], ['debian/**'], ['fedora/**', 'pub/**'], ['**/*.iso']];
const CLIENTS: ClientFacts[] = [
  { ip: '203.0.113.7', country: 'DE', continent: 'EU', lat: 52.52, lon: 13.4, https: false },
  { ip: '198.51.100.20', country: 'US', continent: 'NA', lat: 40.7, lon: -74, https: true, asn: 64501 },
];

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { baseUrl: `https://${id}.example/pub/`, ...over });
}

const networkArb = fc.record({
  files: fc.uniqueArray(fc.record({ dir: fc.constantFrom(...DIRS), name: fc.stringMatching(/^[a-z0-9]{1,6}$/), iso: fc.boolean() }), {
    minLength: 1,
    maxLength: 30,
    selector: (f) => `${f.dir}/${f.name}.${f.iso ? 'iso' : 'txt'}`,
  }),
  mirrors: fc.array(
    fc.record({
      country: fc.constantFrom('DE', 'US', 'JP'),
      include: fc.constantFrom(...INCLUDES),
      health: fc.constantFrom('up', 'down', 'unknown'),
      drained: fc.boolean(),
      inventory: fc.option(fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), { nil: undefined }),
      missing: fc.array(fc.nat(29), { maxLength: 2 }),
      heldBack: fc.array(fc.nat(29), { maxLength: 2 }),
      asn: fc.boolean(),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  target: fc.integer({ min: 1, max: 8 }),
  /** After the split: a mirror added (with its own rules) and one mirror's rules changed, in the core only. */
  laterChange: fc.boolean(),
});

describe('ShardComposer', () => {
  it('composes what composeShardSnapshot composes, for every shard, and decide() agrees', () => {
    fc.assert(
      fc.property(networkArb, (n) => {
        const files: OriginFile[] = n.files.map((f, i) => ({ path: `${f.dir}/${f.name}.${f.iso ? 'iso' : 'txt'}`, size: 100 + i, mtime: 1_700_000_000 + i }));
        const specs = n.mirrors.map((m, i) => mirror(`m${i}`, { country: m.country, content: { include: m.include, exclude: [] }, asn: m.asn ? [64501] : [] }));
        const b = new SnapshotBuilder({
          mirrors: specs,
          files: FileIndex.from(files),
          originBaseUrl: 'https://origin.example/',
          routing: ROUTING,
          clock: () => NOW,
        });
        n.mirrors.forEach((m, i) => {
          const state: MirrorState = { health: m.health as MirrorState['health'], lastSync: 1_700_000_010 };
          if (m.drained) state.drain = { startMs: NOW - 1000, overMs: 0 };
          const pick = (xs: number[]) => xs.map((x) => files[x % files.length]!.path);
          if (m.missing.length) state.missing = pick(m.missing);
          if (m.heldBack.length) state.heldBack = pick(m.heldBack);
          b.setState(`m${i}`, state);
          if (m.inventory)
            b.setInventory(
              `m${i}`,
              files.filter((_, x) => m.inventory![x]).map((f) => ({ path: f.path, size: f.size, mtime: f.mtime })),
            );
        });
        const { shards } = splitSnapshot(b.current(), n.target);
        if (n.laterChange) {
          const now = b.current().mirrors.map((m) => m.spec);
          b.setMirrors([
            { ...now[0]!, content: { include: ['debian/**', 'fedora/**'], exclude: ['**/*.txt'] } },
            ...now.slice(1),
            mirror('late', { country: 'US' }),
          ]);
        }
        const core = decodeCore(splitSnapshot(b.current(), n.target).core);
        const composer = new ShardComposer(core, NOW);
        for (const bytes of shards) {
          const shard = decodeShard(bytes);
          const fast = composer.compose(shard);
          const reference = composeShardSnapshot(core, shard, NOW);
          expect(fast).toEqual(reference);
          for (const path of shard.files.paths) {
            for (const client of CLIENTS) {
              const a = decide(fast, path, client, { nowMs: NOW, explain: true });
              const r = decide(reference, path, client, { nowMs: NOW, explain: true });
              expect(a.ranked.map((c) => [c.mirror.spec.id, c.tier, c.weight])).toEqual(r.ranked.map((c) => [c.mirror.spec.id, c.tier, c.weight]));
              expect(a.excluded.map((e) => [e.mirror.spec.id, e.reason])).toEqual(r.excluded.map((e) => [e.mirror.spec.id, e.reason]));
            }
          }
        }
      }),
      { numRuns: 120 },
    );
  });

  it('reads a control plane of the previous format (core /1, shards with the rule keys themselves)', () => {
    const files: OriginFile[] = Array.from({ length: 12 }, (_, i) => ({ path: `${DIRS[i % 3]}/f${i}.iso`, size: i + 1 }));
    const b = new SnapshotBuilder({
      mirrors: [mirror('deb', { content: { include: ['debian/**'], exclude: [] } }), mirror('all', { country: 'US' })],
      files: FileIndex.from(files),
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    const split = splitSnapshot(b.current(), 4);
    const json = JSON.parse(new TextDecoder().decode(split.core)) as { format: string; mirrors: { ruleTag?: string }[] };
    json.format = 'mirrorgate-core/1';
    for (const m of json.mirrors) delete m.ruleTag;
    const oldCore = decodeCore(new TextEncoder().encode(JSON.stringify(json)));
    const composer = new ShardComposer(oldCore, NOW);
    for (const bytes of split.shards) {
      const tagged = decodeShard(bytes);
      // What a /1 shard carried: the keys, not their tags.
      const old = { ...tagged, rules: { ...tagged.rules, ruleKeys: b.current().rules.ruleKeys } };
      expect(composer.compose(old)).toEqual(composeShardSnapshot(decodeCore(split.core), tagged, NOW));
    }
  });

  it('builds the per-core part once and shares it between shards of one split', () => {
    const files: OriginFile[] = Array.from({ length: 20 }, (_, i) => ({ path: `pub/f${i}.iso`, size: i + 1 }));
    const b = new SnapshotBuilder({
      mirrors: [mirror('a'), mirror('b', { country: 'FR' })],
      files: FileIndex.from(files),
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    const { core, shards } = splitSnapshot(b.current(), 4);
    const composer = new ShardComposer(decodeCore(core), NOW);
    const [x, y] = [composer.compose(decodeShard(shards[0]!)), composer.compose(decodeShard(shards[1]!))];
    // No mirror has an inventory or probe findings: both shards use the template's mirrors and pools as they are.
    expect(x.mirrors).toBe(y.mirrors);
    expect(x.activeByClass).toBe(y.activeByClass);
    expect(x.files).not.toBe(y.files);
  });
});
