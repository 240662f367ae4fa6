// A provider joins by offer and runs its mirror, in Chromium against two instances on one Redis (database 8):
// the /offer form (without JavaScript, plain-language errors), the secret status link, staff accept with the
// provider's token (shown once), the provider signs in with it on instance A, uploads its logo on /provider,
// and downloaders see that logo on instance B; a sponsor edit keeps it. Every page of the journey is
// axe-clean at 1280 and 390 px, with no sideways scrolling on the phone.
import path from 'node:path';
import { copyFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { axeViolations, launchChromium, PHONE, screenshot, seriousOnly } from '../support/browser.js';
import { STAFF_TOKEN, startNetwork, type LoopbackFileServer, type MirrorNetwork } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';
import { client, type Client } from '../support/requests.js';
import { CLIENT_IPS } from '../support/clientIps.js';

const REDIS_DB = 8;
const launched = await launchChromium();
const skipRedis = launched.browser ? await skipWithoutRedis(REDIS_DB, 'pages/providerJourney: two instances on Redis') : true;

const KE = CLIENT_IPS.KE.ip;
const ORG = 'Savanna & Rift Networks';
const MIRROR_ID = 'savanna-rift-networks-ke';

describe.skipIf(!launched.browser || skipRedis)('a provider who joined by offer, on two instances', () => {
  const browser = launched.browser as Browser;
  let net: MirrorNetwork;
  let nairobi: LoopbackFileServer;
  let a: RunningServer;
  let b: RunningServer;
  let staffA: Client;
  let staffB: Client;
  let logoFile: string;
  const contexts: BrowserContext[] = [];
  let statusPage = '';
  let providerToken = '';

  beforeAll(async () => {
    net = await startNetwork();
    nairobi = await net.extraMirror('nairobi');
    await flushRedis(REDIS_DB);
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    a = await net.startServer({ env });
    b = await net.startServer({ env });
    staffA = client(a.url, STAFF_TOKEN);
    staffB = client(b.url, STAFF_TOKEN);
    logoFile = path.join(net.dir, 'savanna.svg');
    await copyFile(path.resolve('data/logos/fynbos-za.svg'), logoFile);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await net?.close();
    await flushRedis(REDIS_DB).catch(() => {});
  });

  async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext(options);
    // Mirror hosts answer in-browser: the download "starts" without leaving the test.
    await context.route(
      (url) => url.port === String(nairobi.port) || Object.values(net.mirrors).some((m) => url.href.startsWith(m.baseUrl)),
      (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', headers: { 'Content-Disposition': 'attachment' }, body: 'bytes\n' }),
    );
    contexts.push(context);
    return context.newPage();
  }

  const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  it('offers a mirror with the /offer form, without JavaScript: errors in plain words next to their fields, then the status link', async () => {
    const page = await newPage({ javaScriptEnabled: false, extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.77' } });
    await page.goto(`${a.url}/offer`);
    expect(await page.locator('h1').innerText()).toBe('Offer a mirror');
    await page.getByLabel('Organisation').fill(ORG);
    await page.getByLabel('Contact name').fill('Wanjiru Kamau');
    await page.getByLabel('Contact email').fill('noc@savanna.example');
    await page.getByLabel('Country').fill('ke');
    await page.getByLabel('City (optional)').fill('Nairobi');
    await page.getByLabel('Storage (TB)').fill('4');
    await page.getByLabel('Bandwidth (Mbps)').fill('100');
    await page.getByLabel('Peerings (optional)').fill('KIXP, NAPAfrica');
    await page.getByLabel('Download URL (optional)').fill(nairobi.baseUrl);
    await page.getByLabel('rsync URL (optional)').fill('https://not-rsync.example/');
    await page.getByRole('button', { name: 'Send the offer' }).click();

    // Still the form, with every problem said plainly, next to its field and in the summary.
    expect(await page.getByRole('alert').innerText()).toContain('The offer was not sent');
    const storage = page.getByLabel('Storage (TB)');
    expect(await storage.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#offer-storageTB-error').innerText()).toBe('Storage must be at least 8 TB.');
    expect(await page.locator('#offer-bandwidthMbps-error').innerText()).toBe('Bandwidth must be at least 150 Mbps.');
    expect(await page.locator('#offer-rsyncUrl-error').innerText()).toMatch(/^rsync URL must be an rsync:\/\/ URL/i);
    // What was typed is kept.
    expect(await page.getByLabel('Organisation').inputValue()).toBe(ORG);
    expect(await page.getByLabel('Peerings (optional)').inputValue()).toBe('KIXP, NAPAfrica');

    await storage.fill('12');
    await page.getByLabel('Bandwidth (Mbps)').fill('1000');
    await page.getByLabel('rsync URL (optional)').fill('rsync://mirror.savanna.example/pub/');
    await page.getByRole('button', { name: 'Send the offer' }).click();
    await page.waitForURL(/\/offer\/[0-9a-f-]{36}\?key=[\w-]{32}&sent$/);
    expect(await page.getByRole('status').innerText()).toContain('your offer was sent');
    expect(await page.locator('h2#offer-status-heading').innerText()).toBe('Waiting for review');
    statusPage = page.url().replace(/&sent$/, '');
    // The JSON twin, behind the same key; without the key, nothing.
    const id = /\/offer\/([0-9a-f-]{36})/.exec(statusPage)![1]!;
    const key = new URL(statusPage).searchParams.get('key')!;
    const json = await (await fetch(`${b.url}/api/v1/offers/${id}?key=${key}`)).json();
    expect(json).toMatchObject({ id, status: 'offered', organisation: ORG, location: { country: 'KE', city: 'Nairobi' } });
    expect((await fetch(`${b.url}/api/v1/offers/${id}?key=wrong`)).status).toBe(404);
    expect((await fetch(`${b.url}/api/v1/offers/${id}`)).status).toBe(404);
  });

  it('a page on another site cannot file offers through its visitors (the form post is refused, nothing is saved)', async () => {
    const before = ((await staffB.get('/admin/v1/offers')).json.offers as unknown[]).length;
    const page = await newPage({ extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.78' } });
    // A page of no origin of ours, posting the offer form to us when it loads.
    await page.setContent(
      `<form id="f" method="post" action="${a.url}/api/v1/offers"><input name="organisation" value="Lure Ltd"><input name="contactName" value="X"><input name="contactEmail" value="x@lure.example"><input name="country" value="KE"><input name="storageTB" value="12"><input name="bandwidthMbps" value="1000"></form>`,
    );
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/offers')),
      page.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit()),
    ]);
    expect(response.status()).toBe(403);
    expect(((await staffB.get('/admin/v1/offers')).json.offers as unknown[]).length).toBe(before);
  });

  it('staff see base URL, rsync URL and peerings, and accept with the provider token, shown once; the mirror carries the organisation as sponsor', async () => {
    const offers = (await staffB.get('/admin/v1/offers?status=offered')).json.offers as {
      id: string;
      baseUrl: string;
      rsyncUrl: string;
      peerings: string;
      statusKeyHash?: string;
    }[];
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({ baseUrl: nairobi.baseUrl, rsyncUrl: 'rsync://mirror.savanna.example/pub/', peerings: 'KIXP, NAPAfrica' });
    expect(offers[0]!.statusKeyHash).toBeUndefined();
    const accepted = await staffB.post(`/admin/v1/offers/${offers[0]!.id}/accept`, { issueToken: true });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.json.mirror).toMatchObject({ lifecycle: 'syncing', spec: { id: MIRROR_ID, sponsor: { name: ORG } } });
    expect(accepted.json.token).toMatchObject({ name: MIRROR_ID, role: 'provider', mirrors: [MIRROR_ID], token: expect.stringMatching(/^mgt_/) });
    providerToken = accepted.json.token.token;
    // Never shown again.
    expect(JSON.stringify((await staffA.get('/admin/v1/tokens')).json)).not.toContain(providerToken);

    const page = await newPage();
    await page.goto(statusPage.replace(a.url, b.url));
    expect(await page.locator('h2#offer-status-heading').innerText()).toBe('Accepted');
    expect(await page.locator('main').innerText()).toContain(MIRROR_ID);
    // Staff put it in service now (a scan would do it once it holds the files).
    expect((await staffA.post(`/admin/v1/mirrors/${MIRROR_ID}/launch`)).status).toBe(200);
  });

  it('the provider signs in on A with that token, uploads its logo, and downloaders see it on B', async () => {
    const page = await newPage();
    await page.goto(`${a.url}/login`);
    await page.getByLabel('Access token').fill(providerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${a.url}/provider`);
    expect(await page.locator('h1').innerText()).toBe(`${ORG}`);
    expect(await page.locator('.sponsor-preview img').count()).toBe(0);

    // A picture far over the limit is told on the page, in words, not refused as a bare body size.
    const tooBig = path.join(net.dir, 'huge.png');
    await writeFile(tooBig, Buffer.alloc(300 * 1024, 1));
    await page.getByLabel('New logo (SVG, PNG or WebP, up to 60 KB)').setInputFiles(tooBig);
    await page.getByRole('button', { name: `Upload a logo for ${ORG}` }).click();
    await page.waitForURL(`${a.url}/provider`);
    expect(await page.locator('body').innerText()).toMatch(/larger than 60 KB/);

    await page.getByLabel('New logo (SVG, PNG or WebP, up to 60 KB)').setInputFiles(logoFile);
    await page.getByRole('button', { name: `Upload a logo for ${ORG}` }).click();
    await page.waitForURL(`${a.url}/provider`);
    expect(await page.getByRole('status').innerText()).toContain('The new logo');
    const preview = page.locator('.sponsor-preview img');
    await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(await page.locator('.provider-audit').innerText()).toMatch(new RegExp(`${MIRROR_ID}.*logo`, 's'));
    await screenshot(page, 'journey-provider-desktop');

    // A downloader in Kenya, on the other instance.
    const downloader = await newPage({ extraHTTPHeaders: { 'X-Forwarded-For': KE } });
    await vi.waitFor(
      async () => {
        await downloader.goto(`${b.url}/download/pub/README.txt`);
        expect(await downloader.locator('.sponsor-name').innerText()).toBe(ORG);
        const logo = downloader.locator('.sponsor .logo img');
        expect(await logo.getAttribute('src')).toBe(`/logos/${MIRROR_ID}`);
        expect(await logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
      },
      { timeout: 5_000, interval: 200 },
    );
    const served = await fetch(`${b.url}/logos/${MIRROR_ID}`);
    expect(served.headers.get('content-type')).toBe('image/svg+xml');
    expect(served.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
    await screenshot(downloader, 'journey-download-logo-instance-b');
  });

  it('editing other sponsor fields keeps the logo', async () => {
    const r = await staffB.patch(`/admin/v1/mirrors/${MIRROR_ID}`, { sponsor: { url: 'https://savanna.example/' } });
    expect(r.status).toBe(200);
    expect(r.json.spec.sponsor).toEqual({ name: ORG, url: 'https://savanna.example/', logo: expect.stringMatching(/^uploaded:[0-9a-f]{16}$/) });
    const renamed = await staffA.patch(`/admin/v1/mirrors/${MIRROR_ID}`, { sponsor: { name: 'Savanna Rift' } });
    expect(renamed.json.spec.sponsor).toMatchObject({ name: 'Savanna Rift', url: 'https://savanna.example/', logo: r.json.spec.sponsor.logo });
    const page = await newPage({ extraHTTPHeaders: { 'X-Forwarded-For': KE } });
    await vi.waitFor(
      async () => {
        await page.goto(`${b.url}/download/pub/README.txt`);
        expect(await page.locator('.sponsor .logo a img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
      },
      { timeout: 3_000, interval: 200 },
    );
  });

  it('a logo that is not a clean picture is refused with a reason; an SVG loses its script', async () => {
    const put = (body: string | Uint8Array<ArrayBuffer>, type: string, token = providerToken) =>
      fetch(`${a.url}/admin/v1/mirrors/${MIRROR_ID}/logo`, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body });
    expect((await put('GIF89a', 'image/gif')).status).toBe(415);
    const fake = await put('not a png at all', 'image/png');
    expect(fake.status).toBe(422);
    expect(((await fake.json()) as { fields: { logo: string } }).fields.logo).toBe('content is not image/png');
    expect((await put(new Uint8Array(61 * 1024), 'image/png')).status).toBe(422);
    // Well past the 60 KB (and past the API's 64 KB for other bodies): still the upload's own answer.
    const big = await put(new Uint8Array(300 * 1024), 'image/png');
    expect(big.status).toBe(422);
    expect(((await big.json()) as { fields: { logo: string } }).fields.logo).toMatch(/larger than 60 KB/);
    expect((await put(new Uint8Array(2 * 1024 * 1024), 'image/png')).status).toBe(413);
    const ok = await put('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/><script>alert(2)</script></svg>', 'image/svg+xml');
    expect(ok.status).toBe(200);
    let svg = '';
    await vi.waitFor(async () => expect((svg = await (await fetch(`${b.url}/logos/${MIRROR_ID}`)).text())).toContain('<circle'), { timeout: 1_000 });
    expect(svg).not.toMatch(/script|onload/);
    // Another provider's token may not.
    const other = (await staffA.post('/admin/v1/tokens', { name: 'berlin-logo', role: 'provider', mirrors: ['de-berlin'] })).json.token as string;
    expect((await put('<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml', other)).status).toBe(403);
  });

  describe('accessibility of the journey (axe-core), 1280 px and 390 px', () => {
    const pages = ['offer', 'offer-errors', 'offer-status', 'provider', 'mirrorlist'] as const;
    const cases = pages.flatMap((name) => [false, true].map((phone) => ({ name, phone })));
    it.each(cases)('$name (phone: $phone)', async ({ name, phone }) => {
      const page = await newPage({
        bypassCSP: true,
        viewport: phone ? undefined : { width: 1280, height: 900 },
        ...(phone ? PHONE : {}),
        extraHTTPHeaders: { 'X-Forwarded-For': KE },
      });
      if (name === 'offer') await page.goto(`${a.url}/offer`);
      if (name === 'offer-errors') {
        await page.goto(`${a.url}/offer`);
        await page.getByLabel('Storage (TB)').fill('2');
        await page.getByRole('button', { name: 'Send the offer' }).click();
        await page.waitForSelector('#offer-problems');
      }
      if (name === 'offer-status') await page.goto(statusPage);
      if (name === 'provider') {
        await page.goto(`${a.url}/login`);
        await page.getByLabel('Access token').fill(providerToken);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${a.url}/provider`);
      }
      if (name === 'mirrorlist') {
        await page.goto(`${b.url}/download/pub/README.txt?mirrorlist`);
        expect(await page.locator('main').innerText()).toMatch(/doesn't have this file|has an older version|is not answering|is new and not yet in service/);
        expect(await page.getByRole('link', { name: 'Metalink' }).getAttribute('href')).toBe('/download/pub/README.txt.meta4');
        expect(await page.getByRole('link', { name: 'SHA-256 checksum file' }).getAttribute('href')).toBe('/download/pub/README.txt?sha256');
      }
      const serious = seriousOnly(await axeViolations(page));
      expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
      if (phone) expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `journey-${name}-${phone ? 'phone' : 'desktop'}`);
    });
  });
});
