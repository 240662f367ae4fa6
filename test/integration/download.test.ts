// SPEC "Downloads", row by row, through the real server on loopback in front of real file-serving mirrors.
import { randomBytes } from 'node:crypto';
import { parse as parseContentDisposition } from 'content-disposition';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { CLIENT_IPS, type ClientIpKey } from '../support/clientIps.js';
import { encodePath, FILES, freePort, MIRROR_PLANS, PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type FileKey, type MirrorNetwork } from '../support/network.js';
import { rawRequest } from '../support/requests.js';

let net: MirrorNetwork;

beforeAll(async () => {
  net = await startNetwork();
});

afterAll(async () => {
  await net?.close();
});

// ---------------------------------------------------------------------------------------------
// helpers

function downloadUrl(key: FileKey, query = '', base = net.url): string {
  return `${base}/download/${encodePath(FILES[key])}${query}`;
}

function from(who: ClientIpKey | string, extra: Record<string, string> = {}): Record<string, string> {
  const ip = who in CLIENT_IPS ? CLIENT_IPS[who as ClientIpKey].ip : who;
  return { 'X-Forwarded-For': ip, ...extra };
}

function ask(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(url, { method, headers, redirect: 'manual' });
}

/** The mirror a tool would be sent to (X-Mirrorgate-Mirror of a HEAD). */
async function chosenFor(key: FileKey, headers: Record<string, string>, base = net.url): Promise<string> {
  const res = await ask(downloadUrl(key, '', base), headers, 'HEAD');
  expect(res.status).toBe(302);
  return res.headers.get('x-mirrorgate-mirror') ?? '(none)';
}

function mirrorUrl(id: string, key: FileKey): string {
  const m = net.mirrors[id];
  if (!m) throw new Error(`no mirror ${id}`);
  return m.baseUrl + encodePath(FILES[key]);
}

function originUrl(key: FileKey): string {
  return net.origin.baseUrl + encodePath(FILES[key]);
}

interface LinkValue {
  url: string;
  params: Record<string, string>;
}

function parseLinks(header: string | null): LinkValue[] {
  if (!header) return [];
  const out: LinkValue[] = [];
  for (const m of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    const params: Record<string, string> = {};
    for (const p of (m[2] ?? '').split(';')) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      params[p.slice(0, eq).trim().toLowerCase()] = p
        .slice(eq + 1)
        .trim()
        .replace(/,$/, '')
        .trim()
        .replace(/^"|"$/g, '');
    }
    out.push({ url: m[1] ?? '', params });
  }
  return out;
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const idByBase = (): Map<string, string> => new Map(Object.entries(net.mirrors).map(([id, m]) => [m.baseUrl, id]));

function mirrorOfUrl(url: string): string | undefined {
  for (const [base, id] of idByBase()) if (url.startsWith(base)) return id;
  return url.startsWith(net.origin.baseUrl) ? 'origin' : undefined;
}

const planOf = (id: string) => MIRROR_PLANS.find((p) => p.id === id)!;

interface MirrorListJson {
  file: { path: string; size: number; mtime?: number; sha256?: string };
  client: { ip: string; country?: string; continent?: string; https: boolean };
  mirrors: { id: string; name: string; url: string; country: string; distanceKm: number | null; score: number }[];
  excluded: { id: string; reason: string }[];
}

