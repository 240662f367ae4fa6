// GET /admin/v1/audit: every change made through the API is recorded — who (the token's name), what
// (action), on what (target), before and after — newest first, filterable, and append-only.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { call, client, type Client } from '../support/requests.js';

let net: MirrorNetwork;
let staff: Client;
let extra: LoopbackFileServer;
let startedAt: number;

interface Entry {
  id: string;
  at: number;
  actor: string;
  action: string;
  target: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  before?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  after?: any;
}

const offerBody = (organisation: string) => ({
  contact: { name: 'Audit Tester', email: 'audit@offers.example' },
  organisation,
  location: { country: 'ZA', city: 'Cape Town' },
  storageTB: 10,
  bandwidthMbps: 500,
  baseUrl: extra.baseUrl,
});

let acceptedOffer: string;
let rejectedOffer: string;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  extra = await net.extraMirror('audit-extra');
  startedAt = Date.now();

  // One of every change, in this order.
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  ok(await staff.post('/admin/v1/mirrors', { id: 'za-audit', name: 'Audit Cape Town', baseUrl: extra.baseUrl, country: 'ZA', weight: 10 }), 201);
  ok(await staff.patch('/admin/v1/mirrors/za-audit', { weight: 20, countryOnly: true }));
  ok(await staff.patch('/admin/v1/mirrors/de-berlin', { weight: 5 }));
  ok(await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '10m' }));
  ok(await staff.post('/admin/v1/mirrors/de-berlin/undrain'));
  ok(await staff.delete('/admin/v1/mirrors/za-audit'), 204);
  ok(await staff.delete('/admin/v1/mirrors/au-sydney'), 204);
  ok(await staff.post('/admin/v1/mirrors/fr-paris/probe'));
  const accepted = await call(net.url, 'POST', '/api/v1/offers', { body: offerBody('Table Mountain Net'), headers: { 'X-Forwarded-For': '198.51.100.10' } });
  ok(accepted, 201);
  acceptedOffer = accepted.json.id;
  const rejected = await call(net.url, 'POST', '/api/v1/offers', { body: offerBody('Rejected Hosting'), headers: { 'X-Forwarded-For': '198.51.100.11' } });
  ok(rejected, 201);
  rejectedOffer = rejected.json.id;
  ok(await staff.post(`/admin/v1/offers/${acceptedOffer}/accept`, { mirror: { id: 'za-table' } }));
  ok(await staff.post('/admin/v1/mirrors/za-table/launch'));
  ok(await staff.post(`/admin/v1/offers/${rejectedOffer}/reject`, { note: 'too far' }));
});

afterAll(async () => {
  await net?.close();
});

async function audit(query = ''): Promise<Entry[]> {
  const r = await staff.get(`/admin/v1/audit${query}`);
  expect(r.status, r.text).toBe(200);
  return r.json.entries as Entry[];
}

