import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileInventoryListing } from '../../src/core/availability.js';
import { DEFAULT_CONSISTENCY_RULES, type ConsistencyRule } from '../../src/core/consistency.js';
import { decide, type Decision } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { ClientFacts, InventoryEntry, MirrorSpec, MirrorState, OriginFile } from '../../src/core/model.js';
import { buildSnapshot, type Snapshot } from '../../src/core/snapshot.js';
import { mirrorSpec } from '../support/specs.js';

const NOW = Date.UTC(2026, 10, 1);
const ROUTING = { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 6 * 3600 };

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { name: id.toUpperCase(), baseUrl: `https://${id}.example/pub/`, ...over });
}

function snapshotOf(opts: {
  files: OriginFile[];
  mirrors: MirrorSpec[];
  states?: Record<string, MirrorState>;
  inventories?: Record<string, InventoryEntry[]>;
  nowMs?: number;
  routing?: Partial<typeof ROUTING>;
  consistency?: readonly ConsistencyRule[];
}): Snapshot {
  const files = FileIndex.from(opts.files);
  const compiled = Object.entries(opts.inventories ?? {}).map(([id, e]) => [id, compileInventoryListing(e, files)] as const);
  return buildSnapshot({
    consistency: opts.consistency,
    listings: new Map(compiled.flatMap(([id, c]) => (c.listed ? [[id, c.listed] as const] : []))),
    version: 1,
    nowMs: opts.nowMs ?? NOW,
    files,
    mirrors: opts.mirrors,
    states: new Map(Object.entries(opts.states ?? {})),
    inventories: new Map(compiled.map(([id, c]) => [id, c.current])),
    origin: { baseUrl: 'https://origin.example/pub/' },
    routing: { ...ROUTING, ...opts.routing },
  });
}

const BERLIN: ClientFacts = { ip: '203.0.113.7', country: 'DE', continent: 'EU', lat: 52.52, lon: 13.4, https: false };
const FILE: OriginFile = { path: 'debian/netinst.iso', size: 1000, mtime: 1_700_000_000 };

const pick = (d: Decision) => d.chosen?.mirror.spec.id;

