// A snapshot split into a core and file shards answers every file as the whole snapshot does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide, type Decision } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { ClientFacts, InventoryEntry, MirrorSpec, MirrorState, OriginFile } from '../../src/core/model.js';
import { mirrorCarries, type Snapshot } from '../../src/core/snapshot.js';
import {
  composeCoreSnapshot,
  composeShardSnapshot,
  contentHash,
  decodeCore,
  decodeShard,
  encodeCore,
  shardCount,
  ShardCache,
  shardOf,
  splitFiles,
  splitSnapshot,
} from '../../src/core/snapshotShards.js';
import { mirrorSpec } from '../support/specs.js';

const NOW = Date.UTC(2026, 10, 1);
const ROUTING = { bandKm: 300, maxAlternatives: 3, maxLagSeconds: 6 * 3600 };

const CLIENTS: ClientFacts[] = [
  { ip: '203.0.113.7', country: 'DE', continent: 'EU', lat: 52.52, lon: 13.4, https: false },
  { ip: '198.51.100.20', country: 'US', continent: 'NA', lat: 40.7, lon: -74, https: true, asn: 64501 },
  { ip: '192.0.2.99', country: 'JP', continent: 'AS', lat: 35.7, lon: 139.7, https: false },
  { ip: '2001:db8::1', https: true },
];

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { baseUrl: `https://${id}.example/pub/`, ...over });
}

/** What two decisions must agree on: the ranking (ids, tiers, distances, weights), the count and the exclusions. */
function summary(d: Decision) {
  return {
    outcome: d.outcome,
    ranked: d.ranked.map((c) => [c.mirror.spec.id, c.tier, c.distanceKm, c.weight]),
    candidateCount: d.candidateCount,
    excluded: d.excluded.map((e) => [e.mirror.spec.id, e.reason]),
  };
}

/** The composed snapshot of the shard holding `path`. */
function shardSnapshotFor(core: ReturnType<typeof decodeCore>, shards: readonly Uint8Array[], path: string, nowMs = NOW): Snapshot {
  return composeShardSnapshot(core, shards[shardOf(path, core.shards.length)]!, nowMs);
}

