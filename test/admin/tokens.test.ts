// Tokens at runtime and console sessions: staff issue, list and revoke tokens through /admin/v1/tokens (only a
// SHA-256 is kept, the secret is shown once), config tokens keep working, every step is audited; the console
// cookie is an opaque server-side session id on the console's paths, ended by POST /logout, by its absolute
// expiry (enforced by the server) and by revoking its token.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { call, client, type Client } from '../support/requests.js';

let net: MirrorNetwork;
let staff: Client;
let extra: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  extra = await net.extraMirror('nl-runtime');
});

afterAll(async () => {
  await net?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface TokenView {
  id: string | null;
  name: string;
  role: string;
  mirrors: string[];
  source: 'config' | 'runtime';
  revokedAt: string | null;
}

/** Signs in at /login with a token, as the browser form does; the session cookie's value. */
async function signIn(token: string): Promise<{ status: number; cookies: string[]; session: string | undefined }> {
  const res = await fetch(`${net.url}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: net.url },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
  await res.arrayBuffer();
  const cookies = res.headers.getSetCookie();
  const session = cookies.map((c) => /^mirrorgate_session=([^;]+)/.exec(c)?.[1]).find((v) => v !== undefined && v !== '');
  return { status: res.status, cookies, session };
}

/** /provider as the browser asks for it with the session cookie. */
async function consoleWith(session: string, target = '/provider'): Promise<Response> {
  return fetch(`${net.url}${target}`, { headers: { Cookie: `mirrorgate_session=${session}` }, redirect: 'manual' });
}

describe('tokens issued at runtime', () => {
  let issued: { token: string; id: string; name: string };

  it('staff issue a provider token for a mirror added at runtime: 201, the secret once, only its hash stored', async () => {
    expect((await staff.post('/admin/v1/mirrors', { id: 'nl-runtime', name: 'Runtime Rotterdam', baseUrl: extra.baseUrl, country: 'NL' })).status).toBe(201);
    const r = await staff.post('/admin/v1/tokens', { name: 'rotterdam-noc', role: 'provider', mirrors: ['nl-runtime'] });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toEqual({
      token: expect.stringMatching(/^mgt_[\w-]{43}$/),
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      name: 'rotterdam-noc',
      role: 'provider',
      mirrors: ['nl-runtime'],
    });
    issued = r.json;

    // 32 random bytes: base64url of exactly 32 bytes.
    expect(Buffer.from(issued.token.slice(4), 'base64url')).toHaveLength(32);
    const stored = await readFile(path.join(net.server.config.dataDir, 'state', 'tokens.json'), 'utf8');
    expect(stored).not.toContain(issued.token);
    expect(stored).not.toContain(issued.token.slice(4));
    expect(JSON.parse(stored).tokens).toEqual([
      expect.objectContaining({ id: issued.id, hash: sha256(issued.token), name: 'rotterdam-noc', createdBy: 'ops' }),
    ]);
  });

  it('the new token works at once, scoped to its mirror; the config tokens keep working', async () => {
    const provider = client(net.url, issued.token);
    const mirrors = await provider.get('/admin/v1/mirrors');
    expect(mirrors.status).toBe(200);
    expect(mirrors.json.mirrors.map((m: { spec: { id: string } }) => m.spec.id)).toEqual(['nl-runtime']);
    expect((await provider.get('/admin/v1/mirrors/de-berlin')).status).toBe(403);
    expect((await provider.post('/admin/v1/mirrors/nl-runtime/drain')).status).toBe(200);
    expect((await provider.post('/admin/v1/mirrors/nl-runtime/undrain')).status).toBe(200);
    expect((await provider.get('/admin/v1/tokens')).status).toBe(403);

    expect((await client(net.url, PROVIDER_TOKEN).get('/admin/v1/mirrors')).status).toBe(200);
    expect((await staff.get('/admin/v1/tokens')).status).toBe(200);
  });

  it('a staff token issued at runtime may ask for the answer another address gets (?fromip=), a provider one may not', async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'night-shift', role: 'staff' });
    expect(r.status, r.text).toBe(201);
    const target = '/download/pub/README.txt?mirrorlist&fromip=8.8.8.8';
    const asStaff = await call(net.url, 'GET', target, { token: r.json.token, headers: { Accept: 'application/json' } });
    expect(asStaff.status, asStaff.text).toBe(200);
    expect(asStaff.json.client.ip).toBe('8.8.8.8');
    expect((await call(net.url, 'GET', target, { token: issued.token, headers: { Accept: 'application/json' } })).status).toBe(403);
    expect((await staff.delete(`/admin/v1/tokens/${r.json.id}`)).status).toBe(200);
  });

  it('an edge token issued at runtime reads the routing snapshot and nothing else', async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'edge-fra', role: 'edge' });
    expect(r.status, r.text).toBe(201);
    const edge = client(net.url, r.json.token);
    expect((await edge.get('/admin/v1/snapshot/core')).status).toBe(200);
    expect((await edge.get('/admin/v1/mirrors')).status).toBe(403);
    expect((await edge.post('/admin/v1/mirrors/de-berlin/drain')).status).toBe(403);
    expect((await staff.delete(`/admin/v1/tokens/${r.json.id}`)).status).toBe(200);
    expect((await edge.get('/admin/v1/snapshot/core')).status).toBe(401);
  });

  it('lists config and runtime tokens, never a secret nor a hash', async () => {
    const r = await staff.get('/admin/v1/tokens');
    const tokens = r.json.tokens as TokenView[];
    expect(tokens.map((t) => [t.name, t.source, t.role])).toEqual([
      ['ops', 'config', 'staff'],
      ['spree', 'config', 'provider'],
      ['rotterdam-noc', 'runtime', 'provider'],
      ['night-shift', 'runtime', 'staff'],
      ['edge-fra', 'runtime', 'edge'],
    ]);
    for (const secret of [STAFF_TOKEN, PROVIDER_TOKEN, issued.token, sha256(issued.token)]) expect(r.text).not.toContain(secret);
  });

  it('refuses what would be ambiguous or wrong, naming the field', async () => {
    expect((await staff.post('/admin/v1/tokens', { name: 'rotterdam-noc', role: 'staff' })).status).toBe(409);
    expect((await staff.post('/admin/v1/tokens', { name: 'ops', role: 'staff' })).status).toBe(409);
    const noMirror = await staff.post('/admin/v1/tokens', { name: 'x', role: 'provider' });
    expect(noMirror.status).toBe(422);
    expect(noMirror.json.fields).toEqual({ mirrors: 'a provider token needs at least one mirror' });
    const unknownMirror = await staff.post('/admin/v1/tokens', { name: 'x', role: 'provider', mirrors: ['de-berlin', 'no-such'] });
    expect(unknownMirror.status).toBe(422);
    expect(unknownMirror.json.fields).toEqual({ mirrors: 'no mirror "no-such"' });
    expect((await staff.post('/admin/v1/tokens', { name: 'x', role: 'root' })).json.fields.role).toBe('must be staff, provider or edge');
    expect((await staff.delete('/admin/v1/tokens/ops')).status).toBe(409);
    expect((await staff.delete('/admin/v1/tokens/never-issued')).status).toBe(404);
  });

  it('a staff token issued at runtime may do what config staff may', async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'night-shift', role: 'staff' });
    expect(r.status).toBe(201);
    const night = client(net.url, r.json.token);
    expect((await night.patch('/admin/v1/mirrors/fr-paris', { weight: 99 })).status).toBe(200);
    const [entry] = (await staff.get('/admin/v1/audit?target=mirror:fr-paris&limit=1')).json.entries;
    expect(entry).toMatchObject({ actor: 'night-shift', action: 'mirror.update', before: { weight: 100 }, after: { weight: 99 } });
    expect((await night.patch('/admin/v1/mirrors/fr-paris', { weight: 100 })).status).toBe(200);
    expect((await staff.delete(`/admin/v1/tokens/night-shift`)).status).toBe(200);
    expect((await night.get('/admin/v1/mirrors')).status).toBe(401);
  });

  it('revoking stops the token at once, and is listed and audited', async () => {
    const provider = client(net.url, issued.token);
    const revoked = await staff.delete(`/admin/v1/tokens/${issued.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: issued.id, name: 'rotterdam-noc', revokedAt: expect.any(String), revokedBy: 'ops' });
    expect((await provider.get('/admin/v1/mirrors')).status).toBe(401);
    // Revoking again changes nothing; the name is free for a new token.
    expect((await staff.delete(`/admin/v1/tokens/${issued.id}`)).status).toBe(200);
    const audit = (await staff.get('/admin/v1/audit?target=token:' + issued.id)).json.entries as { action: string; actor: string }[];
    expect(audit.map((e) => [e.action, e.actor])).toEqual([
      ['token.revoke', 'ops'],
      ['token.issue', 'ops'],
    ]);
    expect(JSON.stringify((await staff.get('/admin/v1/audit')).json)).not.toContain(issued.token);
  });
});