describe('decide: the order of SPEC "Choice, in order"', () => {
  it('prefers same ASN, then same country, then continent, then distance', () => {
    const mirrors = [
      mirror('far-fr', { country: 'FR', lat: 48.85, lon: 2.35 }),
      mirror('us', { country: 'US', lat: 40.7, lon: -74 }),
      mirror('de-munich', { country: 'DE', lat: 48.14, lon: 11.58 }),
      mirror('asn-jp', { country: 'JP', lat: 35.7, lon: 139.7, asn: [64500] }),
    ];
    const snap = snapshotOf({ files: [FILE], mirrors });
    expect(pick(decide(snap, FILE.path, { ...BERLIN, asn: 64500 }, { nowMs: NOW }))).toBe('asn-jp');
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW }))).toBe('de-munich');
    const austria: ClientFacts = { ip: '203.0.113.9', country: 'AT', continent: 'EU', lat: 48.2, lon: 16.37, https: false };
    expect(pick(decide(snap, FILE.path, austria, { nowMs: NOW }))).toBe('de-munich');
    const kenya: ClientFacts = { ip: '203.0.113.10', country: 'KE', continent: 'AF', lat: -1.29, lon: 36.8, https: false };
    expect(pick(decide(snap, FILE.path, kenya, { nowMs: NOW }))).toBe('de-munich');
    const d = decide(snap, FILE.path, kenya, { nowMs: NOW });
    expect(d.ranked.map((c) => c.mirror.spec.id)).toEqual(['de-munich', 'far-fr', 'asn-jp', 'us']);
  });

  it('leaves out disabled, down, lagging and drained mirrors, with the reason when asked', () => {
    const mirrors = [mirror('off', { enabled: false }), mirror('down'), mirror('lag'), mirror('drained'), mirror('ok', { country: 'FR' })];
    const snap = snapshotOf({
      files: [FILE],
      mirrors,
      states: {
        down: { health: 'down', reason: 'connection refused' },
        lag: { health: 'up', lagSeconds: 7 * 3600 },
        drained: { health: 'up', drain: { startMs: NOW - 1, overMs: 0 } },
      },
    });
    const d = decide(snap, FILE.path, BERLIN, { nowMs: NOW, explain: true });
    expect(pick(d)).toBe('ok');
    expect(Object.fromEntries(d.excluded.map((e) => [e.mirror.spec.id, e.reason]))).toEqual({
      off: 'disabled',
      down: 'down',
      lag: 'lagging',
      drained: 'draining',
    });
  });

  it('never sends a file to a mirror holding a stale copy, and falls back to the origin', () => {
    const mirrors = [mirror('stale'), mirror('newer-than-sync')];
    const snap = snapshotOf({
      files: [FILE],
      mirrors,
      inventories: { stale: [{ path: FILE.path, size: 999, mtime: FILE.mtime! }] },
      states: { 'newer-than-sync': { health: 'up', lastSync: FILE.mtime! - 60 } },
    });
    const d = decide(snap, FILE.path, BERLIN, { nowMs: NOW, explain: true });
    expect(d.outcome).toBe('origin');
    // Both hold another version: the inventory lists it with another size; the other synced before it changed.
    expect(d.excluded.map((e) => e.reason)).toEqual(['stale-copy', 'stale-copy']);
  });

  it('tells a missing file (rules leave it out, the inventory lacks it) from a stale copy', () => {
    const mirrors = [mirror('no-isos', { content: { include: ['**'], exclude: ['**/*.iso'] } }), mirror('lacks-it')];
    const snap = snapshotOf({ files: [FILE, { path: 'other', size: 1 }], mirrors, inventories: { 'lacks-it': [{ path: 'other', size: 1 }] } });
    const d = decide(snap, FILE.path, BERLIN, { nowMs: NOW, explain: true });
    expect(d.excluded.map((e) => [e.mirror.spec.id, e.reason])).toEqual([
      ['no-isos', 'missing-file'],
      ['lacks-it', 'missing-file'],
    ]);
  });

  it('answers not-found for paths outside the file set', () => {
    const snap = snapshotOf({ files: [FILE], mirrors: [mirror('a')] });
    expect(decide(snap, 'nope', BERLIN, { nowMs: NOW }).outcome).toBe('not-found');
  });

  it('sends HTTPS clients only to https mirrors while one has the file', () => {
    const mirrors = [mirror('plain', { baseUrl: 'http://plain.example/' }), mirror('tls', { country: 'US', lat: 40, lon: -74 })];
    const snap = snapshotOf({ files: [FILE], mirrors });
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW }))).toBe('plain');
    expect(pick(decide(snap, FILE.path, { ...BERLIN, https: true }, { nowMs: NOW }))).toBe('tls');
    const onlyPlain = snapshotOf({ files: [FILE], mirrors: [mirrors[0]!] });
    expect(pick(decide(onlyPlain, FILE.path, { ...BERLIN, https: true }, { nowMs: NOW }))).toBe('plain');
  });

  it('honours ?mirror= only for a candidate', () => {
    const mirrors = [mirror('near'), mirror('far', { country: 'JP', lat: 35, lon: 139 }), mirror('off', { enabled: false })];
    const snap = snapshotOf({ files: [FILE], mirrors });
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW, preferMirror: 'far' }))).toBe('far');
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW, preferMirror: 'off' }))).toBe('near');
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW, preferMirror: 'unknown' }))).toBe('near');
  });

  it('gives clients of unknown place a weighted pick among all mirrors', () => {
    const mirrors = [mirror('a', { country: 'JP', lat: 35, lon: 139 }), mirror('b', { country: 'US', lat: 40, lon: -74 })];
    const snap = snapshotOf({ files: [FILE], mirrors });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(pick(decide(snap, FILE.path, { ip: `10.0.${i >> 8}.${i & 255}`, https: false }, { nowMs: NOW }))!);
    expect(seen).toEqual(new Set(['a', 'b']));
  });
});