function expectSameAnswers(whole: Snapshot, core: ReturnType<typeof decodeCore>, shards: readonly Uint8Array[], nowMs = NOW): void {
  for (const path of [...whole.files.paths, 'no/such/file.iso']) {
    const part = shardSnapshotFor(core, shards, path, nowMs);
    for (const client of CLIENTS) {
      for (const explain of [false, true]) {
        for (const preferMirror of [undefined, whole.mirrors[0]?.spec.id]) {
          const opts = { nowMs, explain, preferMirror, limit: explain ? undefined : 4 };
          expect(summary(decide(part, path, client, opts)), `${path} for ${client.ip}`).toEqual(summary(decide(whole, path, client, opts)));
        }
      }
    }
    // /api/v1/files lists the mirrors that carry the file: the same ones.
    const f = whole.files.lookup(path);
    if (f >= 0) {
      const g = part.files.lookup(path);
      expect(part.files.file(g)).toEqual(whole.files.file(f));
      expect(part.files.arrival(g)).toEqual(whole.files.arrival(f) && { ...whole.files.arrival(f), file: g });
      expect(part.mirrors.filter((m) => mirrorCarries(part, m, g)).map((m) => m.spec.id)).toEqual(
        whole.mirrors.filter((m) => mirrorCarries(whole, m, f)).map((m) => m.spec.id),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random networks

const DIRS = ['debian', 'fedora', 'arch', 'pub/docs', 'pub/images'];
const EXTS = ['iso', 'txt', 'tar.gz'];
const INCLUDES = [['**'], ['debian/**'], ['fedora/**', 'arch/**'], ['pub/**'], ['**/*.iso']];
const EXCLUDES = [[], ['**/*.iso'], ['pub/docs/**']];
const COUNTRIES = ['DE', 'FR', 'US', 'JP', 'BR'];

const fileArb = fc.record({
  dir: fc.constantFrom(...DIRS),
  name: fc.stringMatching(/^[a-z0-9][a-z0-9 ._-]{0,11}$/),
  ext: fc.constantFrom(...EXTS),
  size: fc.integer({ min: 1, max: 1e9 }),
  mtime: fc.option(fc.integer({ min: 1_700_000_000, max: 1_700_100_000 }), { nil: undefined }),
  hashed: fc.boolean(),
  pieces: fc.boolean(),
  /** Seen arriving while the origin was watched (FileIndex arrivals), as a new path or a changed file. */
  arrived: fc.option(fc.record({ at: fc.integer({ min: 1_700_000_000, max: 1_700_100_000 }), isNew: fc.boolean() }), { nil: undefined }),
});

/** Piece hashes for a file of `size` bytes: at most 8 pieces, made-up digests told apart by file and piece. */
function piecesFor(size: number, i: number): OriginFile['pieces'] {
  let length = 16 * 1024;
  while (Math.ceil(size / length) > 8) length *= 2;
  const count = Math.ceil(size / length);
  return { length, sha256: Array.from({ length: count }, (_, k) => ((i * 8 + k) % 256).toString(16).padStart(2, '0').repeat(32)).join('') };
}

const mirrorArb = fc.record({
  country: fc.constantFrom(...COUNTRIES),
  include: fc.constantFrom(...INCLUDES),
  exclude: fc.constantFrom(...EXCLUDES),
  countryOnly: fc.boolean(),
  enabled: fc.boolean(),
  https: fc.boolean(),
  weight: fc.integer({ min: 0, max: 200 }),
  asn: fc.boolean(),
  health: fc.constantFrom('up', 'up', 'down', 'unknown'),
  lagSeconds: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
  lastSync: fc.option(fc.integer({ min: 1_700_000_000, max: 1_700_100_000 }), { nil: undefined }),
  drain: fc.option(fc.record({ startMs: fc.integer({ min: NOW - 3_600_000, max: NOW }), overMs: fc.integer({ min: 0, max: 7_200_000 }) }), { nil: undefined }),
  launching: fc.boolean(),
  /** Per file: listed in an inventory (undefined: the mirror has none), with a stale size sometimes. */
  inventory: fc.option(fc.array(fc.constantFrom('have', 'have', 'stale', 'absent'), { minLength: 40, maxLength: 40 }), { nil: undefined }),
  missing: fc.array(fc.nat(39), { maxLength: 3 }),
});

const networkArb = fc.record({
  files: fc.uniqueArray(fileArb, { minLength: 0, maxLength: 40, selector: (f) => `${f.dir}/${f.name}.${f.ext}` }),
  mirrors: fc.array(mirrorArb, { minLength: 1, maxLength: 7 }),
  target: fc.integer({ min: 1, max: 12 }),
});

type Network = typeof networkArb extends fc.Arbitrary<infer T> ? T : never;

function buildNetwork(n: Network): SnapshotBuilder {
  const files: OriginFile[] = n.files.map((f, i) => ({
    path: `${f.dir}/${f.name}.${f.ext}`,
    size: f.size,
    ...(f.mtime !== undefined ? { mtime: f.mtime } : {}),
    ...(f.hashed ? { sha256: (i % 256).toString(16).padStart(2, '0').repeat(32) } : {}),
    ...(f.pieces ? { pieces: piecesFor(f.size, i) } : {}),
  }));
  const specs = n.mirrors.map((m, i) =>
    mirror(`m${i}`, {
      country: m.country,
      baseUrl: `${m.https ? 'https' : 'http'}://m${i}.example/`,
      content: { include: m.include, exclude: m.exclude },
      countryOnly: m.countryOnly,
      enabled: m.enabled,
      weight: m.weight,
      asn: m.asn ? [64501] : [],
    }),
  );
  const arrivals = n.files.flatMap((f, i) => (f.arrived ? [{ file: i, ...f.arrived }] : []));
  const b = new SnapshotBuilder({
    mirrors: specs,
    files: FileIndex.from(files).withArrivals(arrivals),
    originBaseUrl: 'https://origin.example/',
    routing: ROUTING,
    clock: () => NOW,
  });
  n.mirrors.forEach((m, i) => {
    const state: MirrorState = { health: m.health as MirrorState['health'] };
    if (m.lagSeconds !== undefined) state.lagSeconds = m.lagSeconds;
    if (m.lastSync !== undefined) state.lastSync = m.lastSync;
    if (m.drain) state.drain = m.drain;
    if (m.launching) state.launching = true;
    const missing = m.missing.map((x) => files[x]?.path).filter((p): p is string => p !== undefined);
    if (missing.length) state.missing = missing;
    b.setState(`m${i}`, state);
    if (m.inventory) {
      const entries: InventoryEntry[] = [];
      files.forEach((f, x) => {
        const what = m.inventory![x % m.inventory!.length];
        if (what === 'have') entries.push({ path: f.path, size: f.size, mtime: f.mtime });
        if (what === 'stale') entries.push({ path: f.path, size: f.size + 1 });
      });
      b.setInventory(`m${i}`, entries);
    }
  });
  return b;
}

// ---------------------------------------------------------------------------------------------

describe('shard numbering', () => {
  it('uses the smallest power of two with at most the target files per shard', () => {
    expect(shardCount(0)).toBe(1);
    expect(shardCount(20_000, 20_000)).toBe(1);
    expect(shardCount(20_001, 20_000)).toBe(2);
    expect(shardCount(1_000_000, 20_000)).toBe(64);
    // The default: 2,500 files a shard at most.
    expect(shardCount(2_500)).toBe(1);
    expect(shardCount(1_000_000)).toBe(512);
    expect(shardCount(8, 3)).toBe(4);
  });

  it('puts every file in exactly one shard, the one shardOf names', () => {
    fc.assert(
      fc.property(networkArb, (n) => {
        const whole = buildNetwork(n).current();
        const { core, shards } = splitSnapshot(whole, n.target);
        const c = decodeCore(core);
        expect(c.shards).toHaveLength(shardCount(whole.files.count, n.target));
        expect(c.fileCount).toBe(whole.files.count);
        let total = 0;
        shards.forEach((bytes, k) => {
          const s = decodeShard(bytes);
          expect(c.shards[k]).toEqual({ hash: contentHash(bytes), files: s.files.count, bytes: bytes.byteLength });
          for (const p of s.files.paths) expect(shardOf(p, shards.length)).toBe(k);
          total += s.files.count;
        });
        expect(total).toBe(whole.files.count);
      }),
      { numRuns: 60 },
    );
  });
});

describe('a composed shard snapshot decides as the whole snapshot', () => {
  it('for every file, client and option (random networks)', () => {
    fc.assert(
      fc.property(networkArb, (n) => {
        const whole = buildNetwork(n).current();
        const { core, shards } = splitSnapshot(whole, n.target);
        expectSameAnswers(whole, decodeCore(core), shards);
      }),
      { numRuns: 150 },
    );
  });

  it('a state change (drain) reaches a cached shard on recompose, without re-splitting', () => {
    const files = FileIndex.from(Array.from({ length: 30 }, (_, i) => ({ path: `debian/pool/p${i}.deb`, size: 100 + i, mtime: 1_700_000_000 })));
    const b = new SnapshotBuilder({
      mirrors: [mirror('de-a', { lat: 52.5, lon: 13.4 }), mirror('de-b', { lat: 52.4, lon: 13.3 }), mirror('fr', { country: 'FR' })],
      files,
      originBaseUrl: 'https://origin.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    b.setInventory(
      'de-a',
      files.paths.slice(0, 20).map((path, i) => ({ path, size: 100 + i, mtime: 1_700_000_000 })),
    );
    const cache = new ShardCache();
    const before = b.current();
    const set = cache.shards(before, 8);
    expect(set.count).toBe(4);
    // The shard as an edge decoded it before the change.
    const held = set.shards.map(decodeShard);

    b.setState('de-a', { health: 'up', drain: { startMs: NOW - 1000, overMs: 0 } });
    const after = b.current();
    expect(cache.shards(after, 8)).toBe(set); // no new split for a state change
    const core = decodeCore(cache.core(after, 8));
    expect(core.shards).toEqual(set.info);
    for (const path of files.paths) {
      const part = composeShardSnapshot(core, held[shardOf(path, 4)]!, NOW);
      const d = decide(part, path, CLIENTS[0]!, { nowMs: NOW, explain: true });
      expect(summary(d)).toEqual(summary(decide(after, path, CLIENTS[0]!, { nowMs: NOW, explain: true })));
      expect(d.excluded.map((e) => [e.mirror.spec.id, e.reason])).toContainEqual(['de-a', 'draining']);
      expect(d.chosen?.mirror.spec.id).not.toBe('de-a');
    }
  });

  it('a mirror added with a rule key an old shard does not know carries nothing there', () => {
    const files = FileIndex.from([
      { path: 'debian/a.iso', size: 1 },
      { path: 'fedora/b.iso', size: 2 },
      { path: 'arch/c.iso', size: 3 },
    ]);
    const b = new SnapshotBuilder({
      mirrors: [mirror('deb', { content: { include: ['debian/**'], exclude: [] } })],
      files,
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    const old = splitSnapshot(b.current(), 1);
    b.setMirrors([...b.current().mirrors.map((m) => m.spec), mirror('all', { country: 'JP' })]);
    const now = b.current();
    expect(now.rules.ruleKeys).toHaveLength(2);
    const core = decodeCore(splitSnapshot(now, 1).core);
    const client = CLIENTS[2]!;
    for (const path of files.paths) {
      const stale = shardSnapshotFor(core, old.shards, path);
      const m = stale.mirrors[stale.byId.get('all')!]!;
      expect(m.ruleBit).toBe(-1);
      expect(mirrorCarries(stale, m, stale.files.lookup(path))).toBe(false);
      const d = decide(stale, path, client, { nowMs: NOW, explain: true });
      expect(d.ranked.map((c) => c.mirror.spec.id)).not.toContain('all');
      expect(d.excluded).toContainEqual(
        expect.objectContaining({ reason: 'missing-file', mirror: expect.objectContaining({ spec: expect.objectContaining({ id: 'all' }) }) }),
      );
      // Once the edge has the new shards, the new mirror is routed as on the control plane.
      const fresh = splitSnapshot(now, 1);
      expect(summary(decide(shardSnapshotFor(core, fresh.shards, path), path, client, { nowMs: NOW, explain: true }))).toEqual(
        summary(decide(now, path, client, { nowMs: NOW, explain: true })),
      );
    }
  });
});

/** `files` origin files and two mirrors, de with an inventory of the first `inventoried`. */
function twoMirrors(files: number, inventoried: number): { base: OriginFile[]; b: SnapshotBuilder } {
  const base: OriginFile[] = Array.from({ length: files }, (_, i) => ({ path: `pub/f${i}.txt`, size: i + 1, mtime: 1_700_000_000 }));
  const b = new SnapshotBuilder({
    mirrors: [mirror('de'), mirror('us', { country: 'US' })],
    files: FileIndex.from(base),
    originBaseUrl: 'https://o.example/',
    routing: ROUTING,
    clock: () => NOW,
  });
  b.setInventory('de', base.slice(0, inventoried));
  return { base, b };
}

describe('shard hashes and the control plane cache', () => {
  it('a new origin file changes the hash of its shard only', () => {
    const { base, b } = twoMirrors(64, 40);
    const cache = new ShardCache();
    const first = cache.shards(b.current(), 10);
    expect(first.count).toBe(8);
    const added = 'pub/new-release.iso';
    b.setFiles(FileIndex.from([...base, { path: added, size: 5, mtime: 1_700_000_100 }]));
    const second = cache.shards(b.current(), 10);
    expect(second).not.toBe(first);
    const k = shardOf(added, 8);
    first.info.forEach((info, i) => (i === k ? expect(second.info[i]!.hash).not.toBe(info.hash) : expect(second.info[i]).toEqual(info)));
  });

  it('re-splits when an inventory changes, and keeps the split for state changes', () => {
    const base: OriginFile[] = Array.from({ length: 10 }, (_, i) => ({ path: `pub/f${i}.txt`, size: i + 1 }));
    const b = new SnapshotBuilder({
      mirrors: [mirror('de')],
      files: FileIndex.from(base),
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    const cache = new ShardCache();
    const a = cache.shards(b.current(), 4);
    b.setState('de', { health: 'down' });
    expect(cache.shards(b.current(), 4)).toBe(a);
    b.setInventory('de', base.slice(0, 3));
    const c = cache.shards(b.current(), 4);
    expect(c).not.toBe(a);
    expect(cache.shards(b.current(), 4)).toBe(c);
    expect(cache.shards(b.current(), 2)).not.toBe(c); // another shard size splits anew
  });

  it('splits cooperatively, in slices with pauses between them, to the same bytes; two runs at once share the work', async () => {
    const { b } = twoMirrors(300, 200);
    // A clock that moves 4 ms a reading: with 10 ms slices, a pause every few steps.
    let clock = 0;
    let pauses = 0;
    const how = { now: () => (clock += 4), pause: async () => void pauses++, sliceMs: 10 };
    const cache = new ShardCache();
    const [one, two] = await Promise.all([cache.shardsCooperatively(b.current(), 8, how), cache.shardsCooperatively(b.current(), 8, how)]);
    expect(one.count).toBe(64);
    expect(two).toBe(one);
    expect(pauses).toBeGreaterThan(10);
    const fresh = splitFiles(b.current(), 8);
    expect(one.info).toEqual(fresh.info);
    one.shards.forEach((bytes, k) => expect(bytes).toEqual(fresh.shards[k]));
    expect(decodeCore(await cache.coreCooperatively(b.current(), 8, how))).toEqual(decodeCore(encodeCore(b.current(), fresh)));

    // A state change re-encodes nothing but the core: no slices, no pauses.
    b.setState('de', { health: 'down' });
    const before = pauses;
    expect(await cache.shardsCooperatively(b.current(), 8, how)).toBe(one);
    expect(pauses).toBe(before);
  });

  it('a cached split, updated part by part, is byte for byte a fresh split (random changes)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('inventory' as const), mirror: fc.nat(6), keep: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('drop' as const), mirror: fc.nat(6) }),
      fc.record({ kind: fc.constant('state' as const), mirror: fc.nat(6) }),
      fc.record({ kind: fc.constant('files' as const), keep: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('rules' as const), mirror: fc.nat(6), include: fc.constantFrom(...INCLUDES) }),
    );
    fc.assert(
      fc.property(networkArb, fc.array(op, { maxLength: 6 }), (n, ops) => {
        const b = buildNetwork(n);
        const all = [...b.current().files.files()];
        const cache = new ShardCache();
        cache.shards(b.current(), n.target);
        for (const o of ops) {
          const ids = b.current().mirrors.map((m) => m.spec.id);
          const id = 'mirror' in o ? ids[o.mirror % ids.length]! : '';
          if (o.kind === 'inventory')
            b.setInventory(
              id,
              all.filter((_, i) => o.keep[i % 40]),
            );
          if (o.kind === 'drop') b.removeInventory(id);
          if (o.kind === 'state') b.setState(id, { health: 'down' });
          if (o.kind === 'files') b.setFiles(FileIndex.from(all.filter((_, i) => o.keep[i % 40])));
          if (o.kind === 'rules')
            b.setMirrors(b.current().mirrors.map((m) => (m.spec.id === id ? { ...m.spec, content: { include: o.include, exclude: [] } } : m.spec)));
          const cached = cache.shards(b.current(), n.target);
          const fresh = splitFiles(b.current(), n.target);
          expect(cached.info).toEqual(fresh.info);
          cached.shards.forEach((bytes, k) => expect(bytes).toEqual(fresh.shards[k]));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('hashes bytes: equal bytes equal hashes, one flipped bit another', () => {
    const bytes = new Uint8Array(1001).map((_, i) => (i * 31) & 0xff);
    const h = contentHash(bytes);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(contentHash(bytes.slice())).toBe(h);
    const flipped = bytes.slice();
    flipped[500]! ^= 1;
    expect(contentHash(flipped)).not.toBe(h);
    expect(contentHash(bytes.subarray(1))).not.toBe(contentHash(bytes.subarray(0, 1000)));
  });

  it('shards carry piece hashes: each file its own, renumbered within the shard', () => {
    const files: OriginFile[] = Array.from({ length: 50 }, (_, i) => ({
      path: `pub/f${i}.iso`,
      size: 100_000 + i,
      ...(i % 3 === 0 ? { pieces: piecesFor(100_000 + i, i) } : {}),
    }));
    const b = new SnapshotBuilder({
      mirrors: [mirror('de')],
      files: FileIndex.from(files),
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    const { core, shards } = splitSnapshot(b.current(), 8);
    const c = decodeCore(core);
    expect(shards).toHaveLength(8);
    let withPieces = 0;
    for (const f of files) {
      const part = shardSnapshotFor(c, shards, f.path);
      const g = part.files.lookup(f.path);
      expect(part.files.file(g)).toEqual(f);
      if (f.pieces) withPieces++;
    }
    expect(withPieces).toBe(17);
    // A shard whose files have no pieces has no piece table.
    const bare = splitSnapshot(
      new SnapshotBuilder({
        mirrors: [mirror('de')],
        files: FileIndex.from(files.map(({ pieces: _, ...f }) => f)),
        originBaseUrl: 'https://o.example/',
        routing: ROUTING,
        clock: () => NOW,
      }).current(),
      8,
    );
    for (const bytes of bare.shards) expect(decodeShard(bytes).files.columns().pieces).toBeUndefined();
  });

  it('the core alone has the mirrors and states but no files', () => {
    const b = new SnapshotBuilder({
      mirrors: [mirror('de'), mirror('fr', { country: 'FR' })],
      files: FileIndex.from([{ path: 'a', size: 1 }]),
      originBaseUrl: 'https://o.example/',
      routing: ROUTING,
      clock: () => NOW,
    });
    b.setState('fr', { health: 'down' });
    const whole = b.current();
    const core = decodeCore(encodeCore(whole, splitFiles(whole)));
    const s = composeCoreSnapshot(core, NOW);
    expect(s.version).toBe(whole.version);
    expect(s.builtAtMs).toBe(whole.builtAtMs);
    expect(s.files.count).toBe(0);
    expect(s.mirrors.map((m) => [m.spec.id, m.status])).toEqual(whole.mirrors.map((m) => [m.spec.id, m.status]));
    expect(() => decodeCore(new TextEncoder().encode('{"format":"other"}'))).toThrow(/not a Mirrorgate snapshot core/);
  });
});
