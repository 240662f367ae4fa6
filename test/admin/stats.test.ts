// GET /admin/v1/stats: downloads by mirror, country, day and file, bytes sent on (file sizes) and logo
// impressions — exact numbers after real downloads, each client+file counted once (Range repeats),
// and a provider's view limited to its own mirrors. Also /metrics after those redirects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePath, FILES, PROVIDER_TOKEN, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { browserDownload, client, download, xff, type Client } from '../support/requests.js';
import { CLIENT_IPS } from '../support/clientIps.js';

let net: MirrorNetwork;
let staff: Client;
let provider: Client;

const day = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
/** A window around today, so a test running across midnight UTC still sees every download. */
let window: string;

/** Who was sent where, as the redirects said. */
const served: Record<string, string> = {};

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
  provider = client(net.url, PROVIDER_TOKEN);
  window = `from=${day(-1)}&to=${day(1)}`;

  // 1. A tool in Germany fetches the README, then five Range requests for the same file (a segmented download).
  const first = await download(net.url, 'DE', 'readme');
  expect(first).toMatchObject({ status: 302, mirror: 'de-berlin' });
  for (let i = 0; i < 5; i++) {
    const again = await download(net.url, 'DE', 'readme', { Range: `bytes=${i * 400}-${i * 400 + 399}` });
    expect(again).toMatchObject({ status: 302, mirror: 'de-berlin' });
  }
  // 2. A browser in Germany: the interstitial page with de-berlin's logo (a download and an impression).
  expect(await browserDownload(net.url, 'DE', 'tarball')).toMatchObject({ status: 200, mirror: 'de-berlin' });
  // 3.–5. Tools in France, the US and Japan.
  expect(await download(net.url, 'FR', 'tarball')).toMatchObject({ status: 302, mirror: 'fr-paris' });
  expect(await download(net.url, 'US_EAST', 'unicode')).toMatchObject({ status: 302, mirror: 'us-east' });
  const jp = await download(net.url, 'JP', 'iso');
  expect(jp.status).toBe(302);
  expect(['jp-tokyo-a', 'jp-tokyo-b']).toContain(jp.mirror);
  served.jp = jp.mirror!;
  // 6. A browser in Australia: au-sydney has no sponsor, so a download without an impression.
  expect(await browserDownload(net.url, 'AU', 'tarball')).toMatchObject({ status: 200, mirror: 'au-sydney' });
  // 7. A file only the origin has.
  expect(await download(net.url, 'DE', 'originOnly')).toMatchObject({ status: 302, mirror: 'origin' });
  // 8. Another German client, the same README: a second download.
  expect(await download(net.url, '130.133.2.2', 'readme')).toMatchObject({ status: 302, mirror: 'de-berlin' });

  // Looks that are not downloads: HEAD, mirror lists, metalinks, hashes.
  const look = (query: string, method = 'GET', accept = '*/*') =>
    fetch(`${net.url}/download/${encodePath(FILES.readme)}${query}`, { method, headers: { Accept: accept, ...xff('GB') }, redirect: 'manual' }).then((r) =>
      r.arrayBuffer(),
    );
  await look('', 'HEAD');
  await look('?mirrorlist', 'GET', 'application/json');
  await look('?metalink');
  await look('?sha256');
  await look('', 'HEAD', 'text/html');

  await net.server.stats.flush();
});

afterAll(async () => {
  await net?.close();
});

function sizes() {
  const s = (k: keyof typeof FILES) => net.files[k].size;
  return {
    readme: s('readme'),
    tarball: s('tarball'),
    unicode: s('unicode'),
    iso: s('iso'),
    originOnly: s('originOnly'),
  };
}

interface Stats {
  from: string;
  to: string;
  mirrors: string[] | null;
  byDay: { day: string; downloads: number; bytes: number; impressions: number }[];
  byMirror: { mirror: string; downloads: number; bytes: number; impressions: number }[];
  byCountry: { country: string; downloads: number; bytes: number }[];
  topFiles: { path: string; downloads: number }[];
  totals: { downloads: number; bytes: number; impressions: number };
}