async function mirrorList(key: FileKey, headers: Record<string, string>, base = net.url): Promise<MirrorListJson> {
  const res = await ask(downloadUrl(key, '?mirrorlist', base), { ...headers, Accept: 'application/json' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return (await res.json()) as MirrorListJson;
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, htmlEntities: true, isArray: (name) => name === 'url' });

interface MetalinkDoc {
  name: string;
  size: string;
  hash: { type: string; value: string } | undefined;
  urls: { url: string; location: string | undefined; priority: string | undefined }[];
  xmlns: string;
  origin: { url: string; dynamic: string | undefined } | undefined;
}

function parseMetalink(text: string): MetalinkDoc {
  const doc = xml.parse(text) as {
    metalink: {
      '@_xmlns': string;
      origin?: { '#text': string; '@_dynamic'?: string };
      file: {
        '@_name': string;
        size: string;
        hash?: { '#text': string; '@_type': string };
        url: ({ '#text': string; '@_location'?: string; '@_priority'?: string } | string)[];
      };
    };
  };
  const f = doc.metalink.file;
  return {
    xmlns: doc.metalink['@_xmlns'],
    origin: doc.metalink.origin ? { url: doc.metalink.origin['#text'], dynamic: doc.metalink.origin['@_dynamic'] } : undefined,
    name: f['@_name'],
    size: String(f.size),
    hash: f.hash ? { type: f.hash['@_type'], value: String(f.hash['#text']) } : undefined,
    urls: f.url.map((u) =>
      typeof u === 'string' ? { url: u, location: undefined, priority: undefined } : { url: u['#text'], location: u['@_location'], priority: u['@_priority'] },
    ),
  };
}

// ---------------------------------------------------------------------------------------------

describe('302 to the chosen mirror', () => {
  it('Location is the mirror baseUrl + the percent-encoded path, with Link, Digest, Repr-Digest, Cache-Control and X-Mirrorgate-Mirror', async () => {
    const res = await ask(downloadUrl('unicode'), from('DE'));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(mirrorUrl('de-berlin', 'unicode'));
    // Spelled out once, so a change in encodePath cannot hide a regression: spaces %20, UTF-8 bytes, parentheses kept.
    expect(res.headers.get('location')).toBe(`${net.mirrors['de-berlin']!.baseUrl}pub/%C3%9Cn%C3%AFcode%20(2026)/file%20name.txt`);
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('de-berlin');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const f = net.files.unicode;
    expect(res.headers.get('digest')).toBe(`SHA-256=${f.sha256Base64}`);
    expect(res.headers.get('repr-digest')).toBe(`sha-256=:${f.sha256Base64}:`);

    const links = parseLinks(res.headers.get('link'));
    const duplicates = links.filter((l) => l.params.rel === 'duplicate');
    const describedby = links.filter((l) => l.params.rel === 'describedby');
    // Every other mirror carrying the file is listed once, nearest first, never the pick or an ineligible mirror.
    const list = await mirrorList('unicode', from('DE'));
    expect(duplicates.map((l) => l.url)).toEqual(list.mirrors.slice(1).map((m) => m.url));
    expect(duplicates.length).toBeGreaterThan(2);
    duplicates.forEach((l, i) => {
      expect(l.params.pri).toBe(String(i + 1));
      const id = mirrorOfUrl(l.url);
      expect(id, l.url).toBeDefined();
      expect(id).not.toBe('de-berlin');
      expect(l.params.geo).toBe(planOf(id!).country.toLowerCase());
      expect(l.url).toBe(mirrorUrl(id!, 'unicode'));
    });
    expect(duplicates.map((l) => mirrorOfUrl(l.url))).not.toContain('nl-ams'); // country-only, client is German
    expect(duplicates.map((l) => mirrorOfUrl(l.url))).not.toContain('au-sydney'); // does not carry pub/Ü…
    expect(describedby).toHaveLength(1);
    expect(describedby[0]!.url).toBe(`${net.url}/download/${encodePath(FILES.unicode)}.meta4`);
    expect(describedby[0]!.params.type).toBe('application/metalink4+xml');
  });

  it('no Digest headers when the origin manifest has no hash for the file', async () => {
    const res = await ask(downloadUrl('nohash'), from('DE'));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(mirrorUrl('de-berlin', 'nohash'));
    expect(res.headers.get('digest')).toBeNull();
    expect(res.headers.get('repr-digest')).toBeNull();
    const meta = parseMetalink(await (await ask(downloadUrl('nohash', '.meta4'), from('DE'))).text());
    expect(meta.hash).toBeUndefined();
    expect(Number(meta.size)).toBe(net.files.nohash.size);
    // Never a made-up hash.
    const sha = await ask(downloadUrl('nohash', '?sha256'), from('DE'));
    expect(sha.status).not.toBe(200);
  });

  it('HEAD answers with the same headers as GET', async () => {
    const names = ['location', 'link', 'digest', 'repr-digest', 'cache-control', 'x-mirrorgate-mirror'];
    for (const key of ['readme', 'punctuation', 'iso'] as FileKey[]) {
      const get = await ask(downloadUrl(key), from('FR'));
      const head = await ask(downloadUrl(key), from('FR'), 'HEAD');
      expect(head.status).toBe(302);
      for (const n of names) expect(head.headers.get(n), `${key} ${n}`).toBe(get.headers.get(n));
      expect(get.headers.get('location')).not.toBeNull();
    }
  });

  it('encodes reserved characters of the path and accepts any equivalent encoding from the client', async () => {
    const expected = mirrorUrl('fr-paris', 'punctuation');
    expect(expected).toContain("docs/a%2Bb%20%26%20c's%20(draft).txt");
    for (const target of [
      "/download/pub/docs/a%2Bb%20%26%20c's%20(draft).txt",
      '/download/pub/docs/a+b%20%26%20c%27s%20%28draft%29.txt', // '+' is a literal plus in a path
    ]) {
      const res = await rawRequest(net.url, target, { headers: from('FR') });
      expect(res.status, target).toBe(302);
      expect(res.headers.location, target).toBe(expected);
    }
    const alt = await rawRequest(net.url, '/download/pub/%C3%9Cn%C3%AFcode%20%282026%29/file%20name.txt', { headers: from('DE') });
    expect(alt.headers.location).toBe(mirrorUrl('de-berlin', 'unicode'));
  });

  it('never redirects to a URL taken from the request (Host, ?mirror=URL)', async () => {
    const res = await rawRequest(net.url, `/download/${encodePath(FILES.readme)}?mirror=${encodeURIComponent('https://evil.example/')}`, {
      headers: { ...from('DE'), Host: 'evil.example', 'X-Forwarded-Host': 'evil.example' },
    });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(mirrorUrl('de-berlin', 'readme'));
    expect(String(res.headers.link)).not.toContain('evil.example');
  });
});

describe('choice by place', () => {
  const cases: [ClientIpKey, FileKey, string[], string][] = [
    ['DE', 'readme', ['de-berlin'], 'same country'],
    ['FR', 'readme', ['fr-paris'], 'same country'],
    ['NL', 'readme', ['nl-ams'], 'same country (its country-only mirror)'],
    ['US_EAST', 'readme', ['us-east'], 'same country'],
    ['BR', 'readme', ['br-sp'], 'same country'],
    ['JP', 'readme', ['jp-tokyo-a', 'jp-tokyo-b'], 'same country (two mirrors in one place)'],
    ['AU', 'tarball', ['au-sydney'], 'same country'],
    ['GB', 'readme', ['fr-paris'], 'no GB mirror: same continent, nearest eligible (nl-ams is NL-only)'],
    ['SE', 'readme', ['de-berlin'], 'no SE mirror: same continent, nearest eligible'],
    ['CA', 'readme', ['us-east'], 'no CA mirror: same continent'],
    ['AR', 'readme', ['br-sp'], 'no AR mirror: same continent'],
    ['NZ', 'tarball', ['au-sydney'], 'no NZ mirror: same continent'],
    ['SG', 'readme', ['jp-tokyo-a', 'jp-tokyo-b'], 'no SG mirror: same continent'],
    ['IN', 'readme', ['jp-tokyo-a', 'jp-tokyo-b'], 'same continent beats distance (de-berlin is nearer to Mumbai)'],
    ['ZA', 'readme', ['br-sp'], 'no mirror on the continent: nearest'],
    ['AU', 'readme', ['jp-tokyo-a', 'jp-tokyo-b'], 'au-sydney lacks the file: nearest that has it'],
    ['FR', 'iso', ['de-berlin'], 'fr-paris excludes *.iso: nearest on the continent'],
    ['US_EAST', 'stale', ['fr-paris'], 'us-east holds a stale copy (manifest size differs): nearest other'],
    ['DE_V6', 'readme', ['de-berlin'], 'IPv6 client'],
  ];
  for (const [who, key, expected, why] of cases) {
    it(`${who} asking for ${key} → ${expected.join(' or ')} (${why})`, async () => {
      const res = await ask(downloadUrl(key), from(who));
      expect(res.status).toBe(302);
      const id = res.headers.get('x-mirrorgate-mirror')!;
      expect(expected).toContain(id);
      expect(res.headers.get('location')).toBe(mirrorUrl(id, key));
    });
  }

  it('a country-only mirror never serves a foreign client', async () => {
    const foreign = (Object.keys(CLIENT_IPS) as ClientIpKey[]).filter((k) => CLIENT_IPS[k].country !== 'NL');
    for (const who of foreign) {
      for (const key of ['readme', 'iso', 'stale'] as FileKey[]) {
        const res = await ask(downloadUrl(key), from(who), 'HEAD');
        expect(res.headers.get('x-mirrorgate-mirror'), `${who} ${key}`).not.toBe('nl-ams');
        expect(res.headers.get('link') ?? '', `${who} ${key}`).not.toContain(net.mirrors['nl-ams']!.baseUrl);
      }
      const meta = await ask(downloadUrl('readme', '.meta4'), from(who));
      expect(await meta.text()).not.toContain(net.mirrors['nl-ams']!.baseUrl);
    }
    const list = await mirrorList('readme', from('GB'));
    expect(list.excluded).toContainEqual({ id: 'nl-ams', reason: 'country-only' });
    expect(list.mirrors.map((m) => m.id)).not.toContain('nl-ams');
  });

  it('X-Forwarded-For: the right-most untrusted address is the client', async () => {
    const clientOf = async (xffValue: string) => (await mirrorList('readme', { 'X-Forwarded-For': xffValue })).client.ip;
    // The left entry was written by the client itself and proves nothing.
    expect(await clientOf(`${CLIENT_IPS.JP.ip}, ${CLIENT_IPS.DE.ip}`)).toBe(CLIENT_IPS.DE.ip);
    // Trusted hops (127.0.0.1) are skipped.
    expect(await clientOf(`${CLIENT_IPS.DE.ip}, 127.0.0.1`)).toBe(CLIENT_IPS.DE.ip);
    // Garbage is not an address: the peer stands.
    expect(await clientOf('not-an-ip')).toBe('127.0.0.1');
    const res = await ask(downloadUrl('readme'), { 'X-Forwarded-For': `${CLIENT_IPS.JP.ip}, ${CLIENT_IPS.BR.ip}` });
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('br-sp');
  });

  it('X-Forwarded-For from an untrusted peer is ignored (trustedProxies: [])', async () => {
    const strict = await net.startServer({ mutate: (c) => (c.trustedProxies = []) });
    const plain = await chosenFor('tarball', {}, strict.url);
    for (const who of ['DE', 'JP', 'AU', 'BR', 'US_EAST'] as ClientIpKey[]) {
      expect(await chosenFor('tarball', from(who), strict.url), who).toBe(plain);
      const list = await mirrorList('tarball', from(who, { 'X-Forwarded-Proto': 'https' }), strict.url);
      expect(list.client.ip).toBe('127.0.0.1');
      expect(list.client.country).toBeUndefined();
      expect(list.client.https).toBe(false);
    }
    // The same header through the trusted main server does move the client.
    expect(await chosenFor('tarball', from('AU'))).toBe('au-sydney');
    expect((await mirrorList('tarball', from('AU'))).client).toMatchObject({ ip: CLIENT_IPS.AU.ip, country: 'AU' });
  });
});

describe('HTTPS clients', () => {
  let secure: RunningServer;
  let deadHttpsPort: number;

  beforeAll(async () => {
    deadHttpsPort = await freePort();
    secure = await net.startServer({
      mutate: (c) => {
        c.mirrors.push({
          id: 'de-secure',
          name: 'Spree Hosting TLS',
          // Only the URL is built; nothing downloads from it, so a closed port is fine.
          baseUrl: `https://127.0.0.1:${deadHttpsPort}/`,
          country: 'DE',
          lat: 52.52,
          lon: 13.405,
          content: { include: ['pub/releases/**'] },
        });
      },
    });
  });

  it('are sent only to https mirrors while one has the file', async () => {
    for (const who of ['DE', 'FR', 'JP', 'AU', 'US_EAST', 'BR'] as ClientIpKey[]) {
      const res = await ask(downloadUrl('tarball', '', secure.url), from(who, { 'X-Forwarded-Proto': 'https' }));
      expect(res.status).toBe(302);
      expect(res.headers.get('x-mirrorgate-mirror'), who).toBe('de-secure');
      expect(res.headers.get('location')).toBe(`https://127.0.0.1:${deadHttpsPort}/${encodePath(FILES.tarball)}`);
      for (const l of parseLinks(res.headers.get('link')).filter((x) => x.params.rel === 'duplicate')) {
        expect(l.url, who).toMatch(/^https:/);
      }
    }
    const list = await mirrorList('tarball', from('JP', { 'X-Forwarded-Proto': 'https' }), secure.url);
    expect(list.client.https).toBe(true);
    expect(list.mirrors.map((m) => m.id)).toEqual(['de-secure']);
    expect(list.excluded).toContainEqual({ id: 'jp-tokyo-a', reason: 'http-only' });
    expect(list.excluded).toContainEqual({ id: 'au-sydney', reason: 'http-only' });
  });

  it('fall back to http mirrors when no https mirror has the file', async () => {
    const res = await ask(downloadUrl('readme', '', secure.url), from('DE', { 'X-Forwarded-Proto': 'https' }));
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('de-berlin');
  });

  it('plain http clients may still use the https mirror', async () => {
    const res = await ask(downloadUrl('tarball', '', secure.url), from('AU'));
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('au-sydney');
  });
});

describe('browsers get the interstitial page', () => {
  it('200 with sponsor, file name, size, sha-256, meta refresh, direct link and the other mirrors', async () => {
    const res = await ask(downloadUrl('unicode'), from('DE', { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    const f = net.files.unicode;
    const target = mirrorUrl('de-berlin', 'unicode');
    expect(html).toContain('Spree Hosting GmbH');
    expect(html).toContain('/logos/de-berlin');
    expect(html).toContain('https://spree.example/');
    expect(html).toContain('file name.txt');
    expect(html).toContain(f.size.toLocaleString('en'));
    expect(html).toContain(f.sha256);

    const refresh = /<meta\s+http-equiv="refresh"\s+content="(\d+);\s*url=([^"]+)"/i.exec(html);
    expect(refresh, 'meta refresh').not.toBeNull();
    expect(unescapeHtml(refresh![2]!)).toBe(target);

    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => unescapeHtml(m[1]!));
    expect(hrefs).toContain(target); // the direct link

    const list = await mirrorList('unicode', from('DE'));
    const others = list.mirrors.slice(1);
    expect(others.length).toBeGreaterThan(2);
    let last = -1;
    for (const o of others) {
      expect(html).toContain(o.name);
      const link = hrefs.findIndex((h) => h.endsWith(`?mirror=${o.id}`));
      expect(link, `link to ?mirror=${o.id}`).toBeGreaterThan(-1);
      expect(link, 'others listed nearest first').toBeGreaterThan(last);
      last = link;
    }
    expect(html).not.toContain('Amstel Only'); // country-only for NL

    const logo = await fetch(`${net.url}/logos/de-berlin`);
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  });

  it('the page escapes names from the file set', async () => {
    const res = await ask(downloadUrl('punctuation'), from('FR', { Accept: 'text/html' }));
    const html = await res.text();
    expect(html).toContain('a+b &amp; c');
    expect(html).not.toContain("a+b & c's");
  });

  it('an origin-only file: the page starts the download from the origin', async () => {
    const res = await ask(downloadUrl('originOnly'), from('DE', { Accept: 'text/html' }));
    expect(res.status).toBe(200);
    const html = await res.text();
    const refresh = /<meta\s+http-equiv="refresh"\s+content="(\d+);\s*url=([^"]+)"/i.exec(html);
    expect(unescapeHtml(refresh?.[2] ?? '')).toBe(originUrl('originOnly'));
    expect(html).toContain('only-on-origin.bin');
  });

  it('Accept is read as RFC 9110 says: any letter case, and q=0 refuses a type', async () => {
    expect((await ask(downloadUrl('readme'), from('DE', { Accept: 'TEXT/HTML' }))).status).toBe(200);
    expect((await ask(downloadUrl('readme'), from('DE', { Accept: 'text/html;q=0, */*' }))).status).toBe(302);
    const list = await ask(downloadUrl('readme', '?mirrorlist'), from('DE', { Accept: 'Application/JSON' }));
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('?direct with Accept: text/html → 302', async () => {
    const res = await ask(downloadUrl('unicode', '?direct'), from('DE', { Accept: 'text/html' }));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(mirrorUrl('de-berlin', 'unicode'));
  });
});

describe('?mirror=', () => {
  it('honoured when that mirror has the file', async () => {
    for (const id of ['br-sp', 'jp-tokyo-b', 'us-east', 'fr-paris']) {
      const res = await ask(downloadUrl('readme', `?mirror=${id}`), from('DE'));
      expect(res.status).toBe(302);
      expect(res.headers.get('x-mirrorgate-mirror')).toBe(id);
      expect(res.headers.get('location')).toBe(mirrorUrl(id, 'readme'));
    }
  });

  it('ignored when the mirror lacks the file, is not for this client, or is unknown', async () => {
    const cases: [string, FileKey][] = [
      ['au-sydney', 'readme'], // not in its include rules
      ['fr-paris', 'iso'], // excluded by its rules
      ['us-east', 'stale'], // stale copy per its manifest
      ['nl-ams', 'readme'], // country-only, client is German
      ['no-such-mirror', 'readme'],
      ['', 'readme'],
    ];
    for (const [id, key] of cases) {
      const res = await ask(downloadUrl(key, `?mirror=${encodeURIComponent(id)}`), from('DE'));
      expect(res.status, id).toBe(302);
      expect(res.headers.get('x-mirrorgate-mirror'), `?mirror=${id} for ${key}`).toBe('de-berlin');
    }
  });
});

describe('?mirrorlist', () => {
  it('JSON: file, client, ranked mirrors, and why the others were left out', async () => {
    const list = await mirrorList('iso', from('FR'));
    const f = net.files.iso;
    expect(list.file).toMatchObject({ path: f.path, size: f.size, sha256: f.sha256, mtime: f.mtime });
    expect(list.client).toMatchObject({ ip: CLIENT_IPS.FR.ip, country: 'FR', continent: 'EU', https: false });
    expect(list.mirrors[0]!.id).toBe('de-berlin');
    for (const m of list.mirrors) {
      expect(Object.keys(m).sort()).toEqual(['country', 'distanceKm', 'id', 'name', 'score', 'url']);
      expect(m.url).toBe(mirrorUrl(m.id, 'iso'));
      expect(m.country).toBe(planOf(m.id).country);
      expect(typeof m.distanceKm).toBe('number');
    }
    // Sorting by score keeps the order, the pick included (equally near mirrors share a score).
    const scores = list.mirrors.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(new Set(list.mirrors.map((m) => m.id))).toEqual(new Set(['de-berlin', 'br-sp', 'jp-tokyo-a', 'jp-tokyo-b', 'au-sydney']));
    expect(list.excluded).toEqual(
      expect.arrayContaining([
        { id: 'fr-paris', reason: 'missing-file' },
        { id: 'us-east', reason: 'missing-file' },
        { id: 'nl-ams', reason: 'country-only' },
      ]),
    );
    expect(list.excluded).toHaveLength(3);
  });

  it('JSON for an origin-only file lists no mirror and every exclusion', async () => {
    const list = await mirrorList('originOnly', from('DE'));
    expect(list.mirrors).toEqual([]);
    const reasons = new Map(list.excluded.map((e) => [e.id, e.reason]));
    for (const p of MIRROR_PLANS) expect(reasons.get(p.id), p.id).toBe(p.countryOnly ? 'country-only' : 'missing-file');
  });

  it('&fromip= is for staff: the answer another address would get', async () => {
    const url = downloadUrl('readme', `?mirrorlist&fromip=${CLIENT_IPS.JP.ip}`);
    const staff = await ask(url, from('DE', { Accept: 'application/json', Authorization: `Bearer ${STAFF_TOKEN}` }));
    expect(staff.status).toBe(200);
    const list = (await staff.json()) as MirrorListJson;
    expect(list.client).toMatchObject({ ip: CLIENT_IPS.JP.ip, country: 'JP' });
    expect(['jp-tokyo-a', 'jp-tokyo-b']).toContain(list.mirrors[0]!.id);

    const auths: Record<string, string>[] = [{}, { Authorization: `Bearer ${PROVIDER_TOKEN}` }, { Authorization: 'Bearer wrong-token-wrong-token' }];
    for (const auth of auths) {
      const res = await ask(url, from('DE', { Accept: 'application/json', ...auth }));
      expect(res.status, JSON.stringify(auth)).toBe(403);
    }
    const bad = await ask(downloadUrl('readme', '?mirrorlist&fromip=not-an-address'), from('DE', { Authorization: `Bearer ${STAFF_TOKEN}` }));
    expect(bad.status).toBe(400);
  });

  it('HTML', async () => {
    const res = await ask(downloadUrl('iso', '?mirrorlist'), from('FR', { Accept: 'text/html' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('tiny.iso');
    expect(html).toContain('Spree Hosting Berlin');
    expect(html).toContain(unescapeHtml(mirrorUrl('de-berlin', 'iso')));
    expect(html).toContain('country-only');
    expect(html).toContain('missing-file');
  });

  it('text/plain: apt mirror+http format', async () => {
    const res = await ask(downloadUrl('readme', '?mirrorlist'), from('US_EAST', { Accept: 'text/plain' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(2);
    lines.forEach((line, i) => {
      const m = /^(\S+)\tpriority:(\d+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m![2])).toBe(i + 1);
      expect(mirrorOfUrl(m![1]!), line).toBeDefined();
    });
    expect(lines[0]).toBe(`${mirrorUrl('us-east', 'readme')}\tpriority:1`);
    expect(lines.join('\n')).not.toContain(net.mirrors['nl-ams']!.baseUrl);
  });
});

describe('?sha256 and metalinks', () => {
  it('?sha256 → "<hex>  <file name>"', async () => {
    for (const key of ['readme', 'unicode', 'punctuation'] as FileKey[]) {
      const res = await ask(downloadUrl(key, '?sha256'), from('DE'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      const name = FILES[key].slice(FILES[key].lastIndexOf('/') + 1);
      expect((await res.text()).trimEnd()).toBe(`${net.files[key].sha256}  ${name}`);
    }
  });

  for (const form of ['.meta4', '?metalink'] as const) {
    it(`${form}: Metalink v4 with size, sha-256 and one url per candidate`, async () => {
      const res = await ask(downloadUrl('unicode', form), from('DE'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/metalink4\+xml/);
      const doc = parseMetalink(await res.text());
      const f = net.files.unicode;
      expect(doc.xmlns).toBe('urn:ietf:params:xml:ns:metalink');
      expect(doc.name).toBe('file name.txt');
      expect(Number(doc.size)).toBe(f.size);
      expect(doc.hash).toEqual({ type: 'sha-256', value: f.sha256 });
      const list = await mirrorList('unicode', from('DE'));
      expect(doc.urls.map((u) => u.url)).toEqual(list.mirrors.map((m) => m.url));
      doc.urls.forEach((u, i) => {
        expect(u.priority).toBe(String(i + 1));
        expect(u.location).toBe(planOf(mirrorOfUrl(u.url)!).country.toLowerCase());
      });
      expect(doc.urls[0]!.url).toBe(mirrorUrl('de-berlin', 'unicode'));
      // RFC 5854 §4.2.9: where a fresh list is, for a client that keeps the metalink.
      expect(doc.origin).toEqual({ url: `${net.url}/download/${encodePath(FILES.unicode)}.meta4`, dynamic: 'true' });
    });
  }

  it("metalink escapes names and URLs with &, ', ( ) and +", async () => {
    const res = await ask(downloadUrl('punctuation', '.meta4'), from('FR'));
    expect(res.status).toBe(200);
    const doc = parseMetalink(await res.text());
    expect(doc.name).toBe("a+b & c's (draft).txt");
    expect(doc.urls[0]!.url).toBe(mirrorUrl('fr-paris', 'punctuation'));
    expect(doc.hash?.value).toBe(net.files.punctuation.sha256);
  });

  it('Content-Disposition of a metalink names the file for every client: filename=, and RFC 8187 filename* where it is not ASCII', async () => {
    for (const key of ['unicode', 'punctuation', 'readme'] as FileKey[]) {
      const res = await ask(downloadUrl(key, '.meta4'), from('FR'));
      const cd = res.headers.get('content-disposition')!;
      const name = FILES[key].slice(FILES[key].lastIndexOf('/') + 1);
      // The parser that Express and others use: it reads filename* over filename, and throws on a malformed header.
      expect(parseContentDisposition(cd).parameters.filename, cd).toBe(`${name}.meta4`);
      expect(cd, key).toMatch(/^inline; filename=/);
      const ext = /filename\*=([^;]*)/i.exec(cd);
      // RFC 8187 attr-char allows none of ' ( ) * — and a raw ' is the ext-value delimiter.
      if (ext) expect(ext[1], `${key}: ${cd}`).toMatch(/^UTF-8''(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])+$/);
      else expect(name, `${key}: ${cd}`).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  it('metalink of an origin-only file points at the origin', async () => {
    const res = await ask(downloadUrl('originOnly', '.meta4'), from('DE'));
    expect(res.status).toBe(200);
    const doc = parseMetalink(await res.text());
    expect(doc.urls.map((u) => u.url)).toEqual([originUrl('originOnly')]);
    expect(doc.hash?.value).toBe(net.files.originOnly.sha256);
  });
});

describe('origin fallback, 404 and 400', () => {
  it('a file on no mirror → 302 to the origin copy', async () => {
    const res = await ask(downloadUrl('originOnly'), from('DE'));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(originUrl('originOnly'));
    expect(res.headers.get('x-mirrorgate-mirror')).toBe('origin');
    expect(res.headers.get('digest')).toBe(`SHA-256=${net.files.originOnly.sha256Base64}`);
    // And the origin really serves it.
    const body = Buffer.from(await (await fetch(res.headers.get('location')!)).arrayBuffer());
    expect(body.length).toBe(net.files.originOnly.size);
  });

  it('a path not in the file set → 404', async () => {
    for (const p of [
      'pub/nope.txt',
      'pub/README.txt.bak',
      'incoming/only-on-origin.bin.meta4x',
      'PUB/README.txt',
      'pub/nope.txt.meta4',
      'pub/README.txt.meta4.meta4',
    ]) {
      const res = await ask(`${net.url}/download/${p}`, from('DE'));
      expect(res.status, p).toBe(404);
      expect(res.headers.get('location')).toBeNull();
      // Worded for the client's Accept and true only now: no shared cache keeps it.
      expect(res.headers.get('vary'), p).toBe('Accept');
      expect(res.headers.get('cache-control'), p).toBe('no-store');
    }
    // A folder is no file either: named without its slash, it is sent to its own listing, never to a mirror.
    const folder = await ask(`${net.url}/download/pub`, from('DE'));
    expect(folder.status).toBe(301);
    expect(folder.headers.get('location')).toBe('/download/pub/');
  });

  const badTargets: [string, string][] = [
    ['/download/pub/../pub/README.txt', 'raw ..'],
    ['/download/../admin/v1/mirrors', 'raw .. out of /download'],
    ['/download/pub/releases/../../../etc/passwd', 'raw ../../..'],
    ['/download/pub/%2e%2e/pub/README.txt', '%2e%2e'],
    ['/download/pub/%2E%2E/pub/README.txt', '%2E%2E'],
    ['/download/pub/.%2e/pub/README.txt', '.%2e'],
    ['/download/%2e%2e/admin', '%2e%2e out of /download'],
    ['/download/pub/%252e%252e/pub/README.txt', 'double-encoded %252e%252e'],
    ['/download/pub/README.txt%00', '%00'],
    ['/download/pub/READ%00ME.txt', '%00 inside'],
    ['/download/pub\\README.txt', 'raw backslash'],
    ['/download/pub%5cREADME.txt', '%5c'],
    ['/download/pub%5CREADME.txt', '%5C'],
    ['/download/pub/%255cREADME.txt', 'double-encoded %255c'],
    ['/download/pub%2fREADME.txt', 'encoded slash'],
    ['/download//etc/passwd', 'leading slash'],
    ['/download/pub//README.txt', 'empty segment'],
    ['/download/pub/%C3%28.txt', 'bad UTF-8'],
    ['/download/pub/%zz.txt', 'bad escape'],
    [`/download/pub/${'a'.repeat(1100)}`, '1025+ bytes'],
    [`/download/pub/${'%C3%9C'.repeat(520)}`, '1025+ bytes once decoded'],
    [`/download/${'x/'.repeat(600)}f`, '1025+ bytes of segments'],
  ];
  for (const [target, why] of badTargets) {
    it(`bad path (${why}) → 400, never a Location`, async () => {
      for (const method of ['GET', 'HEAD']) {
        for (const accept of ['*/*', 'text/html']) {
          const res = await rawRequest(net.url, target, { method, headers: { ...from('DE'), Accept: accept } });
          expect(res.status, `${method} ${target} (${accept})`).toBe(400);
          expect(res.headers.location).toBeUndefined();
          expect(res.headers.link).toBeUndefined();
        }
      }
      for (const q of ['?mirrorlist', '?metalink', '?sha256', '?direct']) {
        const res = await rawRequest(net.url, target + q, { headers: from('DE') });
        expect(res.status, target + q).toBe(400);
        expect(res.headers.location).toBeUndefined();
      }
    });
  }

  it('odd request targets never redirect anywhere but a configured mirror or the origin', async () => {
    const targets = [
      '//evil.example/download/pub/README.txt',
      'http://evil.example/download/pub/README.txt',
      '/./download/pub/README.txt',
      '/x/../download/pub/README.txt',
      '/download%2fpub/README.txt',
      '/%64ownload/pub/README.txt',
      '/download/pub/README.txt;x=1',
      '/download/pub/README.txt?mirror=//evil.example/',
      '/download/pub/README.txt?mirror=../../admin',
    ];
    for (const target of targets) {
      const res = await rawRequest(net.url, target, { headers: from('DE') });
      const location = res.headers.location;
      if (location !== undefined) expect(mirrorOfUrl(location), `${target} → ${location}`).toBeDefined();
      expect(res.status, target).not.toBe(500);
    }
  });

  it('the 400 carries a short reason', async () => {
    const res = await rawRequest(net.url, '/download/pub/../etc/passwd', { headers: from('DE') });
    expect(res.status).toBe(400);
    expect(res.body.length).toBeGreaterThan(0);
    expect(res.body.length).toBeLessThan(200);
  });

  it("a raw backslash and a path over 8 KB get the 400 with its reason too (not the adapter's bare 400 or a 414)", async () => {
    const backslash = await rawRequest(net.url, '/download/pub\\README.txt', { headers: from('DE') });
    expect(backslash.status).toBe(400);
    expect(backslash.body).toContain('backslash');
    const page = await rawRequest(net.url, '/download/pub\\README.txt', { headers: from('DE', { Accept: 'text/html' }) });
    expect(page.status).toBe(400);
    expect(page.headers['content-type']).toContain('text/html');
    // A backslash in the query is no path problem.
    const query = await rawRequest(net.url, '/download/pub/README.txt?x=\\y', { headers: from('DE') });
    expect(query.status).toBe(302);
    const long = await rawRequest(net.url, `/download/pub/${'a'.repeat(9000)}`, { headers: from('DE') });
    expect(long.status).toBe(400);
    expect(long.body).toContain('path too long');
    expect(long.headers.location).toBeUndefined();
  });

  it('an absolute-form target (RFC 9112 §3.2.2) and a prefix spelled with escapes get the answer of the plain target', async () => {
    const host = new URL(net.url).host;
    const plain = await rawRequest(net.url, '/download/pub/README.txt', { headers: from('DE') });
    expect(plain.status).toBe(302);
    for (const target of [`http://${host}/download/pub/README.txt`, '/%64ownload/pub/README.txt', `http://${host}/%64ownload/pub/README.txt`]) {
      const res = await rawRequest(net.url, target, { headers: from('DE') });
      expect(res.status, target).toBe(302);
      expect(res.headers.location, target).toBe(plain.headers.location);
    }
    const missing = await rawRequest(net.url, `http://${host}/download/pub/nope.txt`, { headers: from('DE') });
    expect(missing.status).toBe(404);
    const bad = await rawRequest(net.url, `http://${host}/download/pub/../pub/README.txt`, { headers: from('DE') });
    expect(bad.status).toBe(400);
    const list = await rawRequest(net.url, `http://${host}/download/pub/README.txt?mirrorlist`, { headers: from('DE', { Accept: 'application/json' }) });
    expect((JSON.parse(list.body) as { file: { path: string } }).file.path).toBe('pub/README.txt');
  });

  it('downloads are read-only: other methods get 405 with Allow, OPTIONS a 204 with the same list', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await rawRequest(net.url, '/download/pub/README.txt', { method, headers: from('DE') });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow, method).toBe('GET, HEAD, OPTIONS');
      expect(res.headers.location).toBeUndefined();
    }
    const options = await rawRequest(net.url, '/download/pub/README.txt', { method: 'OPTIONS', headers: from('DE') });
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, OPTIONS');
  });

  it('a mirror list asked for a path that is neither file nor folder: 404 "not in the file set"', async () => {
    for (const accept of ['application/json', 'text/plain']) {
      const res = await rawRequest(net.url, '/download/pub/nope/Release?mirrorlist', { headers: from('DE', { Accept: accept }) });
      expect(res.status, accept).toBe(404);
      expect(res.body, accept).toContain('not in the file set');
    }
  });

  it('a path of exactly 1024 bytes is not refused as too long (it is just not in the file set)', async () => {
    const target = `/download/pub/${'a'.repeat(1024 - 4)}`;
    const res = await rawRequest(net.url, target, { headers: from('DE') });
    expect(res.status).toBe(404);
  });
});

describe('stickiness and weights', () => {
  it('the same client and file get the same mirror 20 times in a row', async () => {
    for (const who of ['JP', 'SG', 'IN'] as ClientIpKey[]) {
      for (const key of ['readme', 'tarball', 'iso'] as FileKey[]) {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) seen.add(await chosenFor(key, from(who)));
        expect(seen.size, `${who} ${key}: ${[...seen].join(',')}`).toBe(1);
      }
    }
  });

  it('a second instance on the same config gives the same answers (no shared state)', async () => {
    // The same config, but a dataDir of its own: two instances never share one memory store (it is locked).
    const twin = await net.startServer({ mutate: (c) => (c.publicUrl = net.url) });
    const keys: FileKey[] = ['readme', 'tarball', 'iso', 'unicode', 'stale'];
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const ip = `133.11.${1 + (i % 7)}.${1 + i}`;
      for (const key of keys) {
        const a = await chosenFor(key, from(ip));
        const b = await chosenFor(key, from(ip), twin.url);
        expect(b, `${ip} ${key}`).toBe(a);
        seen.add(a);
      }
    }
    // Not trivially the same mirror for everyone.
    expect(seen).toEqual(new Set(['jp-tokyo-a', 'jp-tokyo-b']));
  });

  it('two equally near mirrors weighted 3:1 share the traffic about 3:1', async () => {
    const counts = new Map<string, number>();
    const ips = Array.from({ length: 400 }, (_, i) => `133.11.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`);
    for (let at = 0; at < ips.length; at += 25) {
      const batch = await Promise.all(ips.slice(at, at + 25).map((ip) => chosenFor('readme', from(ip))));
      for (const id of batch) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const a = counts.get('jp-tokyo-a') ?? 0;
    const b = counts.get('jp-tokyo-b') ?? 0;
    expect(a + b, JSON.stringify([...counts])).toBe(400);
    expect(b).toBeGreaterThan(0);
    expect(a).toBeGreaterThan(b);
    // 3:1 is a 75% share; 400 draws put it within ±4 standard deviations of 0.6..0.9.
    expect(a / 400).toBeGreaterThan(0.6);
    expect(a / 400).toBeLessThan(0.9);
  });
});

describe('origin index refresh without restart', () => {
  async function pollStatus(url: string, headers: Record<string, string>, want: number, timeoutMs = 15_000): Promise<Response> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await ask(url, headers);
      if (res.status === want || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('a file appended to the origin manifest is served from the origin until a mirror shows it, never 404', async () => {
    const before = await ask(`${net.url}/download/incoming/new-release.bin`, from('US_EAST'));
    expect(before.status).toBe(404);
    const beforePub = await ask(`${net.url}/download/pub/releases/v1.1/app-1.1.tar.gz`, from('US_EAST'));
    expect(beforePub.status).toBe(404);

    // The manifest's mtime has 1 ms resolution or better, but make sure the stamp really moves.
    await new Promise((r) => setTimeout(r, 20));
    const fresh = await net.addOriginFile('incoming/new-release.bin', randomBytes(12_345));
    const freshPub = await net.addOriginFile('pub/releases/v1.1/app-1.1.tar.gz', randomBytes(23_456));

    const res = await pollStatus(`${net.url}/download/incoming/new-release.bin`, from('US_EAST'), 302);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(net.origin.baseUrl + fresh.path);
    expect(res.headers.get('digest')).toBe(`SHA-256=${fresh.sha256Base64}`);

    // Its mtime is as old as every other file's (copied in with its mtime kept), and every mirror's rules
    // cover pub/: none has it, since none has synced (or been scanned) since it arrived.
    for (const place of ['US_EAST', 'DE', 'JP'] as const) {
      const pub = await ask(`${net.url}/download/${freshPub.path}`, from(place));
      expect(pub.status).toBe(302);
      expect(pub.headers.get('location')).toBe(net.origin.baseUrl + freshPub.path);
      expect(mirrorOfUrl(pub.headers.get('location')!)).toBe('origin');
    }
    // ?mirrorlist says why: the mirrors miss a new file (they hold no older copy of it).
    const listed = await ask(`${net.url}/download/${freshPub.path}?mirrorlist`, { ...from('DE'), Accept: 'application/json' });
    const list = (await listed.json()) as MirrorListJson;
    expect(list.mirrors).toEqual([]);
    expect(list.excluded.length).toBeGreaterThan(0);
    expect(list.excluded.filter((e) => e.reason === 'stale-copy')).toEqual([]);
  });
});

describe('a file changed at the origin', () => {
  it('leaves a mirror whose manifest lists the old copy, and the new hash is announced', async () => {
    // The last test touching FILES.punctuation: it changes that file for good.
    expect(await chosenFor('punctuation', from('US_EAST'))).toBe('us-east');
    const old = net.files.punctuation;
    const changed = await net.changeOriginFile('punctuation', Buffer.from(`new edition\n${'x'.repeat(6000)}`), old.mtime + 3600);
    const deadline = Date.now() + 15_000;
    let res = await ask(downloadUrl('punctuation'), from('US_EAST'), 'HEAD');
    while (res.headers.get('digest') !== `SHA-256=${changed.sha256Base64}` && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      res = await ask(downloadUrl('punctuation'), from('US_EAST'), 'HEAD');
    }
    expect(res.headers.get('digest')).toBe(`SHA-256=${changed.sha256Base64}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('x-mirrorgate-mirror')).not.toBe('us-east');
    const list = await mirrorList('punctuation', from('US_EAST'));
    expect(list.file).toMatchObject({ size: changed.size, sha256: changed.sha256, mtime: changed.mtime });
    // It still holds the old edition: a stale copy, not a missing file.
    expect(list.excluded).toContainEqual({ id: 'us-east', reason: 'stale-copy' });
    // Files that did not change keep their mirrors.
    expect(await chosenFor('readme', from('US_EAST'))).toBe('us-east');
  });
});

describe('health endpoints', () => {
  it('/healthz and /readyz answer 200', async () => {
    expect((await fetch(`${net.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${net.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('/mirrors, HTML or JSON by Accept, says so to caches (Vary: Accept)', async () => {
    for (const accept of ['text/html', 'application/json']) {
      expect((await fetch(`${net.url}/mirrors`, { headers: { Accept: accept } })).headers.get('vary'), accept).toBe('Accept');
    }
  });
});
