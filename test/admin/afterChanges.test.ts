// What follows a staff change, as an operator and a provider would find it: a deleted mirror's provider
// token lets go of it (a mirror added later under the id is not the old provider's), a second drain never
// raises a share, a weight ceiling below the weight is refused, a removed sponsor takes its logo off
// /logos/{id}, a provider reads the audit log without paths on the server, and revoking twice is not an error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { client, type Client } from '../support/requests.js';

let net: MirrorNetwork;
let staff: Client;
let extra: LoopbackFileServer;
let second: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  extra = await net.extraMirror('ke-runtime');
  second = await net.extraMirror('ng-runtime');
});

afterAll(async () => {
  await net?.close();
});

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function putLogo(token: string, id: string): Promise<number> {
  const res = await fetch(`${net.url}/admin/v1/mirrors/${id}/logo`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png' },
    body: PNG,
  });
  await res.arrayBuffer();
  return res.status;
}

describe("a deleted mirror's provider token", () => {
  it("is revoked with the mirror when it named no other: the id added again is not the old token's", async () => {
    const add = { id: 'ke-runtime', name: 'Runtime Nairobi', baseUrl: extra.baseUrl, country: 'KE' };
    expect((await staff.post('/admin/v1/mirrors', add)).status).toBe(201);
    const issued = await staff.post('/admin/v1/tokens', { name: 'nairobi-noc', role: 'provider', mirrors: ['ke-runtime'] });
    expect(issued.status, issued.text).toBe(201);
    const old = client(net.url, issued.json.token);
    expect((await old.get('/admin/v1/mirrors')).json.mirrors.map((m: { spec: { id: string } }) => m.spec.id)).toEqual(['ke-runtime']);

    expect((await staff.delete('/admin/v1/mirrors/ke-runtime')).status).toBe(204);
    const listed = (await staff.get('/admin/v1/tokens')).json.tokens.find((t: { name: string }) => t.name === 'nairobi-noc');
    expect(listed.revokedAt).not.toBeNull();
    expect((await old.get('/admin/v1/mirrors')).status).toBe(401);

    // Another operator's mirror under the same id: the old token has no say over it.
    expect((await staff.post('/admin/v1/mirrors', { ...add, name: 'New Nairobi operator' })).status).toBe(201);
    expect((await old.post('/admin/v1/mirrors/ke-runtime/drain')).status).toBe(401);
    const audit = (await staff.get('/admin/v1/audit?target=token:' + issued.json.id)).json.entries;
    expect(audit.map((e: { action: string }) => e.action)).toContain('token.revoke');
  });

  it('keeps its other mirrors when it named several (audited as token.scope)', async () => {
    expect((await staff.post('/admin/v1/mirrors', { id: 'ng-runtime', name: 'Runtime Lagos', baseUrl: second.baseUrl, country: 'NG' })).status).toBe(201);
    const issued = await staff.post('/admin/v1/tokens', { name: 'west-africa-noc', role: 'provider', mirrors: ['ng-runtime', 'ke-runtime'] });
    expect(issued.status, issued.text).toBe(201);
    expect((await staff.delete('/admin/v1/mirrors/ke-runtime')).status).toBe(204);

    const token = client(net.url, issued.json.token);
    expect((await token.get('/admin/v1/mirrors')).json.mirrors.map((m: { spec: { id: string } }) => m.spec.id)).toEqual(['ng-runtime']);
    const listed = (await staff.get('/admin/v1/tokens')).json.tokens.find((t: { name: string }) => t.name === 'west-africa-noc');
    expect(listed).toMatchObject({ mirrors: ['ng-runtime'], revokedAt: null });
    const entries = (await staff.get('/admin/v1/audit?action=scope')).json.entries;
    expect(entries[0]).toMatchObject({ action: 'token.scope', before: { mirrors: ['ng-runtime', 'ke-runtime'] }, after: { mirrors: ['ng-runtime'] } });
  });
});