describe('console sessions', () => {
  it('the cookie is an opaque id on the console paths only, not the token', async () => {
    const { status, cookies, session } = await signIn(PROVIDER_TOKEN);
    expect(status).toBe(303);
    expect(session).toMatch(/^[\w-]{43}$/);
    expect(session).not.toContain(PROVIDER_TOKEN);
    const paths = cookies.filter((c) => c.startsWith(`mirrorgate_session=${session}`)).map((c) => /Path=([^;]+)/i.exec(c)?.[1]);
    expect(paths.sort()).toEqual(['/login', '/logout', '/provider', '/staff']);
    for (const c of cookies.filter((c) => c.startsWith(`mirrorgate_session=${session}`))) {
      expect(c).toMatch(/HttpOnly/i);
      expect(c).toMatch(/SameSite=Strict/i);
      expect(c).toMatch(/Max-Age=43200/i);
    }
    // The session is in the store, under the id's hash; never the id itself.
    const sessions = await readFile(path.join(net.server.config.dataDir, 'state', 'sessions.json'), 'utf8');
    expect(sessions).not.toContain(session);
    expect(JSON.parse(sessions).sessions[sha256(session!)]).toMatchObject({ tokenRef: 'config:spree' });
    expect((await consoleWith(session!)).status).toBe(200);
  });

  it('a cookie nobody was given, or the token itself as a cookie, is no session', async () => {
    for (const value of ['A'.repeat(43), PROVIDER_TOKEN, 'x']) {
      const res = await consoleWith(value);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/login');
    }
  });

  it('POST /logout ends the session on the server: the same cookie, replayed, is refused', async () => {
    const { session } = await signIn(PROVIDER_TOKEN);
    expect((await consoleWith(session!)).status).toBe(200);
    const out = await fetch(`${net.url}/logout`, { method: 'POST', headers: { Cookie: `mirrorgate_session=${session}`, Origin: net.url }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(
      out.headers.getSetCookie().filter((c) => c.startsWith('mirrorgate_session=;') || /mirrorgate_session=;|Max-Age=0/.test(c)).length,
    ).toBeGreaterThanOrEqual(4);
    const replayed = await consoleWith(session!);
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get('location')).toBe('/login');
  });

  it("the absolute expiry is the server's: a session past it is refused whatever the cookie says", async () => {
    const { session } = await signIn(STAFF_TOKEN);
    expect((await consoleWith(session!, '/staff')).status).toBe(200);
    const key = sha256(session!);
    const record = await net.server.store.getSession(key);
    expect(record!.expiresAt - record!.createdAt).toBe(12 * 3_600_000);
    // Twelve hours later, as far as the server is concerned.
    await net.server.store.putSession(key, { ...record!, expiresAt: Date.now() - 1 });
    expect((await consoleWith(session!, '/staff')).headers.get('location')).toBe('/login');
  });

  it('revoking a token ends its sessions at once', async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'berlin-console', role: 'provider', mirrors: ['de-berlin'] });
    const { session } = await signIn(r.json.token);
    const page = await consoleWith(session!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Spree Hosting Berlin');
    expect((await staff.delete(`/admin/v1/tokens/${r.json.id}`)).status).toBe(200);
    await vi.waitFor(async () => expect((await consoleWith(session!)).headers.get('location')).toBe('/login'), { timeout: 1_000, interval: 20 });
  });

  it('a wrong token signs nobody in and sets no cookie', async () => {
    const { status, session } = await signIn('mgt_' + 'x'.repeat(43));
    expect(status).toBe(401);
    expect(session).toBeUndefined();
  });

  it('a bearer token still works on console pages (scripts)', async () => {
    const res = await call(net.url, 'GET', '/provider', { token: PROVIDER_TOKEN, headers: { Accept: 'text/html' } });
    expect(res.status).toBe(200);
  });
});
