import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { ClientFacts, MirrorSpec, MirrorState } from '../../src/core/model.js';
import { buildSnapshot, type Snapshot } from '../../src/core/snapshot.js';
import {
  matchSiteRoute,
  pickSiteMirror,
  routePrefixProblem,
  siteAnswer,
  siteEligible,
  targetPrefixProblem,
  urlSafe,
  type SiteRoute,
  type SiteRoutingOptions,
} from '../../src/core/siteRoutes.js';
import { mirrorSpec } from '../support/specs.js';

const NOW = Date.UTC(2026, 10, 1);
const ORIGIN = 'https://archive.example/';
const UP: MirrorState = { health: 'up', lagSeconds: 60 };

function mirror(id: string, over: Partial<MirrorSpec> = {}): MirrorSpec {
  return mirrorSpec(id, { name: id.toUpperCase(), ...over });
}

const route = (prefix: string, to: SiteRoute['to'], mirrors: string[] = [], targetPrefix = prefix): SiteRoute => ({ prefix, to, mirrors, targetPrefix });

function snapshotOf(opts: { mirrors: MirrorSpec[]; states?: Record<string, MirrorState>; routes?: SiteRoute[]; bandKm?: number; allUp?: boolean }): Snapshot {
  const states = new Map<string, MirrorState>();
  for (const m of opts.mirrors) states.set(m.id, opts.states?.[m.id] ?? (opts.allUp === false ? { health: 'unknown' } : UP));
  const routing: SiteRoutingOptions = {
    bandKm: opts.bandKm ?? 300,
    maxAlternatives: 8,
    maxLagSeconds: 6 * 3600,
    siteRoutes: opts.routes ?? [
      route(
        '/browse/',
        'mirrors',
        opts.mirrors.map((m) => m.id),
      ),
      route('/save/', 'origin'),
    ],
  };
  return buildSnapshot({
    version: 1,
    nowMs: NOW,
    files: FileIndex.from([]),
    mirrors: opts.mirrors,
    states,
    inventories: new Map(),
    origin: { baseUrl: ORIGIN },
    routing,
  });
}

const BERLIN: ClientFacts = { ip: '203.0.113.7', country: 'DE', continent: 'EU', lat: 52.52, lon: 13.4, https: false };
const get = (path: string, query = '') => ({ method: 'GET', path, query });
const answerOf = (snap: Snapshot, path: string, client: ClientFacts = BERLIN, method = 'GET', query = '') =>
  siteAnswer(snap, { method, path, query }, () => client);
const chosen = (snap: Snapshot, path: string, client: ClientFacts = BERLIN) => answerOf(snap, path, client)?.mirror?.spec.id ?? 'origin';

