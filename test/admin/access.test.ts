// Security: who may call what on /admin/v1 — 401 without a valid bearer token, 403 outside the
// token's role, a provider scoped to its own mirrors, and tokens never echoed back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, WRONG_TOKEN, type MirrorNetwork } from '../support/network.js';
import { call, client, type Reply } from '../support/requests.js';

let net: MirrorNetwork;
/** Every reply this file saw, to check that no token ever comes back. */
const seen: Reply[] = [];

beforeAll(async () => {
  net = await startNetwork();
});

afterAll(async () => {
  await net?.close();
});

async function req(method: string, target: string, opts: Parameters<typeof call>[3] = {}): Promise<Reply> {
  const reply = await call(net.url, method, target, opts);
  seen.push(reply);
  return reply;
}

const newMirror = {
  id: 'zz-provider-made',
  name: 'Should never exist',
  baseUrl: 'http://127.0.0.1:9/',
  country: 'DE',
};

/**
 * Staff-only actions (or another provider's mirror), each with a body that would be valid for staff.
 * The provider token owns de-berlin: it may drain, undrain, probe, scan and weigh that one (below).
 */
const STAFF_ONLY: { method: string; target: string; body?: unknown }[] = [
  { method: 'POST', target: '/admin/v1/mirrors', body: newMirror },
  { method: 'PATCH', target: '/admin/v1/mirrors/fr-paris', body: { weight: 1 } },
  { method: 'DELETE', target: '/admin/v1/mirrors/de-berlin' },
  { method: 'DELETE', target: '/admin/v1/mirrors/fr-paris' },
  { method: 'POST', target: '/admin/v1/mirrors/fr-paris/drain', body: {} },
  { method: 'POST', target: '/admin/v1/mirrors/fr-paris/drain', body: { over: '10m' } },
  { method: 'POST', target: '/admin/v1/mirrors/fr-paris/undrain' },
  { method: 'POST', target: '/admin/v1/mirrors/de-berlin/launch' },
  { method: 'POST', target: '/admin/v1/mirrors/fr-paris/probe' },
  { method: 'POST', target: '/admin/v1/mirrors/fr-paris/scan' },
  { method: 'PUT', target: '/admin/v1/mirrors/fr-paris/logo' },
  { method: 'GET', target: '/admin/v1/offers' },
  { method: 'POST', target: '/admin/v1/offers/00000000-0000-0000-0000-000000000000/accept' },
  { method: 'POST', target: '/admin/v1/offers/00000000-0000-0000-0000-000000000000/reject' },
  { method: 'GET', target: '/admin/v1/tokens' },
  { method: 'POST', target: '/admin/v1/tokens', body: { name: 'sneaky', role: 'staff' } },
  { method: 'DELETE', target: '/admin/v1/tokens/ops' },
  { method: 'GET', target: '/admin/v1/snapshot' },
];

/** Routes any valid token may call (a provider within its scope). */
const ANY_TOKEN: { method: string; target: string }[] = [
  { method: 'GET', target: '/admin/v1/mirrors' },
  { method: 'GET', target: '/admin/v1/mirrors/de-berlin' },
  { method: 'GET', target: '/admin/v1/stats' },
  { method: 'GET', target: '/admin/v1/audit' },
];

const ALL_ROUTES = [...STAFF_ONLY, ...ANY_TOKEN];

describe('without a valid bearer token: 401', () => {
  it.each(ALL_ROUTES)('$method $target with no token', async ({ method, target, ...rest }) => {
    const r = await req(method, target, 'body' in rest ? { body: rest.body } : {});
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ error: expect.any(String) });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it.each(ALL_ROUTES)('$method $target with a wrong token', async ({ method, target, ...rest }) => {
    const r = await req(method, target, { token: WRONG_TOKEN, ...('body' in rest ? { body: rest.body } : {}) });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ error: expect.any(String) });
  });

  it('near misses of a real token are refused: prefix, suffix, case, other scheme, empty', async () => {
    const headers = [
      `Bearer ${STAFF_TOKEN.slice(0, -1)}`,
      `Bearer ${STAFF_TOKEN}x`,
      `Bearer ${STAFF_TOKEN.toUpperCase()}`,
      `Basic ${Buffer.from(`ops:${STAFF_TOKEN}`).toString('base64')}`,
      STAFF_TOKEN,
      'Bearer ',
      'Bearer',
    ];
    for (const authorization of headers) {
      const r = await req('GET', '/admin/v1/audit', { headers: { Authorization: authorization } });
      expect(r.status, authorization).toBe(401);
    }
  });

  it('authenticates before it reads the body: bad JSON without a token is 401, not 400', async () => {
    expect((await req('POST', '/admin/v1/mirrors', { raw: '{not json' })).status).toBe(401);
    expect((await req('PATCH', '/admin/v1/mirrors/de-berlin', { raw: '{not json' })).status).toBe(401);
  });

  it('a 401 does not tell whether a mirror exists', async () => {
    const known = await req('GET', '/admin/v1/mirrors/de-berlin');
    const unknown = await req('GET', '/admin/v1/mirrors/no-such-mirror');
    expect(known.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual(known.json);
  });
});

