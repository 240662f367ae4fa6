// Fuzzing admin and offer bodies through the real app: arbitrary JSON, mirror-shaped objects with
// hostile values, broken JSON and odd content types. A change is accepted (2xx) or refused with a
// 4xx naming why — never a 5xx — and the server keeps answering downloads afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePath, FILES, PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';

let net: MirrorNetwork;
let bases: () => string[];
let nextIp = 0;
const freshIp = () => {
  const n = nextIp++;
  return `198.18.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
};

beforeAll(async () => {
  net = await startNetwork();
  bases = () => [net.config.origin.baseUrl, ...net.server.control.mirrors().map((m) => m.baseUrl)];
});

afterAll(async () => {
  await net?.close();
});

const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    'de-berlin',
    'DE',
    'de',
    'ZZ',
    'http://evil.example/',
    'https://mirror.example/pub/',
    'https://user:pw@m.example/',
    'https://m.example/?q#f',
    'javascript:alert(1)',
    'rsync://m.example/pub/',
    'ftp://m.example/',
    '10m',
    '0s',
    '-1m',
    '999999999999d',
    '1e400s',
    'pub/**',
    '**',
    '[',
    '/abs/**',
    '{a,b',
    '!(x)',
    '__proto__',
    'constructor',
    'a@b.example',
    'not-an-email',
    '<script>alert(1)</script>',
    '\u0000',
    '\ud800',
    'x'.repeat(70_000 / 16),
    '1,2,3',
  ),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 7.5, 100, 150, 8, 1e6, 1e300, -1e300, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 4_294_967_296, 0.1),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null, [], {}, [1], ['pub/**'], { name: 'S' }, { name: 'S', url: 'https://s.example' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const mirrorKeys = [
  'id',
  'name',
  'baseUrl',
  'rsyncUrl',
  'country',
  'lat',
  'lon',
  'asn',
  'weight',
  'bandwidthMbps',
  'countryOnly',
  'enabled',
  'sponsor',
  'content',
  'extra',
  '__proto__',
];
const validMirror = () =>
  fc.record({
    id: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    name: fc.constantFrom('Fuzz Mirror', 'M'),
    baseUrl: fc.constantFrom('https://fuzz.example/pub/', 'http://127.0.0.1:9/pub'),
    country: fc.constantFrom('DE', 'us', 'JP', 'BR'),
  });
/** Mostly valid, now and then hostile: a patch that often gets through, and sometimes not. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anyValue });
const plausiblePatch = fc
  .record(
    {
      weight: mostly(fc.nat(1_000)),
      enabled: mostly(fc.boolean()),
      countryOnly: mostly(fc.boolean()),
      name: mostly(fc.constantFrom('Renamed', 'Ünïcode Mirror <b>')),
      asn: mostly(fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 3 })),
      bandwidthMbps: mostly(fc.constantFrom(null, 150, 10_000)),
      rsyncUrl: mostly(fc.constantFrom(null, 'rsync://m.example/pub/')),
      sponsor: mostly(
        fc.oneof(
          fc.constant(null),
          fc.record(
            { name: fc.constantFrom('S', 'Sponsor & Co'), url: fc.constantFrom('https://s.example/', 'http://s.example/?a=b') },
            { requiredKeys: ['name'] },
          ),
        ),
      ),
      content: mostly(
        fc.record(
          {
            include: fc.array(fc.constantFrom('pub/**', '**', '**/*.iso', 'pub/{a,b}/**'), { minLength: 1, maxLength: 2 }),
            exclude: fc.array(fc.constantFrom('**/*.tmp', 'pub/docs/**'), { maxLength: 2 }),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0 && Object.keys(p).length <= 3);
const mirrorish = fc.oneof(
  plausiblePatch,
  plausiblePatch,
  fc.dictionary(fc.constantFrom(...mirrorKeys), anyValue, { maxKeys: 8 }),
  fc.tuple(validMirror(), fc.dictionary(fc.constantFrom(...mirrorKeys.slice(4)), anyValue, { maxKeys: 3 })).map(([a, b]) => ({ ...a, ...b })),
  fc.record({ sponsor: fc.oneof(anyValue, fc.dictionary(fc.constantFrom('name', 'url', 'logo'), anyValue)) }, { requiredKeys: [] }),
  fc.record(
    {
      content: fc.oneof(
        anyValue,
        fc.dictionary(fc.constantFrom('include', 'exclude', 'manifest'), fc.oneof(anyValue, fc.array(hostileString, { maxLength: 3 }))),
      ),
    },
    { requiredKeys: [] },
  ),
);
const offerKeys = [
  'contact',
  'name',
  'email',
  'contactName',
  'contact_email',
  'organisation',
  'organization',
  'org',
  'location',
  'country',
  'city',
  'peerings',
  'peering',
  'storageTB',
  'storage',
  'storage_tb',
  'bandwidthMbps',
  'bandwidth',
  'baseUrl',
  'url',
  'rsyncUrl',
  'note',
  'notes',
  '__proto__',
  'constructor',
];
const offerish = fc.oneof(
  fc.dictionary(fc.constantFrom(...offerKeys), fc.oneof(anyValue, fc.dictionary(fc.constantFrom('name', 'email', 'country', 'city'), anyValue)), {
    maxKeys: 10,
  }),
  fc.record({
    contact: fc.record({ name: fc.constantFrom('Ann', ''), email: fc.constantFrom('ann@example.org', 'x') }),
    organisation: fc.constantFrom('Fuzz Org', ''),
    location: fc.oneof(fc.constantFrom('Berlin, DE', 'DE', '', ',,,'), fc.record({ country: fc.constantFrom('DE', 'XX', 'de') })),
    storageTB: fc.oneof(hostileNumber, fc.constantFrom('12', ' 12 ', '1e3', 'lots')),
    bandwidthMbps: fc.oneof(hostileNumber, fc.constantFrom('1000', '')),
    peerings: fc.oneof(hostileString, fc.array(hostileString, { maxLength: 3 })),
  }),
);

/** A body as bytes: JSON of the value, broken JSON, or something else entirely. */
const bodyOf = (value: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: value.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: value.map((v) => JSON.stringify(v)).chain((s) => fc.nat(s.length).map((n) => s.slice(0, n))) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        'null',
        '[]',
        '"x"',
        '1',
        '{"a":',
        '{"__proto__":{"weight":5}}',
        '{"a":1,"a":2}',
        '\ufeff{}',
        '{"weight":1}'.repeat(2),
        '['.repeat(5_000),
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  );
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  undefined,
);

/** Lone surrogates cannot be percent-encoded; they become U+FFFD in query strings. */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

async function send(method: string, target: string, body: string, type: string | undefined, token?: string) {
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Forwarded-For': freshIp() };
  if (type) headers['Content-Type'] = type;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${net.url}${target}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, text };
}

function expectNo5xx(what: string, r: { status: number; text: string }) {
  expect(r.status, `${what} → ${r.status} ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(r.status, what).toBeGreaterThanOrEqual(200);
  if (r.status >= 400) expect(JSON.parse(r.text), what).toHaveProperty('error');
}