const byKey = <T>(rows: T[], key: (r: T) => string) => Object.fromEntries(rows.map((r) => [key(r), r]));

describe('staff stats', () => {
  it('totals: 8 downloads (the Range repeats counted once), bytes = sum of the file sizes, 1 logo impression', async () => {
    const r = await staff.get(`/admin/v1/stats?${window}`);
    expect(r.status).toBe(200);
    const s = r.json as Stats;
    const z = sizes();
    expect(s.from).toBe(day(-1));
    expect(s.to).toBe(day(1));
    expect(s.mirrors).toBeNull();
    expect(s.totals).toEqual({
      downloads: 8,
      bytes: 2 * z.readme + 3 * z.tarball + z.unicode + z.iso + z.originOnly,
      impressions: 1,
    });
    // byDay sums to the totals (one day, unless the run crossed midnight UTC).
    const summed = s.byDay.reduce((a, d) => ({ downloads: a.downloads + d.downloads, bytes: a.bytes + d.bytes, impressions: a.impressions + d.impressions }), {
      downloads: 0,
      bytes: 0,
      impressions: 0,
    });
    expect(summed).toEqual(s.totals);
    expect(s.byDay.map((d) => d.day).every((d) => d === day() || d === day(-1))).toBe(true);
  });

  it('byMirror: exact downloads, bytes and impressions per mirror (origin included)', async () => {
    const s = (await staff.get(`/admin/v1/stats?${window}`)).json as Stats;
    const z = sizes();
    const rows = byKey(s.byMirror, (r) => r.mirror);
    expect(rows).toEqual({
      'de-berlin': { mirror: 'de-berlin', downloads: 3, bytes: 2 * z.readme + z.tarball, impressions: 1 },
      'fr-paris': { mirror: 'fr-paris', downloads: 1, bytes: z.tarball, impressions: 0 },
      'us-east': { mirror: 'us-east', downloads: 1, bytes: z.unicode, impressions: 0 },
      [served.jp!]: { mirror: served.jp, downloads: 1, bytes: z.iso, impressions: 0 },
      'au-sydney': { mirror: 'au-sydney', downloads: 1, bytes: z.tarball, impressions: 0 },
      origin: { mirror: 'origin', downloads: 1, bytes: z.originOnly, impressions: 0 },
    });
    // Busiest first.
    expect(s.byMirror[0]!.mirror).toBe('de-berlin');
  });

  it('byCountry: exact downloads and bytes per client country', async () => {
    const s = (await staff.get(`/admin/v1/stats?${window}`)).json as Stats;
    const z = sizes();
    expect(byKey(s.byCountry, (r) => r.country)).toEqual({
      DE: { country: 'DE', downloads: 4, bytes: 2 * z.readme + z.tarball + z.originOnly },
      FR: { country: 'FR', downloads: 1, bytes: z.tarball },
      US: { country: 'US', downloads: 1, bytes: z.unicode },
      JP: { country: 'JP', downloads: 1, bytes: z.iso },
      AU: { country: 'AU', downloads: 1, bytes: z.tarball },
    });
    expect(s.byCountry[0]!.country).toBe('DE');
  });

  it('topFiles: downloads per file, busiest first', async () => {
    const s = (await staff.get(`/admin/v1/stats?${window}`)).json as Stats;
    expect(s.topFiles.slice(0, 2)).toEqual([
      { path: FILES.tarball, downloads: 3 },
      { path: FILES.readme, downloads: 2 },
    ]);
    expect(byKey(s.topFiles, (r) => r.path)).toEqual({
      [FILES.tarball]: { path: FILES.tarball, downloads: 3 },
      [FILES.readme]: { path: FILES.readme, downloads: 2 },
      [FILES.unicode]: { path: FILES.unicode, downloads: 1 },
      [FILES.iso]: { path: FILES.iso, downloads: 1 },
      [FILES.originOnly]: { path: FILES.originOnly, downloads: 1 },
    });
  });

  it('?mirror= narrows staff stats to those mirrors', async () => {
    const one = (await staff.get(`/admin/v1/stats?${window}&mirror=fr-paris`)).json as Stats;
    expect(one.mirrors).toEqual(['fr-paris']);
    expect(one.byMirror.map((m) => m.mirror)).toEqual(['fr-paris']);
    expect(one.totals).toEqual({ downloads: 1, bytes: sizes().tarball, impressions: 0 });
    expect(one.byCountry).toEqual([{ country: 'FR', downloads: 1, bytes: sizes().tarball }]);
    const two = (await staff.get(`/admin/v1/stats?${window}&mirror=fr-paris,au-sydney`)).json as Stats;
    expect(two.totals.downloads).toBe(2);
  });

  it('the same client and file again within ten minutes still counts once, across flushes', async () => {
    for (let i = 0; i < 3; i++) expect((await download(net.url, 'DE', 'readme', { Range: 'bytes=0-99' })).status).toBe(302);
    expect((await browserDownload(net.url, 'FR', 'tarball')).status).toBe(200);
    await net.server.stats.flush();
    const s = (await staff.get(`/admin/v1/stats?${window}`)).json as Stats;
    expect(s.totals.downloads).toBe(8);
    // A page view shows the sponsor's name again (fr-paris has a sponsor, no logo), but the file was already counted.
    expect(byKey(s.byMirror, (r) => r.mirror)['fr-paris']!.downloads).toBe(1);
  });

  it('a range with no downloads is all zeros; the default range is the last 30 days', async () => {
    const empty = (await staff.get('/admin/v1/stats?from=2000-01-01&to=2000-01-31')).json as Stats;
    expect(empty).toMatchObject({ byDay: [], byMirror: [], byCountry: [], topFiles: [], totals: { downloads: 0, bytes: 0, impressions: 0 } });
    const dflt = (await staff.get('/admin/v1/stats')).json as Stats;
    expect(dflt.to).toBe(day());
    expect(dflt.from).toBe(day(-30));
    expect(dflt.totals.downloads).toBeGreaterThanOrEqual(8);
  });

  it('bad queries → 400: from after to, not a day, not a calendar day, unknown parameter', async () => {
    expect((await staff.get('/admin/v1/stats?from=2026-02-01&to=2026-01-01')).status).toBe(400);
    const bad = await staff.get('/admin/v1/stats?from=yesterday');
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.fields)).toEqual(['from']);
    expect((await staff.get('/admin/v1/stats?to=2026-13-45x')).status).toBe(400);
    expect((await staff.get('/admin/v1/stats?country=DE')).status).toBe(400);
    // Shaped like a day but not one of the calendar: named as the field it is, not "from is after to".
    for (const [query, field] of [
      ['from=2026-13-01', 'from'],
      ['from=2026-02-30', 'from'],
      ['from=2026-00-10', 'from'],
      ['to=2025-02-29', 'to'],
      ['from=2026-04-31&to=2026-05-01', 'from'],
    ] as const) {
      const r = await staff.get(`/admin/v1/stats?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.json.fields, query).toEqual({ [field]: 'must be a day as YYYY-MM-DD' });
    }
    // A leap day is a day.
    expect((await staff.get('/admin/v1/stats?from=2024-02-29&to=2024-03-01')).status).toBe(200);
  });

  it('a mirror that does not exist → 404 naming it, not zeros; a provider asking for it keeps its 403', async () => {
    const r = await staff.get('/admin/v1/stats?mirror=nosuch');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: 'no mirror "nosuch"' });
    expect((await staff.get('/admin/v1/stats?mirror=de-berlin,nosuch')).json.error).toBe('no mirror "nosuch"');
    expect((await staff.get('/admin/v1/stats?mirror=de-berlin')).status).toBe(200);
    expect((await provider.get('/admin/v1/stats?mirror=nosuch')).status).toBe(403);
  });
});

describe('provider stats', () => {
  it('default scope: only its own mirror — downloads, bytes, impressions, countries', async () => {
    const r = await provider.get(`/admin/v1/stats?${window}`);
    expect(r.status).toBe(200);
    const s = r.json as Stats;
    const z = sizes();
    expect(s.mirrors).toEqual(['de-berlin']);
    expect(s.byMirror).toEqual([{ mirror: 'de-berlin', downloads: 3, bytes: 2 * z.readme + z.tarball, impressions: 1 }]);
    expect(s.totals).toEqual({ downloads: 3, bytes: 2 * z.readme + z.tarball, impressions: 1 });
    // Only the traffic its mirror served: the German origin download is not its.
    expect(s.byCountry).toEqual([{ country: 'DE', downloads: 3, bytes: 2 * z.readme + z.tarball }]);
    const text = JSON.stringify(s);
    for (const other of ['fr-paris', 'us-east', 'au-sydney', 'jp-tokyo', 'origin', FILES.iso, FILES.unicode, FILES.originOnly])
      expect(text).not.toContain(other);
  });

  it('topFiles are limited to the files its mirror served', async () => {
    const s = (await provider.get(`/admin/v1/stats?${window}`)).json as Stats;
    expect(s.topFiles.every((f) => f.path === FILES.readme || f.path === FILES.tarball)).toBe(true);
    // Top files are kept per serving mirror, so a provider sees the files its mirror served.
    expect(s.topFiles).toEqual([
      { path: FILES.readme, downloads: 2 },
      { path: FILES.tarball, downloads: 1 },
    ]);
  });
});

describe('/metrics', () => {
  it('Prometheus text with redirects by mirror, decision time and snapshot age', async () => {
    const res = await fetch(`${net.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE mirrorgate_redirects_total counter$/m);
    const line = (mirror: string) => new RegExp(`^mirrorgate_redirects_total\\{[^}]*mirror="${mirror}"[^}]*\\} (\\d+)$`, 'm');
    for (const mirror of ['de-berlin', 'fr-paris', 'us-east', 'au-sydney', 'origin']) {
      const m = line(mirror).exec(text);
      expect(m, `no redirects line for ${mirror}`).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(1);
    }
    expect(text).toMatch(/^# TYPE mirrorgate_decision_seconds histogram$/m);
    const count = /^mirrorgate_decision_seconds_count\{[^}]*outcome="mirror"[^}]*\} (\d+)$/m.exec(text);
    expect(count).not.toBeNull();
    expect(Number(count![1])).toBeGreaterThanOrEqual(10);
    expect(text).toMatch(/^mirrorgate_decision_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+$/m);
    const age = /^mirrorgate_snapshot_age_seconds (\S+)$/m.exec(text);
    expect(age).not.toBeNull();
    expect(Number(age![1])).toBeGreaterThanOrEqual(0);
    // No token or client address leaks into metrics.
    expect(text).not.toContain(STAFF_TOKEN);
    expect(text).not.toContain(CLIENT_IPS.DE.ip);
  });
});

// Last: it deletes a mirror the tests above count.
describe('a deleted mirror', () => {
  it('keeps its history: ?mirror= still finds its downloads, and "origin" is always a valid filter', async () => {
    expect((await staff.get(`/admin/v1/stats?${window}&mirror=origin`)).status).toBe(200);
    expect((await staff.delete('/admin/v1/mirrors/au-sydney')).status).toBe(204);
    const r = await staff.get(`/admin/v1/stats?${window}&mirror=au-sydney`);
    expect(r.status).toBe(200);
    expect((r.json as Stats).totals.downloads).toBe(1);
    // With no history in the range, the id is told apart from a typo no longer: it names no mirror.
    expect((await staff.get('/admin/v1/stats?from=2001-01-01&to=2001-01-02&mirror=au-sydney')).status).toBe(404);
  });
});