describe('every change is audited', () => {
  it('newest first, one entry per change, each with id, time, actor, action and target', async () => {
    // A mirror added by hand is probed at once and activated by the prober when it answers (in its own time).
    await vi.waitFor(async () => expect((await audit('?action=mirror.activate')).map((e) => [e.actor, e.target])).toEqual([['prober', 'mirror:za-audit']]), {
      timeout: 10_000,
    });
    const all = await audit();
    const entries = all.filter((e) => e.action !== 'mirror.activate');
    expect(entries.map((e) => [e.action, e.target])).toEqual(
      [
        ['mirror.add', 'mirror:za-audit'],
        ['mirror.update', 'mirror:za-audit'],
        ['mirror.update', 'mirror:de-berlin'],
        ['mirror.drain', 'mirror:de-berlin'],
        ['mirror.undrain', 'mirror:de-berlin'],
        ['mirror.delete', 'mirror:za-audit'],
        ['mirror.delete', 'mirror:au-sydney'],
        ['mirror.probe', 'mirror:fr-paris'],
        ['offer.create', `offer:${acceptedOffer}`],
        ['offer.create', `offer:${rejectedOffer}`],
        ['mirror.add', 'mirror:za-table'],
        ['offer.accept', `offer:${acceptedOffer}`],
        ['mirror.launch', 'mirror:za-table'],
        ['offer.reject', `offer:${rejectedOffer}`],
      ].reverse(),
    );
    const now = Date.now();
    for (const e of all) {
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(e.at).toBeGreaterThanOrEqual(startedAt);
      expect(e.at).toBeLessThanOrEqual(now);
    }
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.at).toBeGreaterThanOrEqual(all[i]!.at);
  });

  it('staff changes carry the token name as actor; a public offer carries the submitter', async () => {
    const entries = await audit();
    for (const e of entries) expect(e.actor).toBe(e.action === 'offer.create' ? 'audit@offers.example' : e.action === 'mirror.activate' ? 'prober' : 'ops');
    const text = JSON.stringify(entries);
    expect(text).not.toContain(STAFF_TOKEN);
    expect(text).not.toContain(PROVIDER_TOKEN);
  });

  it('before and after: add, patch, drain, undrain, delete', async () => {
    const [add] = await audit('?action=mirror.add&target=mirror:za-audit');
    expect(add!.before ?? null).toBeNull();
    expect(add!.after).toMatchObject({ patch: { name: 'Audit Cape Town', baseUrl: extra.baseUrl, country: 'ZA', weight: 10 }, added: true });

    const [patchZa] = await audit('?action=mirror.update&target=mirror:za-audit');
    // Only the fields that changed, before → after.
    expect(patchZa!.before).toEqual({ weight: 10, countryOnly: false });
    expect(patchZa!.after).toEqual({ weight: 20, countryOnly: true });

    const [patchDe] = await audit('?action=mirror.update&target=mirror:de-berlin');
    expect(patchDe!.before).toEqual({ weight: 100 });
    expect(patchDe!.after).toEqual({ weight: 5 });

    const [drain] = await audit('?action=mirror.drain');
    expect(drain!.target).toBe('mirror:de-berlin');
    expect(drain!.before).toEqual({ drain: null });
    expect(drain!.after).toMatchObject({ overMs: 600_000 });

    const [undrain] = await audit('?action=mirror.undrain');
    expect(undrain!.before).toEqual({ drain: { startMs: expect.any(Number), overMs: 600_000 } });
    expect(undrain!.after).toEqual({ drain: null });

    const [delRuntime] = await audit('?action=mirror.delete&target=mirror:za-audit');
    expect(delRuntime!.before).toMatchObject({ id: 'za-audit', weight: 20 });
    const [delConfig] = await audit('?action=mirror.delete&target=mirror:au-sydney');
    expect(delConfig!.before).toMatchObject({ id: 'au-sydney', country: 'AU' });
    expect(delConfig!.after).toMatchObject({ deleted: true });
  });

  it('before and after: offers and launch', async () => {
    const [accept] = await audit(`?target=offer:${acceptedOffer}&action=offer.accept`);
    expect(accept!.before).toEqual({ status: 'offered' });
    expect(accept!.after).toMatchObject({ status: 'accepted', mirrorId: 'za-table' });
    const [reject] = await audit(`?target=offer:${rejectedOffer}&action=offer.reject`);
    expect(reject!.before).toEqual({ status: 'offered' });
    expect(reject!.after).toMatchObject({ status: 'rejected', note: 'too far' });
    const [launch] = await audit('?action=mirror.launch');
    expect(launch!.before).toEqual({ lifecycle: 'syncing' });
    expect(launch!.after).toEqual({ lifecycle: 'active' });
    const [created] = await audit(`?action=offer.create&target=offer:${acceptedOffer}`);
    expect(created!.after).toMatchObject({ organisation: 'Table Mountain Net', status: 'offered' });
  });
});