describe('site routes: matching and targets', () => {
  const snap = snapshotOf({
    mirrors: [mirror('de')],
    routes: [
      route('/browse/', 'mirrors', ['de']),
      route('/browse/save/', 'origin'),
      route('/archive-api/', 'mirrors', ['de'], '/api/'),
      route('/save/', 'origin'),
    ],
  });

  it('takes only paths under a prefix, the longest prefix first, and the prefix without its slash', () => {
    expect(matchSiteRoute(snap, '/browse/origin/x')?.route.prefix).toBe('/browse/');
    expect(matchSiteRoute(snap, '/browse/save/now')?.route.prefix).toBe('/browse/save/');
    expect(matchSiteRoute(snap, '/browse')?.tail).toBeUndefined();
    expect(matchSiteRoute(snap, '/browser/x')).toBeUndefined();
    expect(matchSiteRoute(snap, '/download/browse/x')).toBeUndefined();
    expect(matchSiteRoute(snap, '/')).toBeUndefined();
  });

  it('keeps the whole path (or swaps the prefix for targetPrefix) and the query', () => {
    expect(answerOf(snap, '/browse/origin/https%3A%2F%2Fgit.example', BERLIN, 'GET', 'a=1&b=%20')?.location).toBe(
      'https://de.example/browse/origin/https%3A%2F%2Fgit.example?a=1&b=%20',
    );
    expect(answerOf(snap, '/archive-api/1/origin/x/')?.location).toBe('https://de.example/api/1/origin/x/');
    expect(answerOf(snap, '/browse')?.location).toBe('https://de.example/browse');
    expect(answerOf(snap, '/save/', BERLIN, 'GET', 'origin_url=x')?.location).toBe(`${ORIGIN}save/?origin_url=x`);
  });

  it('answers GET/HEAD with 302; other methods with 307 to the origin, even on a mirror route', () => {
    expect(answerOf(snap, '/browse/x', BERLIN, 'HEAD')).toMatchObject({ status: 302, location: 'https://de.example/browse/x' });
    expect(answerOf(snap, '/browse/x', BERLIN, 'POST')).toMatchObject({ status: 307, mirror: undefined, location: `${ORIGIN}browse/x` });
    expect(answerOf(snap, '/save/origin', BERLIN, 'POST')).toMatchObject({ status: 307, mirror: undefined, location: `${ORIGIN}save/origin` });
    expect(answerOf(snap, '/save/origin', BERLIN, 'GET')).toMatchObject({ status: 302, location: `${ORIGIN}save/origin` });
  });

  it('does not look the client up for the origin routes', () => {
    let asked = 0;
    siteAnswer(snap, get('/save/x'), () => (asked++, BERLIN));
    siteAnswer(snap, { method: 'POST', path: '/browse/x', query: '' }, () => (asked++, BERLIN));
    expect(asked).toBe(0);
  });

  it('percent-encodes what a URL may not hold, so the request cannot leave the configured host', () => {
    expect(urlSafe('a b/ü#x\r\n"<>\\`{}|^')).toBe('a%20b/%C3%BC%23x%0D%0A%22%3C%3E%5C%60%7B%7D%7C%5E');
    expect(urlSafe('100%/%41%zz')).toBe('100%25/%41%25zz');
    expect(urlSafe('\ud800x')).toBe('%EF%BF%BDx');
    expect(urlSafe('\ud83d\ude00')).toBe('%F0%9F%98%80');
  });
});

