// Staff manage mirrors through /admin/v1/mirrors: list, show, add, patch, delete — and every change
// takes effect on the very next download. Happy paths, then errors (404/409/400/422, nothing half-applied).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MIRROR_PLANS, STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { choice, client, type Client } from '../support/requests.js';
import { CLIENT_IPS } from '../support/clientIps.js';

let net: MirrorNetwork;
let staff: Client;
/** A file server for mirrors added at runtime: it serves the whole origin tree. */
let extra: LoopbackFileServer;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  extra = await net.extraMirror('se-sto');
});

afterAll(async () => {
  await net?.close();
});

interface View {
  spec: { id: string; weight: number; enabled: boolean; countryOnly: boolean; baseUrl: string; sponsor?: { name: string; url?: string } };
  source: string;
  lifecycle: string;
  drain: unknown;
}

const ids = (r: { json: { mirrors: View[] } }) => r.json.mirrors.map((m) => m.spec.id);

function stockholm(id = 'se-sto') {
  return {
    id,
    name: 'Stockholm Runtime Mirror',
    baseUrl: extra.baseUrl,
    country: 'SE',
    lat: 59.33,
    lon: 18.07,
    weight: 50,
    bandwidthMbps: 1000,
    sponsor: { name: 'Nordic Bits', url: 'https://nordic.example/' },
  };
}

