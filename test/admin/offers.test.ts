// Offers from new providers: POST /api/v1/offers (checked, rate-limited), then staff review them —
// accept creates a "syncing" mirror that gets no downloads until launched; reject closes the offer.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { call, choice, client, type Client, type Reply } from '../support/requests.js';
import { CLIENT_IPS } from '../support/clientIps.js';

let net: MirrorNetwork;
let staff: Client;
/** The web server of the offered mirror: it serves the whole origin tree. */
let offered: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  offered = await net.extraMirror('ke-offer');
});

afterAll(async () => {
  await net?.close();
});

/** Every offer comes from its own documentation address, so the per-address limit only bites where meant to. */
let nextAddress = 1;
function offerFrom(body: unknown, address = `198.51.100.${nextAddress++}`, raw?: string): Promise<Reply> {
  return call(net.url, 'POST', '/api/v1/offers', { ...(raw === undefined ? { body } : { raw }), headers: { 'X-Forwarded-For': address } });
}

function validOffer(over: Record<string, unknown> = {}) {
  return {
    contact: { name: 'Wanjiru Kamau', email: 'noc@kilimanjaro.example' },
    organisation: 'Kilimanjaro Networks',
    location: { country: 'KE', city: 'Nairobi' },
    peerings: 'KIXP, AMS-IX',
    storageTB: 12,
    bandwidthMbps: 1000,
    baseUrl: offered.baseUrl,
    ...over,
  };
}

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

interface OfferRow {
  id: string;
  status: string;
  organisation: string;
  decidedBy?: string;
  mirrorId?: string;
}

async function offerById(id: string): Promise<OfferRow | undefined> {
  const r = await staff.get('/admin/v1/offers');
  expect(r.status).toBe(200);
  return (r.json.offers as OfferRow[]).find((o) => o.id === id);
}

async function publicStatus(id: string): Promise<string | undefined> {
  const body = (await fetch(`${net.url}/mirrors`, { headers: { Accept: 'application/json' } }).then((x) => x.json())) as {
    mirrors: { id: string; status: string }[];
  };
  return body.mirrors.find((m) => m.id === id)?.status;
}

// ---------------------------------------------------------------------------------------------