describe('a provider token outside its role: 403', () => {
  it.each(STAFF_ONLY)('$method $target', async ({ method, target, ...rest }) => {
    const r = await req(method, target, { token: PROVIDER_TOKEN, ...('body' in rest ? { body: rest.body } : {}) });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: expect.any(String) });
  });

  it('checks the role before the body: a provider sending garbage gets 403, not 400/422', async () => {
    expect((await req('POST', '/admin/v1/mirrors', { token: PROVIDER_TOKEN, raw: '{not json' })).status).toBe(403);
    expect((await req('POST', '/admin/v1/mirrors', { token: PROVIDER_TOKEN, body: { id: 'BAD ID' } })).status).toBe(403);
    expect((await req('PATCH', '/admin/v1/mirrors/fr-paris', { token: PROVIDER_TOKEN, body: { weight: -1 } })).status).toBe(403);
    expect(
      (await req('PUT', '/admin/v1/mirrors/fr-paris/logo', { token: PROVIDER_TOKEN, raw: 'not a picture', headers: { 'Content-Type': 'text/plain' } })).status,
    ).toBe(403);
  });

  it('the refused actions changed nothing', async () => {
    const staff = client(net.url, STAFF_TOKEN);
    const list = await staff.get('/admin/v1/mirrors');
    const ids = (list.json.mirrors as { spec: { id: string } }[]).map((m) => m.spec.id);
    expect(ids).toContain('de-berlin');
    expect(ids).toContain('fr-paris');
    expect(ids).not.toContain(newMirror.id);
    const berlin = await staff.get('/admin/v1/mirrors/de-berlin');
    expect(berlin.json.spec.weight).toBe(100);
    expect(berlin.json.drain).toBeNull();
    const audit = await staff.get('/admin/v1/audit?actor=spree');
    expect(audit.status).toBe(200);
    expect(audit.json.entries).toEqual([]);
  });
});

describe('a provider runs its own mirror', () => {
  it('asking for probes in a burst probes the mirror once: the probe running is joined', async () => {
    net.clearLogs();
    const replies = await Promise.all(Array.from({ length: 20 }, () => req('POST', '/admin/v1/mirrors/de-berlin/probe', { token: PROVIDER_TOKEN })));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    // One probe of de-berlin, not 20 (a timed round, if one fell in here, reads every mirror's trace, fr-paris's too).
    const traceReads = (id: string) => net.mirrors[id]!.requests.filter((r) => r.path === '/TIME').length;
    expect(traceReads('de-berlin') - traceReads('fr-paris')).toBe(1);
  });

  it('drains, undrains, probes and sets a weight within its ceiling; nothing else in a PATCH', async () => {
    const drained = await req('POST', '/admin/v1/mirrors/de-berlin/drain', { token: PROVIDER_TOKEN, body: {} });
    expect(drained.status).toBe(200);
    expect(drained.json.drain).toMatchObject({ overMs: 0 });
    expect((await req('POST', '/admin/v1/mirrors/de-berlin/undrain', { token: PROVIDER_TOKEN })).json.drain).toBeNull();
    const probed = await req('POST', '/admin/v1/mirrors/de-berlin/probe', { token: PROVIDER_TOKEN });
    expect(probed.status).toBe(200);
    expect(probed.json).toMatchObject({ mirror: 'de-berlin', ok: true });

    const weighed = await req('PATCH', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN, body: { weight: 40 } });
    expect(weighed.status).toBe(200);
    expect(weighed.json).toMatchObject({ spec: { weight: 40 }, weightCeiling: 100 });
    const above = await req('PATCH', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN, body: { weight: 101 } });
    expect(above.status).toBe(422);
    expect(above.json.fields.weight).toMatch(/at most 100/);
    const other = await req('PATCH', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN, body: { enabled: false } });
    expect(other.status).toBe(403);
    expect((await req('PATCH', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN, body: { weight: 100 } })).status).toBe(200);

    // Its audit log: entries about its own mirror only, under its token's name.
    const audit = await req('GET', '/admin/v1/audit', { token: PROVIDER_TOKEN });
    expect(audit.status).toBe(200);
    const entries = audit.json.entries as { actor: string; action: string; target: string }[];
    expect(entries.length).toBeGreaterThanOrEqual(5);
    expect(new Set(entries.map((e) => e.target))).toEqual(new Set(['mirror:de-berlin']));
    expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(['mirror.drain', 'mirror.undrain', 'mirror.probe', 'mirror.update']));
    expect(entries.every((e) => e.actor === 'spree')).toBe(true);
  });

  it('staff raise or lower the ceiling', async () => {
    const staff = client(net.url, STAFF_TOKEN);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { weightCeiling: 150 })).json.weightCeiling).toBe(150);
    expect((await req('PATCH', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN, body: { weight: 150 } })).status).toBe(200);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { weight: 100, weightCeiling: 100 })).status).toBe(200);
  });
});