describe('offer bodies (POST /api/v1/offers)', () => {
  it('201 or a 4xx — never a 5xx — for any body and content type', async () => {
    await fc.assert(
      fc.asyncProperty(bodyOf(offerish), contentType, async (body, type) => {
        const r = await send('POST', '/api/v1/offers', body, type);
        expectNo5xx(`offer ${body.slice(0, 200)}`, r);
        expect([201, 400, 413, 422]).toContain(r.status);
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});

describe('admin bodies (staff token)', () => {
  const ids = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('de-berlin', 'fr-paris', 'us-east', 'br-sp', 'jp-tokyo-a', 'nl-ams') },
    { weight: 1, arbitrary: fc.constantFrom('nope', 'DE-BERLIN', '%2e%2e', 'a%00b', '__proto__', 'constructor', '-', 'toString') },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,8}$/) },
  );
  const request = fc.oneof(
    fc.tuple(fc.constant('POST'), fc.constant('/admin/v1/mirrors'), bodyOf(mirrorish)),
    fc.tuple(
      fc.constant('PATCH'),
      ids.map((id) => `/admin/v1/mirrors/${id}`),
      bodyOf(mirrorish),
    ),
    fc.tuple(
      fc.constant('POST'),
      ids.map((id) => `/admin/v1/mirrors/${id}/drain`),
      bodyOf(fc.oneof(anyValue, fc.record({ over: anyValue }, { requiredKeys: [] }))),
    ),
    fc.tuple(
      fc.constant('POST'),
      ids.map((id) => `/admin/v1/mirrors/${id}/undrain`),
      bodyOf(anyValue),
    ),
    fc.tuple(
      fc.constant('POST'),
      ids.map((id) => `/admin/v1/mirrors/${id}/launch`),
      bodyOf(anyValue),
    ),
    // Config mirrors stay (deleting them would starve the other routes); runtime-added ones and strangers may go.
    fc.tuple(
      fc.constant('DELETE'),
      fc
        .oneof(fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.constantFrom('nope', '%2e%2e', '__proto__'))
        .filter((id) => !/^(de-berlin|fr-paris|us-east|br-sp|jp-tokyo-a|jp-tokyo-b|nl-ams|au-sydney)$/.test(id))
        .map((id) => `/admin/v1/mirrors/${id}`),
      bodyOf(anyValue),
    ),
    fc.tuple(
      fc.constant('POST'),
      fc.tuple(ids, fc.constantFrom('accept', 'reject')).map(([id, what]) => `/admin/v1/offers/${id}/${what}`),
      bodyOf(fc.oneof(anyValue, fc.record({ note: anyValue, mirror: mirrorish }, { requiredKeys: [] }))),
    ),
    fc.tuple(
      fc.constant('GET'),
      fc
        .tuple(
          fc.constantFrom('stats', 'audit', 'offers'),
          fc.array(fc.tuple(fc.constantFrom('mirror', 'from', 'to', 'actor', 'since', 'until', 'limit', 'status', 'target', 'x'), hostileString), {
            maxLength: 3,
          }),
        )
        .map(([what, q]) => `/admin/v1/${what}?${q.map(([k, v]) => `${k}=${encodeURIComponent(wellFormed(v))}`).join('&')}`),
      fc.constant(''),
    ),
  );

  it('2xx or a 4xx — never a 5xx — for any body on every admin route; provider and anonymous callers get 401/403', async () => {
    // Real offers to accept and reject, so those routes get past "no such offer".
    const offerIds: string[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await send(
        'POST',
        '/api/v1/offers',
        JSON.stringify({
          contact: { name: 'A', email: 'a@example.org' },
          organisation: `Fuzz Org ${i}`,
          location: 'Berlin, DE',
          storageTB: 10,
          bandwidthMbps: 1000,
          baseUrl: 'https://fuzz-offer.example/pub/',
        }),
        'application/json',
      );
      expect(r.status).toBe(201);
      offerIds.push(JSON.parse(r.text).id);
    }
    const withOffers = request.chain(([m, t, b]) =>
      t.startsWith('/admin/v1/offers/')
        ? fc.constantFrom(...offerIds).map((id) => [m, t.replace(/offers\/[^/]*\//, `offers/${id}/`), b] as const)
        : fc.constant([m, t, b] as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, withOffers), contentType, async ([method, target, body], type) => {
        const r = await send(method, target, body, type, STAFF_TOKEN);
        expectNo5xx(`${method} ${target} ${body.slice(0, 200)}`, r);
      }),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(request, fc.constantFrom(PROVIDER_TOKEN, undefined, 'x'.repeat(40)), async ([method, target, body], token) => {
        const r = await send(method, target, body, 'application/json', token);
        expectNo5xx(`${method} ${target}`, r);
        // Nothing gets through without a staff token but a provider reading its own stats and audit entries,
        // or running its own mirror (de-berlin): drain, undrain, and a weight within its ceiling.
        const own =
          token === PROVIDER_TOKEN &&
          (/^\/admin\/v1\/(stats|audit)\b/.test(target) || (method !== 'GET' && /^\/admin\/v1\/mirrors\/de-berlin(\/(drain|undrain))?$/.test(target)));
        if (!own) expect(r.status, `${method} ${target}`).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 150 },
    );
    // Whatever was accepted, downloads still work and still only go to configured mirrors or the origin.
    for (const file of Object.values(FILES)) {
      const res = await fetch(`${net.url}/download/${encodePath(file)}`, { headers: { Accept: '*/*', 'X-Forwarded-For': freshIp() }, redirect: 'manual' });
      expect(res.status).toBe(302);
      const location = res.headers.get('location')!;
      expect(
        bases().some((b) => location.startsWith(b)),
        location,
      ).toBe(true);
    }
  }, 90_000);
});