describe('POST /api/v1/offers', () => {
  it('a valid offer → 201 with an id', async () => {
    const r = await offerFrom(validOffer());
    expect(r.status).toBe(201);
    expect(r.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'offered',
      createdAt: expect.any(String),
      statusUrl: expect.stringMatching(/\/api\/v1\/offers\/[0-9a-f-]{36}\?key=[\w-]{32}$/),
      statusPage: expect.stringMatching(/\/offer\/[0-9a-f-]{36}\?key=[\w-]{32}$/),
    });
    expect(Number.isNaN(Date.parse(r.json.createdAt))).toBe(false);
    const row = await offerById(r.json.id);
    expect(row).toMatchObject({ status: 'offered', organisation: 'Kilimanjaro Networks', storageTB: 12, bandwidthMbps: 1000 });
  });

  it("the status links are on our public URL, never the request's Host (they carry the offer's secret key)", async () => {
    const body = JSON.stringify(validOffer());
    const answer = await new Promise<{ statusUrl: string; statusPage: string }>((resolve, reject) => {
      const u = new URL(net.url);
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          method: 'POST',
          path: '/api/v1/offers',
          headers: { Host: 'evil.example', 'Content-Type': 'application/json', 'X-Forwarded-For': `198.51.100.${nextAddress++}` },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(JSON.parse(text) as { statusUrl: string; statusPage: string }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.statusUrl.startsWith(`${net.url}/api/v1/offers/`)).toBe(true);
    expect(answer.statusPage.startsWith(`${net.url}/offer/`)).toBe(true);
  });

  it('the status page and its JSON send no referrer anywhere: their address holds the key', async () => {
    const r = await offerFrom(validOffer());
    const { statusPage, statusUrl } = r.json as { statusPage: string; statusUrl: string };
    const page = await fetch(statusPage, { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('<meta name="referrer" content="no-referrer">');
    expect((await fetch(statusUrl)).headers.get('referrer-policy')).toBe('no-referrer');
    // Other pages keep the site's policy.
    expect((await fetch(`${net.url}/mirrors`, { headers: { Accept: 'text/html' } })).headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
  });

  it('exactly the minimum (8 TB, 150 Mbps) is enough', async () => {
    expect((await offerFrom(validOffer({ storageTB: 8, bandwidthMbps: 150 }))).status).toBe(201);
  });

  it.each([
    ['storage 7 TB', { storageTB: 7 }, 'storageTB'],
    ['bandwidth 100 Mbps', { bandwidthMbps: 100 }, 'bandwidthMbps'],
    ['a bad email', { contact: { name: 'Wanjiru Kamau', email: 'not-an-email' } }, 'contact.email'],
    ['an empty organisation', { organisation: '   ' }, 'organisation'],
    ['an unknown country', { location: { country: 'XX' } }, 'location.country'],
  ] as const)('%s → 422 naming that field only', async (_what, change, field) => {
    const r = await offerFrom(validOffer(change));
    expect(r.status).toBe(422);
    expect(r.json.error).toEqual(expect.any(String));
    expect(Object.keys(r.json.fields)).toEqual([field]);
  });

  it('a missing organisation → 422 naming organisation', async () => {
    const r = await offerFrom(without(validOffer(), 'organisation'));
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.fields)).toEqual(['organisation']);
  });

  it('a missing location → 422 naming the location', async () => {
    const r = await offerFrom(without(validOffer(), 'location'));
    expect(r.status).toBe(422);
    const keys = Object.keys(r.json.fields);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^location/);
  });

  it('every requirement violated at once → 422 naming each failed field', async () => {
    const r = await offerFrom({
      contact: { name: '', email: 'nope' },
      peerings: 'none',
      storageTB: 7,
      bandwidthMbps: 100,
    });
    expect(r.status).toBe(422);
    const keys = Object.keys(r.json.fields);
    for (const field of ['contact.name', 'contact.email', 'organisation', 'storageTB', 'bandwidthMbps']) expect(keys).toContain(field);
    expect(keys.some((k) => k.startsWith('location'))).toBe(true);
    expect(r.json.fields.storageTB).toMatch(/8/);
    expect(r.json.fields.bandwidthMbps).toMatch(/150/);
  });

  it('numbers of the wrong type are named too', async () => {
    const r = await offerFrom(validOffer({ storageTB: 'lots', bandwidthMbps: true }));
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.fields).sort()).toEqual(['bandwidthMbps', 'storageTB']);
  });

  it('unknown keys → 422 naming them; non-JSON → 400; nothing stored', async () => {
    const before = (await staff.get('/admin/v1/offers')).json.offers.length;
    const unknown = await offerFrom(validOffer({ isAdmin: true }));
    expect(unknown.status).toBe(422);
    expect(JSON.stringify(unknown.json.fields)).toContain('isAdmin');
    expect((await offerFrom(undefined, undefined, 'organisation=ACME')).status).toBe(400);
    expect((await offerFrom(undefined, undefined, '')).status).toBe(400);
    expect((await staff.get('/admin/v1/offers')).json.offers.length).toBe(before);
  });

  it('a form-style flat body is accepted, and a 422 names the field as the client spelled it', async () => {
    const flat = { name: 'Ana', email: 'ana@example.org', organization: 'Flat Org', country: 'BR', storage: '9', bandwidth: 200 };
    expect((await offerFrom(flat)).status).toBe(201);
    const bad = await offerFrom({ ...flat, storage: 7 });
    expect(bad.status).toBe(422);
    expect(Object.keys(bad.json.fields)).toEqual(['storage']);
  });

  it('a page on another site cannot file a JSON offer through its visitors (text/plain needs no CORS preflight): 403, nothing stored', async () => {
    const before = (await staff.get('/admin/v1/offers')).json.offers.length;
    const raw = JSON.stringify(validOffer({ organisation: 'Lure Ltd' }));
    // What fetch(url, { method: 'POST', mode: 'no-cors', body }) sends from https://evil.example.
    const crossSite = { 'Content-Type': 'text/plain;charset=UTF-8', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' };
    const fromPage = await call(net.url, 'POST', '/api/v1/offers', { raw, headers: { ...crossSite, 'X-Forwarded-For': '198.51.100.201' } });
    expect(fromPage.status).toBe(403);
    const originOnly = { 'Content-Type': 'text/plain', Origin: 'https://evil.example', 'X-Forwarded-For': '198.51.100.202' };
    expect((await call(net.url, 'POST', '/api/v1/offers', { raw, headers: originOnly })).status).toBe(403);
    expect((await staff.get('/admin/v1/offers')).json.offers.length).toBe(before);
    // A script (no Origin, no Fetch Metadata) is unaffected, as is a page of ours.
    expect((await offerFrom(validOffer({ organisation: 'Script Ltd' }))).status).toBe(201);
    const ours = { Origin: net.url, 'Sec-Fetch-Site': 'same-origin', 'X-Forwarded-For': '198.51.100.203' };
    expect((await call(net.url, 'POST', '/api/v1/offers', { body: validOffer({ organisation: 'Own Page Ltd' }), headers: ours })).status).toBe(201);
  });

  it('rate limit: more than 20 offers an hour from one address → 429 with Retry-After; other addresses still get through', async () => {
    const address = '203.0.113.77';
    const before = (await staff.get('/admin/v1/offers')).json.offers.length;
    for (let i = 0; i < 20; i++) {
      const r = await offerFrom(validOffer({ organisation: `Burst ${i}` }), address);
      expect(r.status, `offer ${i + 1}`).toBe(201);
    }
    const limited = await offerFrom(validOffer({ organisation: 'Burst 21' }), address);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(limited.json).toMatchObject({ error: expect.any(String) });
    // The limited offer was not stored.
    const offers = (await staff.get('/admin/v1/offers')).json.offers as OfferRow[];
    expect(offers.length).toBe(before + 20);
    expect(offers.some((o) => o.organisation === 'Burst 21')).toBe(false);
    // Another address is not affected.
    expect((await offerFrom(validOffer())).status).toBe(201);
  });
});

