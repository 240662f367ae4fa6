// How /admin/v1 refuses, as SPEC words it: 403 (not 422) for a field outside a provider's role, 422/400
// naming each failed field (unknown keys by their own name), 401 with a Bearer challenge, 405 with Allow
// for a method a known path does not take, and filters that name a status or mirror that does not exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, WRONG_TOKEN, type MirrorNetwork } from '../support/network.js';
import { call, client, type Client } from '../support/requests.js';
import { runCli } from '../cli/cliRun.js';

let net: MirrorNetwork;
let staff: Client;
let provider: Client;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  provider = client(net.url, PROVIDER_TOKEN);
});

afterAll(async () => {
  await net?.close();
});

describe('a provider PATCHing a field only staff change: 403 naming it', () => {
  it.each([
    [{ enabled: false }, ['enabled']],
    [{ sponsor: { name: 'Spree Hosting' } }, ['sponsor']],
    [{ countryOnly: true }, ['countryOnly']],
    [{ weight: 50, enabled: false, weightCeiling: 1000 }, ['enabled', 'weightCeiling']],
  ] as const)('%j → 403', async (body, refused) => {
    const before = (await staff.get('/admin/v1/mirrors/de-berlin')).json.spec;
    const r = await provider.patch('/admin/v1/mirrors/de-berlin', body);
    expect(r.status).toBe(403);
    expect(r.json.error).toBe(`a provider token may change only weight, not ${refused.join(', ')}`);
    expect(Object.keys(r.json.fields)).toEqual(refused);
    // No complaint about a weight it never sent.
    expect(r.text).not.toContain('expected number');
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.spec).toEqual(before);
  });

  it('weight alone still works; an unknown key is a 422 naming it', async () => {
    const weighed = await provider.patch('/admin/v1/mirrors/de-berlin', { weight: 60 });
    expect(weighed.status).toBe(200);
    expect(weighed.json.spec.weight).toBe(60);
    const unknown = await provider.patch('/admin/v1/mirrors/de-berlin', { weight: 60, colour: 'red' });
    expect(unknown.status).toBe(422);
    expect(unknown.json.fields).toEqual({ colour: 'colour is not a field of a mirror' });
    // Names an object inherits are not fields either.
    const inherited = await provider.patch('/admin/v1/mirrors/de-berlin', undefined, { raw: '{"weight":60,"constructor":1,"__proto__":{}}' });
    expect(inherited.status).toBe(422);
    expect(Object.keys(inherited.json.fields).sort()).toEqual(['__proto__', 'constructor']);
    expect((await provider.patch('/admin/v1/mirrors/de-berlin', { weight: 100 })).status).toBe(200);
  });

  it('the CLI says so and exits 5: `mirrors disable` with a provider token', async () => {
    const run = await runCli(['mirrors', 'disable', 'de-berlin', '--url', net.url, '--token', PROVIDER_TOKEN]);
    expect(run.code).toBe(5);
    expect(run.stderr).toBe('mirrorgate: not allowed with this token (403): a provider token may change only weight, not enabled\n');
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.spec.enabled).toBe(true);
  });
});

describe('unknown keys are named by themselves', () => {
  it('in bodies: 422 {"fields":{"bogus":"bogus is not a field of …"}}', async () => {
    const cases: [Promise<{ status: number; json: { fields: Record<string, string> } }>, Record<string, string>][] = [
      [
        staff.post('/admin/v1/mirrors', { id: 'xx-new', name: 'X', baseUrl: 'http://127.0.0.1:9/', country: 'DE', bogus: 1 }),
        { bogus: 'bogus is not a field of a mirror' },
      ],
      [staff.patch('/admin/v1/mirrors/de-berlin', { weight: 5, bogus: 1 }), { bogus: 'bogus is not a field of a mirror' }],
      [
        staff.patch('/admin/v1/mirrors/de-berlin', { sponsor: { name: 'X', logo: 'x.svg' } }),
        { 'sponsor.logo': 'a logo is uploaded with PUT /admin/v1/mirrors/{id}/logo (mirrorgate mirrors logo <id> <file>)' },
      ],
      [staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '1m', now: true }), { now: 'now is not a field of a drain' }],
      [
        staff.post('/admin/v1/tokens', { name: 'x', role: 'staff', bogus: 1, other: 2 }),
        { bogus: 'bogus is not a field of a token', other: 'other is not a field of a token' },
      ],
    ];
    for (const [reply, fields] of cases) {
      const r = await reply;
      expect(r.status, JSON.stringify(fields)).toBe(422);
      expect(r.json.fields).toEqual(fields);
    }
    expect((await staff.get('/admin/v1/mirrors/xx-new')).status).toBe(404);
  });

  it('in queries: 400 naming them', async () => {
    const stats = await staff.get('/admin/v1/stats?bogus=1');
    expect(stats.status).toBe(400);
    expect(stats.json.fields).toEqual({ bogus: 'bogus is not a field of the stats query' });
    const audit = await staff.get('/admin/v1/audit?who=ops');
    expect(audit.status).toBe(400);
    expect(audit.json.fields).toEqual({ who: 'who is not a field of the audit query' });
  });
});