/** Distinct clients in one country: the last two octets vary inside a block the database places there. */
function ipsIn(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}.${Math.floor(i / 200) + 1}.${(i % 200) + 1}`);
}

// ---------------------------------------------------------------------------------------------

describe('happy paths', () => {
  it('GET /admin/v1/mirrors lists every configured mirror with its source, lifecycle and drain', async () => {
    const r = await staff.get('/admin/v1/mirrors');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(ids(r)).toEqual(MIRROR_PLANS.map((p) => p.id));
    for (const m of r.json.mirrors as View[]) {
      expect(m.source).toBe('config');
      expect(m.lifecycle).toBe('active');
      expect(m.drain).toBeNull();
    }
  });

  it('GET /admin/v1/mirrors/{id} shows the effective spec', async () => {
    const r = await staff.get('/admin/v1/mirrors/fr-paris');
    expect(r.status).toBe(200);
    expect(r.json.spec).toMatchObject({
      id: 'fr-paris',
      name: 'Seine Networks Paris',
      country: 'FR',
      weight: 100,
      enabled: true,
      countryOnly: false,
      baseUrl: net.mirrors['fr-paris']!.baseUrl,
      sponsor: { name: 'Seine Networks' },
      content: { include: ['pub/**'], exclude: ['**/*.iso'] },
    });
    expect(r.json.source).toBe('config');
  });

  it('POST adds a mirror (201), pending until its first probe (started at once) shows it up; then it gets downloads from a client near it', async () => {
    expect(await choice(net.url, 'SE')).not.toBe('se-sto');
    const r = await staff.post('/admin/v1/mirrors', stockholm());
    expect(r.status).toBe(201);
    expect(r.json.spec).toMatchObject({ id: 'se-sto', country: 'SE', weight: 50, enabled: true, countryOnly: false, baseUrl: extra.baseUrl });
    expect(r.json.source).toBe('runtime');
    expect(r.json.lifecycle).toBe('pending');
    expect(r.json.weightCeiling).toBe(50);
    await vi.waitFor(async () => expect((await staff.get('/admin/v1/mirrors/se-sto')).json.lifecycle).toBe('active'), { timeout: 10_000 });
    await vi.waitFor(async () => expect(await choice(net.url, 'SE')).toBe('se-sto'), { timeout: 2_000, interval: 20 });

    const res = await fetch(`${net.url}/download/pub/README.txt`, { headers: { Accept: '*/*', 'X-Forwarded-For': CLIENT_IPS.SE.ip }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('se-sto');
    expect(res.headers.get('location')).toBe(`${extra.baseUrl}pub/README.txt`);
    // The mirror really serves it.
    const file = await fetch(res.headers.get('location')!);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBe(net.files.readme.size);

    expect(ids(await staff.get('/admin/v1/mirrors'))).toContain('se-sto');
    const pub = await fetch(`${net.url}/api/v1/mirrors`).then((x) => x.json() as Promise<{ mirrors: { id: string; sponsor: { name: string } | null }[] }>);
    expect(pub.mirrors.find((m) => m.id === 'se-sto')?.sponsor?.name).toBe('Nordic Bits');
  });

  it('PATCH weight: shares follow at once (weight 0 on one of the Tokyo pair sends every client to the other)', async () => {
    const clients = ipsIn('133.11', 30);
    const before = await Promise.all(clients.map((ip) => choice(net.url, ip)));
    expect(new Set(before)).toEqual(new Set(['jp-tokyo-a', 'jp-tokyo-b']));

    const r = await staff.patch('/admin/v1/mirrors/jp-tokyo-a', { weight: 0 });
    expect(r.status).toBe(200);
    expect(r.json.spec.weight).toBe(0);
    expect((await staff.get('/admin/v1/mirrors/jp-tokyo-a')).json.spec.weight).toBe(0);
    const after = await Promise.all(clients.map((ip) => choice(net.url, ip)));
    expect(new Set(after)).toEqual(new Set(['jp-tokyo-b']));

    expect((await staff.patch('/admin/v1/mirrors/jp-tokyo-a', { weight: 300 })).status).toBe(200);
    expect(await Promise.all(clients.map((ip) => choice(net.url, ip)))).toEqual(before);
  });

  it('PATCH enabled:false: no downloads to it from the next request on; enabled:true restores', async () => {
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
    const r = await staff.patch('/admin/v1/mirrors/de-berlin', { enabled: false });
    expect(r.status).toBe(200);
    expect(r.json.spec.enabled).toBe(false);
    for (const ip of ipsIn('130.133', 20)) expect(await choice(net.url, ip)).not.toBe('de-berlin');
    const status = await fetch(`${net.url}/mirrors`, { headers: { Accept: 'application/json' } }).then(
      (x) => x.json() as Promise<{ mirrors: { id: string; status: string }[] }>,
    );
    expect(status.mirrors.find((m) => m.id === 'de-berlin')?.status).toBe('disabled');

    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { enabled: true })).status).toBe(200);
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
  });

  it('PATCH countryOnly: a mirror keeps only its own country', async () => {
    expect(await choice(net.url, 'GB')).toBe('fr-paris');
    const r = await staff.patch('/admin/v1/mirrors/fr-paris', { countryOnly: true });
    expect(r.status).toBe(200);
    expect(r.json.spec.countryOnly).toBe(true);
    expect(await choice(net.url, 'GB')).not.toBe('fr-paris');
    expect(await choice(net.url, 'FR')).toBe('fr-paris');
    expect((await staff.patch('/admin/v1/mirrors/fr-paris', { countryOnly: false })).status).toBe(200);
    expect(await choice(net.url, 'GB')).toBe('fr-paris');
  });

  it('PATCH sponsor: replaced, shown publicly; sponsor:null removes it', async () => {
    const r = await staff.patch('/admin/v1/mirrors/fr-paris', { sponsor: { name: 'Rive Gauche SARL', url: 'https://rive.example/' } });
    expect(r.status).toBe(200);
    expect(r.json.spec.sponsor).toEqual({ name: 'Rive Gauche SARL', url: 'https://rive.example/' });
    const pub = async () =>
      (
        await fetch(`${net.url}/mirrors`, { headers: { Accept: 'application/json' } }).then(
          (x) => x.json() as Promise<{ mirrors: { id: string; sponsor: { name: string; url: string | null } | null }[] }>,
        )
      ).mirrors.find((m) => m.id === 'fr-paris');
    expect((await pub())?.sponsor).toMatchObject({ name: 'Rive Gauche SARL', url: 'https://rive.example/' });
    // The interstitial a French browser sees names the new sponsor.
    const page = await fetch(`${net.url}/download/pub/README.txt`, { headers: { Accept: 'text/html', 'X-Forwarded-For': CLIENT_IPS.FR.ip } });
    expect(await page.text()).toContain('Rive Gauche SARL');

    const cleared = await staff.patch('/admin/v1/mirrors/fr-paris', { sponsor: null });
    expect(cleared.status).toBe(200);
    expect(cleared.json.spec.sponsor).toBeUndefined();
    expect((await pub())?.sponsor).toBeNull();
  });

  it('PATCH several fields at once applies them all and returns the new view', async () => {
    const r = await staff.patch('/admin/v1/mirrors/br-sp', { weight: 42, name: 'Paulista Renamed', bandwidthMbps: 2500 });
    expect(r.status).toBe(200);
    expect(r.json.spec).toMatchObject({ id: 'br-sp', weight: 42, name: 'Paulista Renamed', bandwidthMbps: 2500, country: 'BR' });
    expect((await staff.get('/admin/v1/mirrors/br-sp')).json.spec).toMatchObject({ weight: 42, name: 'Paulista Renamed' });
  });

  it('DELETE a runtime mirror: 204, then 404 for it, and no more downloads to it', async () => {
    expect(await choice(net.url, 'SE')).toBe('se-sto');
    const r = await staff.delete('/admin/v1/mirrors/se-sto');
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect((await staff.get('/admin/v1/mirrors/se-sto')).status).toBe(404);
    expect(ids(await staff.get('/admin/v1/mirrors'))).not.toContain('se-sto');
    expect(await choice(net.url, 'SE')).not.toBe('se-sto');
    // The id is free again.
    expect((await staff.post('/admin/v1/mirrors', stockholm())).status).toBe(201);
    expect((await staff.delete('/admin/v1/mirrors/se-sto')).status).toBe(204);
  });

  it('DELETE a config mirror: it stays deleted after a restart on the same dataDir', async () => {
    const dataDir = net.dataDir('delete-restart');
    const first = await net.startServer({ dataDir });
    const s1 = client(first.url, STAFF_TOKEN);
    expect(await choice(first.url, 'AU', 'tarball')).toBe('au-sydney');
    expect((await s1.delete('/admin/v1/mirrors/au-sydney')).status).toBe(204);
    expect((await s1.get('/admin/v1/mirrors/au-sydney')).status).toBe(404);
    expect(await choice(first.url, 'AU', 'tarball')).not.toBe('au-sydney');
    await net.stopServer(first);

    const second = await net.startServer({ dataDir });
    const s2 = client(second.url, STAFF_TOKEN);
    expect((await s2.get('/admin/v1/mirrors/au-sydney')).status).toBe(404);
    expect(ids(await s2.get('/admin/v1/mirrors'))).not.toContain('au-sydney');
    expect(await choice(second.url, 'AU', 'tarball')).not.toBe('au-sydney');
    const pub = await fetch(`${second.url}/api/v1/mirrors`).then((x) => x.json() as Promise<{ mirrors: { id: string }[] }>);
    expect(pub.mirrors.map((m) => m.id)).not.toContain('au-sydney');
    await net.stopServer(second);
  });
});

// ---------------------------------------------------------------------------------------------

describe('errors', () => {
  it('409 on a duplicate id (runtime or config mirror), and the existing mirror is unchanged', async () => {
    expect((await staff.post('/admin/v1/mirrors', stockholm('se-dup'))).status).toBe(201);
    const again = await staff.post('/admin/v1/mirrors', { ...stockholm('se-dup'), weight: 1 });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ error: expect.stringContaining('se-dup') });
    expect((await staff.get('/admin/v1/mirrors/se-dup')).json.spec.weight).toBe(50);

    const config = await staff.post('/admin/v1/mirrors', { ...stockholm('de-berlin'), weight: 1 });
    expect(config.status).toBe(409);
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.spec).toMatchObject({ weight: 100, country: 'DE' });
    expect((await staff.delete('/admin/v1/mirrors/se-dup')).status).toBe(204);
  });

  it.each([
    ['GET', '/admin/v1/mirrors/no-such-mirror', undefined],
    ['PATCH', '/admin/v1/mirrors/no-such-mirror', { weight: 5 }],
    ['DELETE', '/admin/v1/mirrors/no-such-mirror', undefined],
    ['POST', '/admin/v1/mirrors/no-such-mirror/drain', {}],
    ['POST', '/admin/v1/mirrors/no-such-mirror/undrain', undefined],
    ['POST', '/admin/v1/mirrors/no-such-mirror/launch', undefined],
    ['POST', '/admin/v1/mirrors/no-such-mirror/probe', undefined],
    ['POST', '/admin/v1/mirrors/no-such-mirror/scan', undefined],
  ] as const)('unknown id → 404: %s %s', async (method, target, body) => {
    const r = await (method === 'GET'
      ? staff.get(target)
      : method === 'DELETE'
        ? staff.delete(target)
        : method === 'PATCH'
          ? staff.patch(target, body)
          : staff.post(target, body));
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: expect.stringContaining('no-such-mirror') });
  });

  it('POST with bad fields → 422 naming each one', async () => {
    const r = await staff.post('/admin/v1/mirrors', {
      id: 'Bad Id!',
      name: '',
      baseUrl: 'ftp://mirror.example/pub/',
      country: 'XX',
      lat: 123,
      weight: -5,
      countryOnly: 'yes',
      sponsor: { name: 'Evil', url: 'javascript:alert(1)' },
    });
    expect(r.status).toBe(422);
    expect(r.json.error).toEqual(expect.any(String));
    expect(Object.keys(r.json.fields).sort()).toEqual(['baseUrl', 'country', 'countryOnly', 'id', 'lat', 'name', 'sponsor.url', 'weight']);
    for (const reason of Object.values(r.json.fields)) expect(reason).toEqual(expect.any(String));
    expect(ids(await staff.get('/admin/v1/mirrors'))).not.toContain('Bad Id!');
  });

  it('POST without the required fields → 422 naming each missing one', async () => {
    const r = await staff.post('/admin/v1/mirrors', { weight: 10 });
    expect(r.status).toBe(422);
    expect(Object.keys(r.json.fields).sort()).toEqual(['baseUrl', 'country', 'id', 'name']);
  });

  it('PATCH with bad fields → 422 {"error","fields":{weight, baseUrl}}', async () => {
    const r = await staff.patch('/admin/v1/mirrors/de-berlin', { weight: 'heavy', baseUrl: 'not a url' });
    expect(r.status).toBe(422);
    expect(r.json).toEqual({ error: expect.any(String), fields: { weight: expect.any(String), baseUrl: expect.any(String) } });
  });

  it('non-JSON bodies → 400; an empty body → 400', async () => {
    for (const raw of ['{"weight": 5', 'weight=5', '<xml/>']) {
      expect((await staff.post('/admin/v1/mirrors', undefined, { raw })).status).toBe(400);
      expect((await staff.patch('/admin/v1/mirrors/de-berlin', undefined, { raw })).status).toBe(400);
    }
    expect((await staff.post('/admin/v1/mirrors', undefined, { raw: '' })).status).toBe(400);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', undefined, { raw: '' })).status).toBe(400);
  });

  it('JSON that is not an object → 422', async () => {
    for (const body of [[], 'weight', 42, null]) {
      expect((await staff.patch('/admin/v1/mirrors/de-berlin', body, { raw: JSON.stringify(body) })).status).toBe(422);
    }
  });

  it('unknown keys → 422 naming them (POST, PATCH, nested sponsor)', async () => {
    const post = await staff.post('/admin/v1/mirrors', { ...stockholm('se-unknown'), colour: 'red' });
    expect(post.status).toBe(422);
    expect(JSON.stringify(post.json.fields)).toContain('colour');
    expect((await staff.get('/admin/v1/mirrors/se-unknown')).status).toBe(404);

    const patch = await staff.patch('/admin/v1/mirrors/de-berlin', { weight: 5, priority: 1 });
    expect(patch.status).toBe(422);
    expect(JSON.stringify(patch.json.fields)).toContain('priority');

    const nested = await staff.patch('/admin/v1/mirrors/de-berlin', { sponsor: { name: 'X', logo: '/etc/passwd' } });
    expect(nested.status).toBe(422);
    expect(JSON.stringify(nested.json.fields)).toContain('logo');
    // Runtime ids of a mirror are not patchable.
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { id: 'de-renamed' })).status).toBe(422);
  });

  it('lat without lon (or lon without lat) → 422 naming the missing one, as the config file says it; POST and PATCH alike', async () => {
    const { lon: _lon, ...latOnly } = stockholm('se-half');
    const post = await staff.post('/admin/v1/mirrors', latOnly);
    expect(post.status, post.text).toBe(422);
    expect(post.json.fields).toEqual({ lon: 'required when lat is set' });
    expect((await staff.get('/admin/v1/mirrors/se-half')).status).toBe(404);

    // de-berlin has both: dropping one leaves the other alone; dropping both, or moving both, is a position.
    const before = (await staff.get('/admin/v1/mirrors/de-berlin')).json.spec;
    const drop = await staff.patch('/admin/v1/mirrors/de-berlin', { lat: null });
    expect(drop.status, drop.text).toBe(422);
    expect(drop.json.fields).toEqual({ lat: 'required when lon is set' });
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.spec).toEqual(before);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { lat: 52.5, lon: 13.4 })).status).toBe(200);
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', { lat: before.lat, lon: before.lon })).status).toBe(200);
  });

  it('an empty PATCH → 422 (nothing to change)', async () => {
    expect((await staff.patch('/admin/v1/mirrors/de-berlin', {})).status).toBe(422);
  });

  it('nothing half-applied: a 422 PATCH with some valid fields leaves the mirror and the audit log unchanged', async () => {
    const before = (await staff.get('/admin/v1/mirrors/de-berlin')).json;
    const auditBefore = (await staff.get('/admin/v1/audit?target=mirror:de-berlin')).json.entries.length;
    for (const body of [
      { weight: 7, baseUrl: 'nope' },
      { weight: 7, enabled: 'no' },
      { enabled: false, countryOnly: true, sponsor: { name: '' } },
      { weight: 7, colour: 'red' },
    ]) {
      expect((await staff.patch('/admin/v1/mirrors/de-berlin', body)).status).toBe(422);
    }
    const after = (await staff.get('/admin/v1/mirrors/de-berlin')).json;
    expect(after.spec).toEqual(before.spec);
    expect((await staff.get('/admin/v1/audit?target=mirror:de-berlin')).json.entries.length).toBe(auditBefore);
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
  });

  it('scan of a mirror without an rsyncUrl → a 4xx naming the reason, not a 500', async () => {
    const r = await staff.post('/admin/v1/mirrors/de-berlin/scan');
    // A mirror without an rsyncUrl cannot be scanned: a 4xx saying why, never a 500.
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.json).toMatchObject({ error: expect.stringContaining('rsync') });
  });

  it('drain bodies are checked too: bad duration → 422, unknown key → 422, non-JSON → 400; nothing drained', async () => {
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: 'soon' })).status).toBe(422);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain', { over: '1m', now: true })).status).toBe(422);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain', undefined, { raw: 'drain please' })).status).toBe(400);
    expect((await staff.get('/admin/v1/mirrors/de-berlin')).json.drain).toBeNull();
    expect(await choice(net.url, 'DE')).toBe('de-berlin');
  });
});