// ---------------------------------------------------------------------------------------------

describe('staff review offers', () => {
  let acceptedId: string;
  const mirrorId = 'ke-nairobi';

  it('GET /admin/v1/offers lists them; ?status= filters', async () => {
    const r = await staff.get('/admin/v1/offers');
    expect(r.status).toBe(200);
    expect(r.json.offers.length).toBeGreaterThan(0);
    const open = await staff.get('/admin/v1/offers?status=offered');
    expect((open.json.offers as OfferRow[]).every((o) => o.status === 'offered')).toBe(true);
    expect((await staff.get('/admin/v1/offers?status=rejected')).json.offers).toEqual([]);
  });

  it('accept → a mirror in lifecycle "syncing": listed as syncing, "syncing" on /mirrors, and NO downloads', async () => {
    const created = await offerFrom(validOffer());
    acceptedId = created.json.id;
    const before = await choice(net.url, 'KE');
    expect(before).not.toBe(mirrorId);

    const r = await staff.post(`/admin/v1/offers/${acceptedId}/accept`, { note: 'welcome', mirror: { id: mirrorId, lat: -1.29, lon: 36.82 } });
    expect(r.status).toBe(200);
    expect(r.json.offer).toMatchObject({ id: acceptedId, status: 'accepted', decidedBy: 'ops', mirrorId, decisionNote: 'welcome' });
    expect(r.json.mirror).toMatchObject({ lifecycle: 'syncing', source: 'runtime' });
    expect(r.json.mirror.spec).toMatchObject({ id: mirrorId, country: 'KE', baseUrl: offered.baseUrl, name: 'Kilimanjaro Networks', bandwidthMbps: 1000 });

    const listed = (await staff.get('/admin/v1/mirrors')).json.mirrors as { spec: { id: string }; lifecycle: string }[];
    expect(listed.find((m) => m.spec.id === mirrorId)?.lifecycle).toBe('syncing');
    expect(await publicStatus(mirrorId)).toBe('syncing');
    expect((await offerById(acceptedId))?.status).toBe('accepted');

    for (const key of ['readme', 'tarball', 'iso', 'originOnly'] as const) expect(await choice(net.url, 'KE', key)).not.toBe(mirrorId);
    for (let i = 1; i <= 10; i++) expect(await choice(net.url, `41.90.0.${i}`)).not.toBe(mirrorId);
    const named = await fetch(`${net.url}/download/pub/README.txt?mirror=${mirrorId}`, {
      method: 'HEAD',
      headers: { Accept: '*/*', 'X-Forwarded-For': CLIENT_IPS.KE.ip },
      redirect: 'manual',
    });
    expect(named.headers.get('x-mirrorgate-mirror')).not.toBe(mirrorId);
  });

  it('POST /admin/v1/mirrors/{id}/launch → active, and it gets downloads', async () => {
    const r = await staff.post(`/admin/v1/mirrors/${mirrorId}/launch`);
    expect(r.status).toBe(200);
    expect(r.json.lifecycle).toBe('active');
    expect(await choice(net.url, 'KE')).toBe(mirrorId);
    const res = await fetch(`${net.url}/download/pub/README.txt`, { headers: { Accept: '*/*', 'X-Forwarded-For': CLIENT_IPS.KE.ip }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${offered.baseUrl}pub/README.txt`);
    expect(await publicStatus(mirrorId)).not.toBe('syncing');
    // Launching twice is a conflict.
    expect((await staff.post(`/admin/v1/mirrors/${mirrorId}/launch`)).status).toBe(409);
    // A config mirror was never syncing.
    expect((await staff.post('/admin/v1/mirrors/de-berlin/launch')).status).toBe(409);
  });

  it('accept without a mirror id derives one from organisation and country', async () => {
    const created = await offerFrom(validOffer({ organisation: 'Savanna Data Ltd', location: { country: 'KE' } }));
    const r = await staff.post(`/admin/v1/offers/${created.json.id}/accept`);
    expect(r.status).toBe(200);
    expect(r.json.mirror.spec.id).toBe('savanna-data-ltd-ke');
    expect(r.json.mirror.lifecycle).toBe('syncing');
  });

  it('reject → status rejected, with who and why', async () => {
    const created = await offerFrom(validOffer({ organisation: 'Too Small Hosting' }));
    const r = await staff.post(`/admin/v1/offers/${created.json.id}/reject`, { note: 'no IPv6' });
    expect(r.status).toBe(200);
    expect(r.json.offer).toMatchObject({ id: created.json.id, status: 'rejected', decidedBy: 'ops', decisionNote: 'no IPv6' });
    expect((await offerById(created.json.id))?.status).toBe('rejected');
    expect(((await staff.get('/admin/v1/offers?status=rejected')).json.offers as OfferRow[]).map((o) => o.id)).toEqual([created.json.id]);
    // No mirror came of it.
    expect(JSON.stringify((await staff.get('/admin/v1/mirrors')).json)).not.toContain('too-small-hosting');
  });

  it('deciding a decided offer → 409, and nothing changes', async () => {
    const rejected = ((await staff.get('/admin/v1/offers?status=rejected')).json.offers as OfferRow[])[0]!;
    expect((await staff.post(`/admin/v1/offers/${acceptedId}/accept`, { mirror: { id: 'ke-second' } })).status).toBe(409);
    expect((await staff.post(`/admin/v1/offers/${acceptedId}/reject`)).status).toBe(409);
    expect((await staff.post(`/admin/v1/offers/${rejected.id}/accept`, { mirror: { id: 'ke-third' } })).status).toBe(409);
    expect((await staff.post(`/admin/v1/offers/${rejected.id}/reject`)).status).toBe(409);
    expect((await offerById(acceptedId))?.status).toBe('accepted');
    expect((await offerById(rejected.id))?.status).toBe('rejected');
    const ids = ((await staff.get('/admin/v1/mirrors')).json.mirrors as { spec: { id: string } }[]).map((m) => m.spec.id);
    expect(ids).not.toContain('ke-second');
    expect(ids).not.toContain('ke-third');
  });

  it('accepting with a mirror id that exists → 409, and the offer stays open', async () => {
    const created = await offerFrom(validOffer({ organisation: 'Clash Hosting' }));
    const r = await staff.post(`/admin/v1/offers/${created.json.id}/accept`, { mirror: { id: 'de-berlin' } });
    expect(r.status).toBe(409);
    expect((await offerById(created.json.id))?.status).toBe('offered');
  });

  it('an offer without a URL cannot become a mirror unless staff pass one: 422 naming baseUrl, offer stays open', async () => {
    const created = await offerFrom(without(validOffer({ organisation: 'No Url Inc' }), 'baseUrl'));
    expect(created.status).toBe(201);
    const r = await staff.post(`/admin/v1/offers/${created.json.id}/accept`);
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.fields)).toEqual(['baseUrl']);
    expect((await offerById(created.json.id))?.status).toBe('offered');
    const ok = await staff.post(`/admin/v1/offers/${created.json.id}/accept`, { mirror: { id: 'no-url-inc', baseUrl: offered.baseUrl } });
    expect(ok.status).toBe(200);
    expect(ok.json.mirror.spec).toMatchObject({ id: 'no-url-inc', baseUrl: offered.baseUrl });
  });

  it('accept with some "mirror" fields but no id still derives the id from organisation and country', async () => {
    const created = await offerFrom(without(validOffer({ organisation: 'Partial Fields' }), 'baseUrl'));
    const r = await staff.post(`/admin/v1/offers/${created.json.id}/accept`, { mirror: { baseUrl: offered.baseUrl } });
    // Mirror fields without an id: the id is made up from organisation and country.
    expect(r.status).toBe(200);
    expect(r.json.mirror.spec).toMatchObject({ id: 'partial-fields-ke', baseUrl: offered.baseUrl });
  });

  it('unknown offer → 404; bad accept bodies → 422/400', async () => {
    expect((await staff.post('/admin/v1/offers/00000000-0000-0000-0000-000000000000/accept')).status).toBe(404);
    expect((await staff.post('/admin/v1/offers/00000000-0000-0000-0000-000000000000/reject')).status).toBe(404);
    const created = await offerFrom(validOffer({ organisation: 'Body Checks' }));
    expect((await staff.post(`/admin/v1/offers/${created.json.id}/accept`, { approve: true })).status).toBe(422);
    expect((await staff.post(`/admin/v1/offers/${created.json.id}/accept`, { mirror: { id: 'Bad Id' } })).status).toBe(422);
    expect((await staff.post(`/admin/v1/offers/${created.json.id}/accept`, undefined, { raw: 'yes' })).status).toBe(400);
    expect((await staff.post(`/admin/v1/offers/${created.json.id}/reject`, { reason: 'x' })).status).toBe(422);
    expect((await offerById(created.json.id))?.status).toBe('offered');
  });
});