describe('decide: weighted, sticky choice', () => {
  const pair = [mirror('heavy', { weight: 300, lat: 52.5, lon: 13.4 }), mirror('light', { weight: 100, lat: 52.4, lon: 13.1 })];
  const files = Array.from({ length: 1 }, () => FILE);

  it('shares traffic in proportion to weight among equally near mirrors', () => {
    const snap = snapshotOf({ files, mirrors: pair });
    let heavy = 0;
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const client = { ...BERLIN, ip: `198.51.${(i >> 8) & 255}.${i & 255}` };
      if (pick(decide(snap, FILE.path, client, { nowMs: NOW })) === 'heavy') heavy++;
    }
    expect(heavy / draws).toBeGreaterThan(0.73);
    expect(heavy / draws).toBeLessThan(0.77);
  });

  it('keeps the same client and file on the same mirror, and a ramped drain moves share away', () => {
    const snap = snapshotOf({ files, mirrors: pair });
    const first = pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW }));
    for (let i = 0; i < 50; i++) expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW }))).toBe(first);

    const lone = [mirror('draining', { lat: 52.5, lon: 13.4 }), mirror('paris', { country: 'FR', lat: 48.85, lon: 2.35 })];
    const overMs = 10 * 60_000;
    const share = (at: number) => {
      const s = snapshotOf({ files, mirrors: lone, states: { draining: { health: 'up', drain: { startMs: NOW, overMs } } }, nowMs: at });
      let n = 0;
      for (let i = 0; i < 4000; i++) {
        if (pick(decide(s, FILE.path, { ...BERLIN, ip: `192.0.2.${i & 255}:${i}` }, { nowMs: at })) === 'draining') n++;
      }
      return n / 4000;
    };
    const early = share(NOW + overMs * 0.1);
    const mid = share(NOW + overMs * 0.5);
    const late = share(NOW + overMs * 0.9);
    expect(early).toBeGreaterThan(mid);
    expect(mid).toBeGreaterThan(late);
    expect(mid).toBeGreaterThan(0.4);
    expect(mid).toBeLessThan(0.6);
    expect(share(NOW + overMs)).toBe(0);
  });
});

// --- Properties over random networks ----------------------------------------------------------

const COUNTRIES = [
  { country: 'DE', continent: 'EU', lat: 51, lon: 10 },
  { country: 'FR', continent: 'EU', lat: 46, lon: 2 },
  { country: 'US', continent: 'NA', lat: 39, lon: -98 },
  { country: 'JP', continent: 'AS', lat: 36, lon: 138 },
  { country: 'BR', continent: 'SA', lat: -10, lon: -52 },
] as const;
const PROJECTS = ['debian', 'fedora', 'arch'];

const fileArb = fc.record({
  project: fc.constantFrom(...PROJECTS),
  name: fc.stringMatching(/^[a-z]{1,6}$/),
  size: fc.integer({ min: 1, max: 5000 }),
  mtime: fc.integer({ min: 1_600_000_000, max: 1_700_000_000 }),
});

const mirrorArb = fc.record({
  place: fc.constantFrom(...COUNTRIES),
  include: fc.subarray(PROJECTS, { minLength: 1 }),
  weight: fc.integer({ min: 0, max: 500 }),
  countryOnly: fc.boolean(),
  enabled: fc.boolean(),
  https: fc.boolean(),
  health: fc.constantFrom('up', 'down', 'unknown'),
  lagHours: fc.option(fc.integer({ min: 0, max: 12 })),
  lastSyncOffset: fc.option(fc.integer({ min: -50_000_000, max: 50_000_000 })),
  inventory: fc.option(fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.boolean()), { maxLength: 20 })),
});

const clientArb = fc.record({
  place: fc.option(fc.constantFrom(...COUNTRIES)),
  ip: fc.ipV4(),
  https: fc.boolean(),
});