describe('401 carries a Bearer challenge (RFC 6750 §3)', () => {
  it('without a token: realm only; with an unknown one: error="invalid_token"', async () => {
    for (const target of ['/admin/v1/mirrors', '/admin/v1/stats', '/admin/v1/snapshot']) {
      const none = await call(net.url, 'GET', target);
      expect(none.status, target).toBe(401);
      expect(none.headers.get('www-authenticate'), target).toBe('Bearer realm="mirrorgate"');
      const wrong = await call(net.url, 'GET', target, { token: WRONG_TOKEN });
      expect(wrong.status, target).toBe(401);
      expect(wrong.headers.get('www-authenticate'), target).toBe('Bearer realm="mirrorgate", error="invalid_token"');
    }
    // Another scheme is no bearer token: the challenge, without an error.
    const basic = await call(net.url, 'GET', '/admin/v1/mirrors', { headers: { Authorization: 'Basic b3BzOng=' } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="mirrorgate"');
  });

  it('a 403 or a 200 has none', async () => {
    const refused = await provider.get('/admin/v1/offers');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBeNull();
    expect((await staff.get('/admin/v1/mirrors')).headers.get('www-authenticate')).toBeNull();
  });
});

describe('a method a known path does not take: 405 with Allow', () => {
  it.each([
    ['PUT', '/admin/v1/mirrors', 'GET, HEAD, POST, OPTIONS'],
    ['DELETE', '/admin/v1/mirrors', 'GET, HEAD, POST, OPTIONS'],
    ['POST', '/admin/v1/mirrors/de-berlin', 'GET, HEAD, PATCH, DELETE, OPTIONS'],
    ['PUT', '/admin/v1/mirrors/no-such-mirror', 'GET, HEAD, PATCH, DELETE, OPTIONS'],
    ['GET', '/admin/v1/mirrors/de-berlin/drain', 'POST, OPTIONS'],
    ['POST', '/admin/v1/stats', 'GET, HEAD, OPTIONS'],
    ['PATCH', '/admin/v1/tokens', 'GET, HEAD, POST, OPTIONS'],
    ['GET', '/admin/v1/tokens/ops/revoke', 'POST, OPTIONS'],
  ])('%s %s → 405, Allow: %s', async (method, target, allow) => {
    for (const token of [STAFF_TOKEN, undefined]) {
      const r = await call(net.url, method, target, token === undefined ? {} : { token });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe(allow);
      expect(r.json).toEqual({ error: `${method} is not allowed here: this path takes ${allow}` });
    }
  });

  it('OPTIONS → 204 with Allow; unknown paths stay 404', async () => {
    const options = await call(net.url, 'OPTIONS', '/admin/v1/mirrors/de-berlin', { token: STAFF_TOKEN });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, PATCH, DELETE, OPTIONS');
    for (const [method, target] of [
      ['GET', '/admin/v1/nope'],
      ['PUT', '/admin/v1/nope'],
      ['GET', '/admin/v1/mirrors/de-berlin/nope'],
      ['POST', '/admin/v2/mirrors'],
    ] as const) {
      expect((await call(net.url, method, target, { token: STAFF_TOKEN })).status, `${method} ${target}`).toBe(404);
    }
  });
});

describe('filters naming what does not exist', () => {
  it('GET /admin/v1/offers?status=bogus → 400 naming status with the valid values', async () => {
    const r = await staff.get('/admin/v1/offers?status=bogus');
    expect(r.status).toBe(400);
    expect(r.json.fields).toEqual({ status: 'must be one of offered, accepted, rejected' });
    expect((await staff.get('/admin/v1/offers?status=offered')).status).toBe(200);
  });

  it('POST /admin/v1/tokens with a mirror that does not exist → 422 naming mirrors', async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'ghost-noc', role: 'provider', mirrors: ['nosuch'] });
    expect(r.status).toBe(422);
    expect(r.json.fields).toEqual({ mirrors: 'no mirror "nosuch"' });
    expect(((await staff.get('/admin/v1/tokens')).json.tokens as { name: string }[]).map((t) => t.name)).not.toContain('ghost-noc');
  });
});