describe('a provider sees only its own mirrors', () => {
  it('GET /admin/v1/mirrors lists only its mirror', async () => {
    const r = await req('GET', '/admin/v1/mirrors', { token: PROVIDER_TOKEN });
    expect(r.status).toBe(200);
    expect((r.json.mirrors as { spec: { id: string } }[]).map((m) => m.spec.id)).toEqual(['de-berlin']);
  });

  it('no path on the server: its logo as the public /logos/{id} address (staff see the configured file)', async () => {
    for (const target of ['/admin/v1/mirrors', '/admin/v1/mirrors/de-berlin']) {
      const r = await req('GET', target, { token: PROVIDER_TOKEN });
      expect(r.text).not.toContain(net.dir);
      expect(r.text).toContain('"logo":"/logos/de-berlin"');
    }
    const asStaff = await req('GET', '/admin/v1/mirrors/de-berlin', { token: STAFF_TOKEN });
    expect(asStaff.json.spec.sponsor.logo).toContain(net.dir);
  });

  it('GET its own mirror: 200; another mirror: 403; an unknown id: 403 (no existence oracle)', async () => {
    const own = await req('GET', '/admin/v1/mirrors/de-berlin', { token: PROVIDER_TOKEN });
    expect(own.status).toBe(200);
    expect(own.json.spec.id).toBe('de-berlin');
    const other = await req('GET', '/admin/v1/mirrors/fr-paris', { token: PROVIDER_TOKEN });
    expect(other.status).toBe(403);
    expect(other.text).not.toContain('Seine');
    const unknown = await req('GET', '/admin/v1/mirrors/no-such-mirror', { token: PROVIDER_TOKEN });
    expect(unknown.status).toBe(403);
  });

  it('stats: another mirror → 403, a list with another mirror → 403, default scope = its mirrors', async () => {
    expect((await req('GET', '/admin/v1/stats?mirror=fr-paris', { token: PROVIDER_TOKEN })).status).toBe(403);
    expect((await req('GET', '/admin/v1/stats?mirror=de-berlin,fr-paris', { token: PROVIDER_TOKEN })).status).toBe(403);
    const own = await req('GET', '/admin/v1/stats?mirror=de-berlin', { token: PROVIDER_TOKEN });
    expect(own.status).toBe(200);
    expect(own.json.mirrors).toEqual(['de-berlin']);
    const scoped = await req('GET', '/admin/v1/stats', { token: PROVIDER_TOKEN });
    expect(scoped.status).toBe(200);
    expect(scoped.json.mirrors).toEqual(['de-berlin']);
    // Staff see everything (no scope) by default.
    const all = await req('GET', '/admin/v1/stats', { token: STAFF_TOKEN });
    expect(all.status).toBe(200);
    expect(all.json.mirrors).toBeNull();
  });

  it('a provider cannot widen its scope with fromip-like tricks: ?fromip= on downloads is staff-only', async () => {
    const r = await req('GET', '/download/pub/README.txt?mirrorlist&fromip=8.8.8.8', { token: PROVIDER_TOKEN });
    expect(r.status).toBe(403);
  });
});

describe('staff may do what providers may not', () => {
  it('staff read audit, offers and any mirror', async () => {
    expect((await req('GET', '/admin/v1/audit', { token: STAFF_TOKEN })).status).toBe(200);
    expect((await req('GET', '/admin/v1/offers', { token: STAFF_TOKEN })).status).toBe(200);
    expect((await req('GET', '/admin/v1/mirrors/fr-paris', { token: STAFF_TOKEN })).status).toBe(200);
  });
});

describe('tokens never come back', () => {
  it('no reply in this file carried any token, in its body or its headers', () => {
    expect(seen.length).toBeGreaterThan(50);
    for (const r of seen) {
      const headerText = [...r.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
      for (const token of [STAFF_TOKEN, PROVIDER_TOKEN, WRONG_TOKEN]) {
        expect(r.text).not.toContain(token);
        expect(headerText).not.toContain(token);
      }
    }
  });
});