describe('decide: properties', () => {
  it('never picks a mirror that is out, lacks the current copy, or is country-only abroad; the pick is in the best tier', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fileArb, { minLength: 1, maxLength: 12, selector: (f) => `${f.project}/${f.name}` }),
        fc.array(mirrorArb, { minLength: 1, maxLength: 8 }),
        clientArb,
        fc.nat(),
        (rawFiles, rawMirrors, rawClient, which) => {
          const files: OriginFile[] = rawFiles.map((f) => ({ path: `${f.project}/${f.name}`, size: f.size, mtime: f.mtime }));
          const mirrors: MirrorSpec[] = [];
          const states: Record<string, MirrorState> = {};
          const inventories: Record<string, InventoryEntry[]> = {};
          rawMirrors.forEach((m, i) => {
            const id = `m${i}`;
            mirrors.push(
              mirror(id, {
                country: m.place.country,
                lat: m.place.lat + i * 0.01,
                lon: m.place.lon,
                weight: m.weight,
                countryOnly: m.countryOnly,
                enabled: m.enabled,
                baseUrl: `${m.https ? 'https' : 'http'}://${id}.example/`,
                content: { include: m.include.map((p) => `${p}/**`), exclude: [] },
              }),
            );
            states[id] = {
              health: m.health,
              ...(m.lagHours !== null ? { lagSeconds: m.lagHours * 3600 } : {}),
              ...(m.lastSyncOffset !== null ? { lastSync: 1_650_000_000 + m.lastSyncOffset } : {}),
            };
            if (m.inventory) {
              inventories[id] = m.inventory.map(([n, sameSize, sameMtime]) => {
                const f = files[n % files.length]!;
                return { path: f.path, size: sameSize ? f.size : f.size + 1, mtime: sameMtime ? f.mtime! : f.mtime! - 1 };
              });
            }
          });
          const snap = snapshotOf({ files, mirrors, states, inventories });
          const file = files[which % files.length]!;
          const client: ClientFacts = rawClient.place
            ? { ip: rawClient.ip, https: rawClient.https, ...rawClient.place, continent: rawClient.place.continent }
            : { ip: rawClient.ip, https: rawClient.https };

          // An oracle written from SPEC, independent of the snapshot's own bookkeeping.
          const eligible = (i: number) => {
            const m = rawMirrors[i]!;
            const spec = mirrors[i]!;
            if (!m.enabled || m.health === 'down') return false;
            if (m.lagHours !== null && m.lagHours * 3600 > ROUTING.maxLagSeconds) return false;
            if (spec.countryOnly && client.country !== spec.country) return false;
            if (!m.include.includes(file.path.split('/')[0]!)) return false;
            if (m.inventory) {
              return inventories[spec.id]!.some((e) => e.path === file.path && e.size === file.size && e.mtime === file.mtime);
            }
            return m.lastSyncOffset === null || file.mtime! <= 1_650_000_000 + m.lastSyncOffset;
          };
          const eligibleIds = mirrors.filter((_, i) => eligible(i));
          const secure = eligibleIds.filter((m) => m.baseUrl.startsWith('https:'));
          const allowed = client.https && secure.length ? secure : eligibleIds;

          const d = decide(snap, file.path, client, { nowMs: NOW });
          if (allowed.length === 0) {
            expect(d.outcome).toBe('origin');
            return;
          }
          expect(d.outcome).toBe('mirror');
          expect(allowed.map((m) => m.id)).toContain(pick(d));
          expect(new Set(d.ranked.map((c) => c.mirror.spec.id))).toEqual(new Set(allowed.map((m) => m.id)));
          const bestTier = Math.min(...d.ranked.map((c) => c.tier));
          expect(d.chosen!.tier).toBe(bestTier);
          // Sticky: the same question gets the same answer.
          expect(pick(decide(snap, file.path, client, { nowMs: NOW }))).toBe(pick(d));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('removing a mirror other than the pick (and not the nearest) never changes the pick', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ lat: fc.double({ min: 50, max: 53, noNaN: true }), weight: fc.integer({ min: 1, max: 100 }) }), { minLength: 3, maxLength: 8 }),
        fc.ipV4(),
        fc.nat(),
        (rows, ip, k) => {
          const mirrors = rows.map((r, i) => mirror(`m${i}`, { lat: r.lat, lon: 10, weight: r.weight }));
          const client = { ...BERLIN, ip };
          const before = decide(snapshotOf({ files: [FILE], mirrors }), FILE.path, client, { nowMs: NOW });
          const nearest = [...before.ranked].sort((a, b) => a.distanceKm! - b.distanceKm!)[0]!.mirror.spec.id;
          const removable = mirrors.filter((m) => m.id !== pick(before) && m.id !== nearest);
          fc.pre(removable.length > 0);
          const gone = removable[k % removable.length]!.id;
          const after = decide(snapshotOf({ files: [FILE], mirrors: mirrors.filter((m) => m.id !== gone) }), FILE.path, client, { nowMs: NOW });
          expect(pick(after)).toBe(pick(before));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decide: a limited ranking is the head of the full one', () => {
  it('holds for random networks and limits', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            lat: fc.double({ min: -60, max: 70, noNaN: true }),
            lon: fc.double({ min: -180, max: 180, noNaN: true }),
            country: fc.constantFrom('DE', 'US', 'JP', 'FR'),
            weight: fc.integer({ min: 0, max: 50 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.ipV4(),
        fc.integer({ min: 1, max: 12 }),
        (rows, ip, limit) => {
          const mirrors = rows.map((r, i) => mirror(`m${i}`, r));
          const snap = snapshotOf({ files: [FILE], mirrors });
          const full = decide(snap, FILE.path, { ...BERLIN, ip }, { nowMs: NOW });
          const head = decide(snap, FILE.path, { ...BERLIN, ip }, { nowMs: NOW, limit });
          expect(head.ranked.map((c) => c.mirror.spec.id)).toEqual(full.ranked.slice(0, limit).map((c) => c.mirror.spec.id));
          expect(head.candidateCount).toBe(full.candidateCount);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decide: edges of the band and of the snapshot', () => {
  it('terminates with bandKm 0, picking the nearest, even where cos(acos(d)) rounds above d', () => {
    // Seen from Berlin, this point's cosine d has cos(acos(d)) > d: a band edge of exactly 0 km
    // once left the nearest mirror out of its own band, and the band loop spun forever.
    const far = mirror('far', { country: 'NZ', lat: -60, lon: -126 });
    const farther = mirror('farther', { country: 'NZ', lat: -70, lon: -150 });
    const snap = snapshotOf({ files: [FILE], mirrors: [farther, far], routing: { bandKm: 0 } });
    for (let i = 0; i < 50; i++) {
      const d = decide(snap, FILE.path, { ...BERLIN, ip: `192.0.2.${i}` }, { nowMs: NOW, limit: 9 });
      expect(pick(d)).toBe('far');
      expect(d.ranked.map((c) => c.mirror.spec.id)).toEqual(['far', 'farther']);
    }
  });

  it('reads the mirrors of the snapshot it is given, also a copy with other mirror objects', () => {
    const a = mirror('a', { lat: 52.5, lon: 13.4 });
    const b = mirror('b', { country: 'FR', lat: 48.85, lon: 2.35 });
    const snap = snapshotOf({ files: [FILE], mirrors: [a, b], inventories: { a: [{ path: FILE.path, size: FILE.size, mtime: FILE.mtime! }] } });
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW, limit: 9 }))).toBe('a');
    // As scripts do to simulate a rescan: the same snapshot, mirror a's inventory now without the file.
    const rescanned = { ...snap, mirrors: snap.mirrors.map((m) => (m.spec.id === 'a' ? { ...m, inventory: new Uint32Array(m.inventory!.length) } : m)) };
    const d = decide(rescanned, FILE.path, BERLIN, { nowMs: NOW, limit: 9 });
    expect(pick(d)).toBe('b');
    expect(d.candidateCount).toBe(1);
    expect(pick(decide(snap, FILE.path, BERLIN, { nowMs: NOW, limit: 9 }))).toBe('a');
  });

  it('counts the candidates of a limited redirect exactly, when asked, after later decisions', () => {
    const mirrors = Array.from({ length: 30 }, (_, i) => mirror(`m${i}`, { country: i % 3 ? 'DE' : 'FR', lat: 45 + i * 0.3, lon: 5 + i * 0.2 }));
    const snap = snapshotOf({ files: [FILE, { ...FILE, path: 'other' }], mirrors });
    const limited = decide(snap, FILE.path, BERLIN, { nowMs: NOW, limit: 3 });
    decide(snap, 'other', { ...BERLIN, country: 'FR', https: true }, { nowMs: NOW, limit: 3 });
    expect(limited.ranked).toHaveLength(3);
    expect(limited.candidateCount).toBe(30);
    expect(limited.candidateCount).toBe(decide(snap, FILE.path, BERLIN, { nowMs: NOW }).candidateCount);
  });
});