describe('filters', () => {
  it('by actor, target, action, and combined', async () => {
    const all = await audit();
    const ops = await audit('?actor=ops');
    expect(ops.length).toBe(all.filter((e) => e.actor === 'ops').length);
    expect(ops.every((e) => e.actor === 'ops')).toBe(true);
    expect(await audit('?actor=spree')).toEqual([]);
    expect(await audit('?actor=nobody')).toEqual([]);

    const berlin = await audit('?target=mirror:de-berlin');
    expect(berlin.map((e) => e.action)).toEqual(['mirror.undrain', 'mirror.drain', 'mirror.update']);
    const deletes = await audit('?action=mirror.delete');
    expect(deletes.map((e) => e.target)).toEqual(['mirror:au-sydney', 'mirror:za-audit']);
    const both = await audit('?actor=ops&action=mirror.update&target=mirror:za-audit');
    expect(both).toHaveLength(1);
    expect(await audit('?actor=ops&action=offer.create')).toEqual([]);
  });

  it('limit, since and until', async () => {
    const all = await audit();
    expect(await audit('?limit=2')).toEqual(all.slice(0, 2));
    const middle = all[Math.floor(all.length / 2)]!;
    const since = await audit(`?since=${middle.at}`);
    expect(since.every((e) => e.at >= middle.at)).toBe(true);
    expect(since.length).toBe(all.filter((e) => e.at >= middle.at).length);
    const until = await audit(`?until=${middle.at}`);
    expect(until.every((e) => e.at <= middle.at)).toBe(true);
    expect(await audit(`?since=${Date.now() + 60_000}`)).toEqual([]);
    // The forms the CLI takes: an ISO date or time, or a time ago.
    expect(await audit('?since=2001-01-01')).toEqual(all);
    expect(await audit(`?since=${new Date(middle.at).toISOString()}`)).toEqual(since);
    expect(await audit('?since=1h')).toEqual(all);
    expect(await audit('?until=2001-01-01T00:00Z')).toEqual([]);
  });

  it('bad filters → 400', async () => {
    expect((await staff.get('/admin/v1/audit?limit=0')).status).toBe(400);
    expect((await staff.get('/admin/v1/audit?limit=lots')).status).toBe(400);
    const bad = await staff.get('/admin/v1/audit?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.json.fields.since).toMatch(/^must be epoch milliseconds, an ISO date or time/);
    expect((await staff.get('/admin/v1/audit?who=ops')).status).toBe(400);
  });
});

describe('append-only', () => {
  it('no route changes or deletes audit entries: PUT/PATCH/DELETE/POST → 404/405, and the log is unchanged', async () => {
    const before = await audit();
    const id = before[0]!.id;
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      for (const target of ['/admin/v1/audit', `/admin/v1/audit/${id}`]) {
        const r = await call(net.url, method, target, { token: STAFF_TOKEN, body: { actor: 'someone-else', action: 'forged' } });
        expect([404, 405], `${method} ${target}`).toContain(r.status);
      }
    }
    expect(await audit()).toEqual(before);
  });

  it('refused and failed requests are not changes: nothing is added for 401/403/404/409/422', async () => {
    const before = await audit();
    expect((await call(net.url, 'PATCH', '/admin/v1/mirrors/de-berlin', { body: { weight: 1 } })).status).toBe(401);
    expect((await call(net.url, 'PATCH', '/admin/v1/mirrors/fr-paris', { token: PROVIDER_TOKEN, body: { weight: 1 } })).status).toBe(403);
    expect((await staff.patch('/admin/v1/mirrors/no-such', { weight: 1 })).status).toBe(404);
    expect((await staff.post('/admin/v1/mirrors', { id: 'de-berlin', name: 'x', baseUrl: extra.baseUrl, country: 'DE' })).status).toBe(409);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { weight: -1 })).status).toBe(422);
    expect((await staff.post(`/admin/v1/offers/${rejectedOffer}/accept`, { mirror: { id: 'za-late' } })).status).toBe(409);
    expect(await audit()).toEqual(before);
  });

  it('changes that change nothing are not audited: the same weight, an undrain of a mirror taking downloads', async () => {
    const before = await audit();
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { weight: 5 })).status).toBe(200);
    expect((await staff.patch('/admin/v1/mirrors/fr-paris', { countryOnly: false, sponsor: {} })).status).toBe(200);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
    expect(await audit()).toEqual(before);
  });

  it('a short action name works, and a typo lists the valid ones', async () => {
    expect(await audit('?action=drain')).toEqual(await audit('?action=mirror.drain'));
    const typo = await staff.get('/admin/v1/audit?action=dran');
    expect(typo.status).toBe(400);
    expect(typo.json.fields.action).toContain('mirror.drain');
  });
});