describe('site routes: prefixes Mirrorgate keeps for itself', () => {
  it.each([
    '/download/',
    '/api/',
    '/api/1/',
    '/admin/',
    '/mirrors/',
    '/healthz/',
    '/readyz/',
    '/metrics/',
    '/logos/',
    '/assets/',
    '/login/',
    '/logout/',
    '/staff/',
    '/staff/x/',
    '/provider/',
    '/offer/',
    '/offers/',
    '/API/',
    '/Download/x/',
  ])('refuses %s', (p) => {
    expect(routePrefixProblem(p)).toMatch(/Mirrorgate's own path/);
  });

  it.each(['/', 'browse/', '/browse', '//', '/a//b/', '/./', '/a/../', '/a%2F/', '/a b/', '/a?/'])('refuses the malformed %s', (p) => {
    expect(routePrefixProblem(p)).toBeDefined();
  });

  it.each(['/browse/', '/swh/api/', '/save-code-now/', '/a.b/c~d/'])('accepts %s', (p) => {
    expect(routePrefixProblem(p)).toBeUndefined();
  });

  it('accepts "/" and any clean path as a targetPrefix', () => {
    expect(targetPrefixProblem('/')).toBeUndefined();
    expect(targetPrefixProblem('/api/')).toBeUndefined();
    expect(targetPrefixProblem('/../')).toBeDefined();
  });

  it('ignores a reserved route that reached the snapshot anyway', () => {
    const snap = snapshotOf({ mirrors: [mirror('de')], routes: [route('/api/', 'origin'), route('/download/', 'mirrors', ['de'])] });
    expect(matchSiteRoute(snap, '/api/v1/mirrors')).toBeUndefined();
    expect(matchSiteRoute(snap, '/download/x')).toBeUndefined();
  });
});

describe('site routes: the choice of mirror', () => {
  it('ranks same ASN, then country, then continent, then distance', () => {
    const mirrors = [
      mirror('fr', { country: 'FR', lat: 48.85, lon: 2.35 }),
      mirror('us', { country: 'US', lat: 40.7, lon: -74 }),
      mirror('de-munich', { country: 'DE', lat: 48.14, lon: 11.58 }),
      mirror('asn-jp', { country: 'JP', lat: 35.7, lon: 139.7, asn: [64500] }),
    ];
    const snap = snapshotOf({ mirrors });
    expect(chosen(snap, '/browse/x', { ...BERLIN, asn: 64500 })).toBe('asn-jp');
    expect(chosen(snap, '/browse/x')).toBe('de-munich');
    expect(chosen(snap, '/browse/x', { ip: '203.0.113.9', country: 'AT', continent: 'EU', lat: 48.2, lon: 16.37, https: false })).toBe('de-munich');
    expect(chosen(snap, '/browse/x', { ip: '203.0.113.10', country: 'KE', continent: 'AF', lat: -1.29, lon: 36.8, https: false })).toBe('de-munich');
    expect(chosen(snap, '/browse/x', { ip: '203.0.113.11', country: 'CA', continent: 'NA', lat: 45.5, lon: -73.6, https: false })).toBe('us');
  });

  it('only ever picks a listed mirror of the route', () => {
    const snap = snapshotOf({
      mirrors: [mirror('de-near', { lat: 52.5, lon: 13.4 }), mirror('fr', { country: 'FR', lat: 48.85, lon: 2.35 })],
      routes: [route('/browse/', 'mirrors', ['fr', 'not-a-mirror'])],
    });
    expect(chosen(snap, '/browse/x')).toBe('fr');
  });

  it('shares a band by weight and keeps each client and path on one mirror', () => {
    // Two mirrors 100 km apart, inside the 300 km band; weights 3:1.
    const snap = snapshotOf({
      mirrors: [mirror('heavy', { lat: 52.52, lon: 13.4, weight: 300 }), mirror('light', { lat: 51.6, lon: 13.4, weight: 100 })],
    });
    const counts: Record<string, number> = { heavy: 0, light: 0 };
    for (let i = 0; i < 4000; i++) {
      const client = { ...BERLIN, ip: `10.${(i >> 8) & 255}.${i & 255}.1` };
      const first = chosen(snap, `/browse/p${i % 7}`, client);
      counts[first]!++;
      expect(chosen(snap, `/browse/p${i % 7}`, client)).toBe(first);
    }
    expect(counts.heavy! / 4000).toBeGreaterThan(0.71);
    expect(counts.heavy! / 4000).toBeLessThan(0.79);
  });

  it('sends everything to the nearest outside the band, and a band of weight 0 on to the next', () => {
    const mirrors = [mirror('berlin', { lat: 52.52, lon: 13.4 }), mirror('munich', { lat: 48.14, lon: 11.58 })];
    const narrow = snapshotOf({ mirrors, bandKm: 50 });
    for (let i = 0; i < 200; i++) expect(chosen(narrow, `/browse/${i}`)).toBe('berlin');
    const zero = snapshotOf({ mirrors: [mirror('berlin', { lat: 52.52, lon: 13.4, weight: 0 }), mirrors[1]!], bandKm: 50 });
    for (let i = 0; i < 50; i++) expect(chosen(zero, `/browse/${i}`)).toBe('munich');
    const allZero = snapshotOf({
      mirrors: [mirror('berlin', { lat: 52.52, lon: 13.4, weight: 0 }), mirror('munich', { lat: 48.14, lon: 11.58, weight: 0 })],
      bandKm: 50,
    });
    expect(chosen(allZero, '/browse/x')).toBe('berlin');
  });

  it('with bandKm 0 still picks (the nearest is in its own band)', () => {
    const snap = snapshotOf({ mirrors: [mirror('a', { lat: 52.52, lon: 13.4 }), mirror('b', { lat: 52.52, lon: 13.4 })], bandKm: 0 });
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(chosen(snap, `/browse/${i}`));
    expect(seen).toEqual(new Set(['a', 'b']));
  });

  it('leaves out lagging, down, unprobed, draining, disabled and launching mirrors', () => {
    const mirrors = [
      mirror('lagging', { lat: 52.52, lon: 13.4 }),
      mirror('down', { lat: 52.52, lon: 13.4 }),
      mirror('unprobed', { lat: 52.52, lon: 13.4 }),
      mirror('draining', { lat: 52.52, lon: 13.4 }),
      mirror('ramping', { lat: 52.52, lon: 13.4 }),
      mirror('off', { lat: 52.52, lon: 13.4, enabled: false }),
      mirror('launching', { lat: 52.52, lon: 13.4 }),
      mirror('far-ok', { country: 'US', lat: 40.7, lon: -74 }),
    ];
    const snap = snapshotOf({
      mirrors,
      states: {
        lagging: { health: 'up', lagSeconds: 7 * 3600 },
        down: { health: 'down', lagSeconds: 0 },
        unprobed: { health: 'unknown' },
        draining: { health: 'up', drain: { startMs: NOW - 1000, overMs: 0 } },
        ramping: { health: 'up', drain: { startMs: NOW - 1000, overMs: 3_600_000 } },
        launching: { health: 'up', launching: true },
      },
    });
    for (let i = 0; i < 50; i++) expect(chosen(snap, `/browse/${i}`)).toBe('far-ok');
  });

  it('takes a healthy mirror whose lag is unknown, but not an unprobed one', () => {
    const snap = snapshotOf({ mirrors: [mirror('a'), mirror('b')], states: { a: { health: 'up' }, b: { health: 'unknown', lagSeconds: 0 } } });
    expect(siteEligible(snap.mirrors[0]!, BERLIN)).toBe(true);
    expect(siteEligible(snap.mirrors[1]!, BERLIN)).toBe(false);
    expect(chosen(snap, '/browse/x')).toBe('a');
  });

  it('honours countryOnly', () => {
    const snap = snapshotOf({
      mirrors: [mirror('nl', { country: 'NL', lat: 52.37, lon: 4.9, countryOnly: true }), mirror('fr', { country: 'FR', lat: 48.85, lon: 2.35 })],
      bandKm: 10,
    });
    expect(chosen(snap, '/browse/x', { ip: '198.51.100.1', country: 'NL', continent: 'EU', lat: 52.37, lon: 4.9, https: false })).toBe('nl');
    expect(chosen(snap, '/browse/x', { ip: '198.51.100.2', country: 'BE', continent: 'EU', lat: 50.85, lon: 4.35, https: false })).toBe('fr');
  });

  it('sends an https client to https mirrors while one qualifies', () => {
    const mirrors = [mirror('plain', { baseUrl: 'http://plain.example/', lat: 52.52, lon: 13.4 }), mirror('tls', { country: 'US', lat: 40.7, lon: -74 })];
    const snap = snapshotOf({ mirrors });
    expect(chosen(snap, '/browse/x', BERLIN)).toBe('plain');
    expect(chosen(snap, '/browse/x', { ...BERLIN, https: true })).toBe('tls');
    const tlsDown = snapshotOf({ mirrors, states: { tls: { health: 'down' } } });
    expect(chosen(tlsDown, '/browse/x', { ...BERLIN, https: true })).toBe('plain');
  });

  it('falls back to the origin when no mirror qualifies', () => {
    const snap = snapshotOf({ mirrors: [mirror('a'), mirror('b')], allUp: false });
    expect(answerOf(snap, '/browse/x')).toMatchObject({ status: 302, mirror: undefined, location: `${ORIGIN}browse/x` });
    const none = snapshotOf({ mirrors: [], routes: [route('/browse/', 'mirrors', ['gone'])] });
    expect(answerOf(none, '/browse/x')?.location).toBe(`${ORIGIN}browse/x`);
  });
});

describe('site routes: properties', () => {
  const COUNTRIES = [
    { country: 'DE', continent: 'EU' as const, lat: 52.5, lon: 13.4 },
    { country: 'FR', continent: 'EU' as const, lat: 48.85, lon: 2.35 },
    { country: 'US', continent: 'NA' as const, lat: 40.7, lon: -74 },
    { country: 'JP', continent: 'AS' as const, lat: 35.7, lon: 139.7 },
  ];
  const mirrorArb = fc.record({
    place: fc.constantFrom(...COUNTRIES),
    https: fc.boolean(),
    weight: fc.integer({ min: 0, max: 500 }),
    countryOnly: fc.boolean(),
    enabled: fc.boolean(),
    listed: fc.boolean(),
    health: fc.constantFrom<MirrorState['health']>('up', 'down', 'unknown'),
    lagHours: fc.option(fc.integer({ min: 0, max: 12 })),
    drain: fc.constantFrom('none', 'ramping', 'drained'),
  });
  // What a request may hold: paths and queries with anything a client can send, URLs and all.
  const tailArb = fc.oneof(fc.string(), fc.webUrl(), fc.constant('//evil.example/x'), fc.constant('@evil.example'), fc.constant('https://evil.example/'));

  it('picks an eligible listed mirror, or the origin only when none qualifies; the target is never the request’s', () => {
    fc.assert(
      fc.property(
        fc.array(mirrorArb, { maxLength: 8 }),
        fc.constantFrom(...COUNTRIES),
        fc.boolean(),
        fc.ipV4(),
        tailArb,
        tailArb,
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE'),
        (plans, place, https, ip, tail, query, method) => {
          const mirrors = plans.map((p, i) =>
            mirror(`m${i}`, {
              country: p.place.country,
              lat: p.place.lat + i * 0.01,
              lon: p.place.lon,
              weight: p.weight,
              countryOnly: p.countryOnly,
              enabled: p.enabled,
              baseUrl: `${p.https ? 'https' : 'http'}://m${i}.example/site/`,
            }),
          );
          const states: Record<string, MirrorState> = {};
          plans.forEach((p, i) => {
            const s: MirrorState = { health: p.health };
            if (p.lagHours !== null) s.lagSeconds = p.lagHours * 3600;
            if (p.drain !== 'none') s.drain = { startMs: NOW - 1000, overMs: p.drain === 'ramping' ? 3_600_000 : 0 };
            states[`m${i}`] = s;
          });
          const listed = plans.flatMap((p, i) => (p.listed ? [`m${i}`] : []));
          const snap = snapshotOf({ mirrors, states, routes: [route('/browse/', 'mirrors', listed)] });
          const client: ClientFacts = { ip, https, ...place };
          const path = `/browse/${tail}`;
          const a = siteAnswer(snap, { method, path, query }, () => client)!;
          const read = method === 'GET' || method === 'HEAD';
          expect(a.status).toBe(read ? 302 : 307);

          const eligible = snap.mirrors.filter((m) => listed.includes(m.spec.id) && siteEligible(m, client));
          const expectedEligible = plans
            .map((p, i) => ({ p, i }))
            .filter(
              ({ p }) =>
                p.listed &&
                p.enabled &&
                p.health === 'up' &&
                p.drain === 'none' &&
                (p.lagHours === null || p.lagHours <= 6) &&
                (!p.countryOnly || p.place.country === place.country),
            )
            .map(({ i }) => `m${i}`);
          expect(eligible.map((m) => m.spec.id)).toEqual(expectedEligible);
          if (!read || eligible.length === 0) {
            expect(a.mirror).toBeUndefined();
          } else {
            expect(a.mirror).toBeDefined();
            expect(eligible).toContain(a.mirror);
            if (https && eligible.some((m) => m.https)) expect(a.mirror!.https).toBe(true);
            // Sticky: the same request gets the same answer.
            expect(siteAnswer(snap, { method, path, query }, () => client)!.mirror).toBe(a.mirror);
          }

          const base = a.mirror ? a.mirror.spec.baseUrl : ORIGIN;
          expect(a.location.startsWith(base)).toBe(true);
          const url = new URL(a.location);
          expect(url.origin).toBe(new URL(base).origin);
          expect(url.pathname.startsWith(new URL(base).pathname)).toBe(true);
          expect(a.location).not.toMatch(/[\s"<>\\^`{|}#]/);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('agrees with a direct use of pickSiteMirror', () => {
    const snap = snapshotOf({ mirrors: [mirror('a', { lat: 52, lon: 13 }), mirror('b', { lat: 52.1, lon: 13 })] });
    const m = matchSiteRoute(snap, '/browse/x')!;
    expect(pickSiteMirror(snap, m.members, '/browse/x', BERLIN)).toBe(answerOf(snap, '/browse/x')!.mirror);
  });
});