describe('consistency groups: a repository index goes only where its whole folder is current', () => {
  const T = 1_700_000_000;
  const suite: OriginFile[] = [
    { path: 'debian/dists/stable/InRelease', size: 10, mtime: T },
    { path: 'debian/dists/stable/Release', size: 9, mtime: T },
    { path: 'debian/dists/stable/main/binary-amd64/Packages.gz', size: 500, mtime: T },
    { path: 'debian/dists/stable/main/i18n/Translation-en.gz', size: 300, mtime: T - 100 },
    { path: 'debian/pool/main/h/hello/hello_1.0_amd64.deb', size: 4000, mtime: T - 1000 },
    { path: 'fedora/44/x86_64/os/repodata/repomd.xml', size: 7, mtime: T },
    { path: 'fedora/44/x86_64/os/repodata/abc-primary.xml.zst', size: 70, mtime: T },
    { path: 'fedora/44/x86_64/os/Packages/h/hello.rpm', size: 700, mtime: T - 1000 },
  ];
  const current = (except: string[] = [], sizeOf: (f: OriginFile) => number = (f) => f.size): InventoryEntry[] =>
    suite.filter((f) => !except.includes(f.path)).map((f) => ({ path: f.path, size: except.includes(f.path) ? f.size + 1 : sizeOf(f), mtime: f.mtime }));
  const inRelease = 'debian/dists/stable/InRelease';
  const packages = 'debian/dists/stable/main/binary-amd64/Packages.gz';

  it('a mirror caught mid-sync (new InRelease, old Packages.gz) gets no InRelease, Release or repomd.xml it cannot back', () => {
    const mirrors = [mirror('midsync', { lat: 52.5, lon: 13.4 }), mirror('whole', { country: 'FR', lat: 48.85, lon: 2.35 })];
    const snap = snapshotOf({
      files: suite,
      mirrors,
      consistency: DEFAULT_CONSISTENCY_RULES,
      inventories: {
        midsync: current().map((e) => (e.path === packages || e.path.endsWith('primary.xml.zst') ? { ...e, size: 1 } : e)),
        whole: current(),
      },
    });
    for (const leader of [inRelease, 'debian/dists/stable/Release', 'fedora/44/x86_64/os/repodata/repomd.xml']) {
      const d = decide(snap, leader, BERLIN, { nowMs: NOW, explain: true });
      expect(pick(d), leader).toBe('whole');
      expect(
        d.excluded.map((e) => [e.mirror.spec.id, e.reason]),
        leader,
      ).toEqual([['midsync', 'incomplete-group']]);
    }
    // The files it does hold current still go to it, nearest first.
    expect(pick(decide(snap, 'debian/dists/stable/main/i18n/Translation-en.gz', BERLIN, { nowMs: NOW }))).toBe('midsync');
    expect(pick(decide(snap, 'debian/pool/main/h/hello/hello_1.0_amd64.deb', BERLIN, { nowMs: NOW }))).toBe('midsync');
    const pkg = decide(snap, packages, BERLIN, { nowMs: NOW, explain: true });
    expect(pkg.excluded.map((e) => [e.mirror.spec.id, e.reason])).toEqual([['midsync', 'stale-copy']]);
    // The held-back leaders travel in the state as paths, for an edge without the whole file set.
    expect(snap.mirrors[0]!.state.heldBack).toEqual([
      'debian/dists/stable/InRelease',
      'debian/dists/stable/Release',
      'fedora/44/x86_64/os/repodata/repomd.xml',
    ]);
    expect(snap.mirrors[1]!.state.heldBack).toBeUndefined();
  });

  it('by rules and last sync: a mirror excluding part of a suite, or synced before a member changed, gets no Release', () => {
    const mirrors = [
      mirror('no-i18n', { content: { include: ['**'], exclude: ['**/i18n/**'] } }),
      mirror('old-sync', { country: 'FR', lat: 48.85, lon: 2.35 }),
      mirror('fresh', { country: 'PL', lat: 52.2, lon: 21 }),
    ];
    const snap = snapshotOf({
      files: suite,
      mirrors,
      consistency: DEFAULT_CONSISTENCY_RULES,
      states: { 'old-sync': { health: 'up', lastSync: T - 50 }, fresh: { health: 'up', lastSync: T + 10 } },
    });
    const d = decide(snap, inRelease, BERLIN, { nowMs: NOW, explain: true });
    expect(pick(d)).toBe('fresh');
    expect(Object.fromEntries(d.excluded.map((e) => [e.mirror.spec.id, e.reason]))).toEqual({ 'no-i18n': 'incomplete-group', 'old-sync': 'stale-copy' });
    // Without groups configured, the partial mirror is the nearest holder of InRelease.
    expect(
      pick(
        decide(snapshotOf({ files: suite, mirrors, consistency: [], states: { 'old-sync': { health: 'up', lastSync: T - 50 } } }), inRelease, BERLIN, {
          nowMs: NOW,
        }),
      ),
    ).toBe('no-i18n');
  });

  it('a probe finding one member missing holds the leaders back at once', () => {
    const snap = snapshotOf({
      files: suite,
      mirrors: [mirror('probed'), mirror('far', { country: 'US', lat: 40.7, lon: -74 })],
      consistency: DEFAULT_CONSISTENCY_RULES,
      states: { probed: { health: 'up', missing: [packages] } },
    });
    expect(pick(decide(snap, inRelease, BERLIN, { nowMs: NOW }))).toBe('far');
    expect(pick(decide(snap, 'fedora/44/x86_64/os/repodata/repomd.xml', BERLIN, { nowMs: NOW }))).toBe('probed');
  });

  it('property: whatever the inventories, a leader only ever goes to a mirror holding every member current', () => {
    const ids = ['a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom('ok', 'stale', 'gone'), { minLength: suite.length, maxLength: suite.length }), {
          minLength: ids.length,
          maxLength: ids.length,
        }),
        (plans) => {
          const inventories = Object.fromEntries(
            ids.map((id, k) => [
              id,
              suite.flatMap((f, i) =>
                plans[k]![i] === 'gone' ? [] : [{ path: f.path, size: plans[k]![i] === 'stale' ? f.size + 1 : f.size, mtime: f.mtime }],
              ),
            ]),
          );
          const snap = snapshotOf({ files: suite, mirrors: ids.map((id) => mirror(id)), consistency: DEFAULT_CONSISTENCY_RULES, inventories });
          for (const leader of [inRelease, 'fedora/44/x86_64/os/repodata/repomd.xml']) {
            const folder = leader.slice(0, leader.lastIndexOf('/') + 1);
            const d = decide(snap, leader, BERLIN, { nowMs: NOW });
            for (const c of d.ranked) {
              const k = ids.indexOf(c.mirror.spec.id);
              suite.forEach((f, i) => {
                if (f.path.startsWith(folder)) expect(plans[k]![i], `${c.mirror.spec.id} ${f.path}`).toBe('ok');
              });
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