describe('a second drain', () => {
  it('never raises the share: drained at once, then "over 10m", stays drained at once and is not audited', async () => {
    const first = await staff.post('/admin/v1/mirrors/de-berlin/drain');
    expect(first.json.drain).toEqual({ startMs: expect.any(Number), overMs: 0 });
    const before = (await staff.get('/admin/v1/audit?target=mirror:de-berlin&action=drain')).json.entries.length;

    const again = await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '10m' });
    expect(again.status).toBe(200);
    expect(again.json.drain).toEqual(first.json.drain);
    expect((await staff.get('/admin/v1/audit?target=mirror:de-berlin&action=drain')).json.entries).toHaveLength(before);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
  });

  it('shortens a ramp under way: "over 1h", then at once, drains at once', async () => {
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '1h' })).json.drain.overMs).toBe(3_600_000);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain')).json.drain.overMs).toBe(0);
    // …and a longer ramp after it changes nothing.
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '2h' })).json.drain.overMs).toBe(0);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
  });
});

describe('staff edits', () => {
  it('a weight ceiling below the weight in force is refused, naming weightCeiling; with the weight lowered too it is taken', async () => {
    const weight = (await staff.get('/admin/v1/mirrors/de-berlin')).json.spec.weight as number;
    const low = await staff.patch('/admin/v1/mirrors/de-berlin', { weightCeiling: weight - 1 });
    expect(low.status).toBe(422);
    expect(low.json.fields.weightCeiling).toMatch(/below the mirror's weight/);
    const both = await staff.patch('/admin/v1/mirrors/de-berlin', { weightCeiling: weight - 1, weight: weight - 1 });
    expect(both.status, both.text).toBe(200);
    expect(both.json).toMatchObject({ spec: { weight: weight - 1 }, weightCeiling: weight - 1 });
  });

  it('a logo in a sponsor body is refused with where logos go', async () => {
    const r = await staff.patch('/admin/v1/mirrors/de-berlin', { sponsor: { logo: '/etc/passwd' } });
    expect(r.status).toBe(422);
    expect(r.json.fields['sponsor.logo']).toMatch(/PUT \/admin\/v1\/mirrors\/\{id\}\/logo/);
  });

  it('a sponsor removed takes its uploaded logo off /logos/{id}', async () => {
    expect(await putLogo(STAFF_TOKEN, 'de-berlin')).toBe(200);
    expect((await fetch(`${net.url}/logos/de-berlin`)).status).toBe(200);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { sponsor: null })).status).toBe(200);
    expect((await fetch(`${net.url}/logos/de-berlin`)).status).toBe(404);
  });

  it('revoking a token twice by name answers the revoked token both times', async () => {
    expect((await staff.post('/admin/v1/tokens', { name: 'twice', role: 'staff' })).status).toBe(201);
    const first = await staff.delete('/admin/v1/tokens/twice');
    expect(first.status).toBe(200);
    const second = await staff.delete('/admin/v1/tokens/twice');
    expect(second.status).toBe(200);
    expect(second.json).toEqual(first.json);
  });
});

describe("a provider's audit log", () => {
  it('shows its logo as /logos/{id}, never a file on the server, in the API and on /provider', async () => {
    const provider = client(net.url, PROVIDER_TOKEN);
    expect(await putLogo(PROVIDER_TOKEN, 'de-berlin')).toBe(200);
    const text = JSON.stringify((await provider.get('/admin/v1/audit?target=mirror:de-berlin')).json);
    expect(text).toContain('/logos/de-berlin');
    expect(text).not.toContain(net.server.config.dataDir);
    expect(text).not.toMatch(/"logo":"\/(?!logos\/)/);
    // Staff see the entries as stored: the config logo's file, which the provider's view left out.
    expect(JSON.stringify((await staff.get('/admin/v1/audit?target=mirror:de-berlin&action=logo')).json)).toMatch(/"logo":"\/(?!logos\/)/);
  });
});
