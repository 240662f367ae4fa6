// The download interstitial in headless Chromium: sponsor logo, a download that starts by itself with and without JavaScript, choosing and remembering another mirror, keyboard use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { clientContext, launchChromium, mirrorForUrl, PHONE, screenshot, type MirrorHit } from '../support/browser.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { serveDemo } from '../support/network.js';

const launched = await launchChromium();
const FILE = 'apache/kafka/4.1.0/kafka_2.13-4.1.0.tgz';
const DE = CLIENT_IPS.DE.ip;
/** Newer at the origin than on any demo mirror. */
const ORIGIN_ONLY = 'libreoffice/testing/26.8.2/deb/x86_64/LibreOffice_26.8.2.1_Linux_x86-64_deb.tar.gz';

describe.skipIf(!launched.browser)('download page in Chromium', () => {
  const browser = launched.browser as Browser;
  let server: RunningServer;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await serveDemo();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  async function open(
    opts: Parameters<typeof clientContext>[3] = {},
    path = `/download/${FILE}`,
  ): Promise<{ page: Page; hits: MirrorHit[]; download: Promise<Download> }> {
    const { context, hits } = await clientContext(browser, server, DE, opts);
    contexts.push(context);
    const page = await context.newPage();
    const download = page.waitForEvent('download', { timeout: 15_000 });
    download.catch(() => {}); // tests that do not wait for the download must not leave a rejection behind
    await page.goto(server.url + path);
    return { page, hits, download };
  }

  async function directTarget(page: Page): Promise<string> {
    const href = await page.locator('#direct-link').getAttribute('href');
    expect(href).toBeTruthy();
    return href!;
  }

  it('shows the sponsor logo, name and link, and the file facts', async () => {
    const { page } = await open();
    await expect.poll(() => page.locator('.logo img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(await page.locator('.logo img').getAttribute('alt')).toBe('Mainbrücke Hosting logo');
    expect(await page.locator('h1').innerText()).toMatch(/sponsored by\s+Mainbrücke Hosting/);
    expect(await page.locator('.sponsor-link a').getAttribute('href')).toBe('https://mainbruecke-hosting.example/');
    expect(await page.locator('#file-heading').innerText()).toContain('kafka_2.13-4.1.0.tgz');
    expect(await page.locator('dl.facts').innerText()).toMatch(
      /129 MB[\s\S]*128,518,286 bytes[\s\S]*9b0dfe558cf6641d351cc9266e7375324737cd381f15beae668228435d5af122/,
    );
    await screenshot(page, 'download-desktop-light');
  });

  it('starts the download by itself from the chosen mirror, with JavaScript counting down', async () => {
    const { page, hits, download } = await open();
    const target = await directTarget(page);
    expect(mirrorForUrl(server, target)).toBe('mainbruecke-de');
    // The script ran: a visible countdown.
    await expect.poll(() => page.locator('.countdown').count()).toBe(1);
    const started = await download;
    expect(started.url()).toBe(target);
    expect(hits.map((h) => h.url)).toEqual([target]);
    // The page stays (the file downloads), and says so.
    expect(page.url()).toBe(`${server.url}/download/${FILE}`);
    await expect.poll(() => page.locator('.status').innerText()).toMatch(/Starting your download|should have started/);
  });

  it('starts the download by itself without JavaScript (meta refresh)', async () => {
    const { page, hits, download } = await open({ javaScriptEnabled: false });
    const target = await directTarget(page);
    expect(await page.locator('.countdown').count()).toBe(0);
    expect(await page.locator('.status').innerText()).toBe('Your download will start in a moment.');
    const started = await download;
    expect(started.url()).toBe(target);
    expect(hits.map((h) => h.url)).toEqual([target]);
    await screenshot(page, 'download-desktop-nojs');
  });

  it('lets the visitor cancel the automatic download where JavaScript runs', async () => {
    const { page, hits } = await open();
    expect(await page.locator('.status-text').innerText()).toBe('Your download will start in 3 seconds.');
    await page.getByRole('button', { name: 'Cancel the automatic download' }).click();
    expect(await page.locator('.status').innerText()).toMatch(/cancelled/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('direct-link');
    await page.waitForTimeout(4_500);
    expect(hits).toEqual([]);
    expect(page.url()).toBe(`${server.url}/download/${FILE}`);
  });

  it('lets the visitor choose another mirror, nearest first, and downloads from it', async () => {
    const { page } = await open({ javaScriptEnabled: false });
    const items = page.locator('ul.choices li');
    const meta = await items.locator('.meta').allInnerTexts();
    expect(meta.length).toBeGreaterThan(1);
    const km = meta.map((t) => Number(/([\d,]+) km/.exec(t)![1]!.replace(/,/g, '')));
    expect(km).toEqual([...km].sort((a, b) => a - b));
    // The Berlin client is placed by the bundled DB-IP City Lite data; Amsterdam is the nearest other mirror.
    expect(meta[0]).toMatch(/^Netherlands · 5\d\d km$/);
    // Without JavaScript the remember checkbox would do nothing, so it is not shown.
    expect(await page.locator('#remember').isVisible()).toBe(false);

    const next = page.waitForEvent('download', { predicate: (d) => mirrorForUrl(server, d.url()) === 'polder-nl', timeout: 15_000 });
    await page.getByRole('link', { name: 'Polderlink Amsterdam' }).click();
    await page.waitForURL(/\?mirror=polder-nl$/);
    expect(await page.locator('dl.facts').innerText()).toContain('Polderlink Amsterdam');
    const target = await directTarget(page);
    expect(mirrorForUrl(server, target)).toBe('polder-nl');
    expect((await next).url()).toBe(target);
    // The mirror it came from is now among the others.
    expect(await page.locator('ul.choices').innerText()).toContain('Mainbrücke Hosting Frankfurt');

    // Remembering without JavaScript: a button on the page of the mirror just chosen; no second download.
    const context = page.context();
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.url()));
    await page.getByRole('button', { name: 'Always use Polderlink Amsterdam on this device' }).click();
    await page.waitForURL(/\?mirror=polder-nl&remember=1&start=0$/);
    expect((await context.cookies()).find((c) => c.name === 'mirrorgate_mirror')?.value).toBe('polder-nl');
    expect(await page.locator('.status').innerText()).toMatch(/Saved: this browser asks for Polderlink Amsterdam first/);
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    await page.waitForTimeout(1_000);
    expect(downloads).toEqual([]);
  });

  it('remembers the choice in a cookie with the checkbox, and forgets it', async () => {
    const { page } = await open();
    const context = page.context();
    expect((await context.cookies()).some((c) => c.name === 'mirrorgate_mirror')).toBe(false);
    await page.getByLabel('Remember my choice on this device').check();
    const link = page.getByRole('link', { name: 'Polderlink Amsterdam' });
    expect(await link.getAttribute('href')).toBe(`/download/${FILE}?mirror=polder-nl&remember=1`);
    await link.click();
    await page.waitForURL(/\?mirror=polder-nl&remember=1$/);
    const cookie = (await context.cookies()).find((c) => c.name === 'mirrorgate_mirror');
    expect(cookie).toMatchObject({ value: 'polder-nl', httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000 + 300 * 86_400);
    expect(await page.locator('.remembered').innerText()).toContain('Polderlink Amsterdam');
    // Unticking takes remember=1 off the links again.
    await page.getByLabel('Remember my choice on this device').check();
    await page.getByLabel('Remember my choice on this device').uncheck();
    expect(await page.locator('a[data-mirror]').first().getAttribute('href')).toMatch(/\?mirror=[a-z0-9-]+$/);
    await screenshot(page, 'download-remembered');

    await page.getByRole('link', { name: 'Forget this choice' }).click();
    await page.waitForURL(/\?forget$/);
    expect((await context.cookies()).some((c) => c.name === 'mirrorgate_mirror')).toBe(false);
    // Forgetting is not a request for another download.
    expect(await page.locator('.countdown').count()).toBe(0);
    expect(await page.locator('.status').innerText()).toMatch(/forgotten/);
  });

  it('a link on another site cannot set or clear the remembered mirror (Fetch Metadata: cross-site)', async () => {
    const { page } = await open();
    const context = page.context();
    // A page of no origin of ours, linking to "remember polder-nl".
    const elsewhere = await context.newPage();
    await elsewhere.setContent(`<a id="lure" href="${server.url}/download/${FILE}?mirror=polder-nl&remember=1">free download</a>`);
    await elsewhere.click('#lure');
    await elsewhere.waitForURL(/remember=1$/);
    expect((await context.cookies()).some((c) => c.name === 'mirrorgate_mirror')).toBe(false);
    expect(await elsewhere.locator('body').innerText()).not.toMatch(/Saved:/);
    // The visitor's own click on our page still saves it.
    await page.goto(`${server.url}/download/${FILE}?mirror=polder-nl&remember=1`);
    expect((await context.cookies()).find((c) => c.name === 'mirrorgate_mirror')?.value).toBe('polder-nl');
    // And a foreign link cannot clear it either (a fresh page: the first one is on our origin now).
    const another = await context.newPage();
    await another.setContent(`<a id="lure" href="${server.url}/download/${FILE}?forget">free download</a>`);
    await another.click('#lure');
    await another.waitForURL(/\?forget$/);
    expect((await context.cookies()).find((c) => c.name === 'mirrorgate_mirror')?.value).toBe('polder-nl');
  });

  it('sends a later download to the remembered mirror', async () => {
    const { page, download } = await open({}, `/download/${FILE}?remember=1&mirror=polder-nl`);
    await download;
    await page.goto(`${server.url}/download/${FILE}`);
    expect(mirrorForUrl(server, await directTarget(page))).toBe('polder-nl');
  });

  it('works with the keyboard: skip link first, every control reachable, focus visible', async () => {
    const { page } = await open({ javaScriptEnabled: false });
    const stops: string[] = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      const stop = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        if (el === document.body) return null;
        const style = getComputedStyle(el);
        const label = el.id || el.getAttribute('href') || el.textContent?.trim() || el.tagName;
        return `${el.tagName.toLowerCase()}:${label}${style.outlineStyle === 'none' || style.outlineWidth === '0px' ? ':NO-FOCUS-RING' : ''}`;
      });
      if (stop === null) break; // past the last control
      stops.push(stop);
    }
    expect(stops[0]).toBe('a:#main');
    const order = (pattern: RegExp) => stops.findIndex((s) => pattern.test(s));
    expect(order(/^a:https:\/\/mainbruecke-hosting/)).toBeGreaterThan(0);
    expect(order(/^a:direct-link/)).toBeGreaterThan(order(/^a:https:\/\/mainbruecke-hosting/));
    expect(order(/^a:\/download\/.*\?mirror=polder-nl$/)).toBeGreaterThan(order(/^a:direct-link/));
    expect(stops.filter((s) => s.endsWith('NO-FOCUS-RING'))).toEqual([]);

    // Enter on a focused mirror link chooses it.
    while (!(await page.evaluate(() => (document.activeElement as HTMLElement).getAttribute('data-mirror') === 'polder-nl')))
      await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\?mirror=polder-nl$/);
  });

  it('fits a phone screen, in light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page } = await open({ ...PHONE, colorScheme });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, `download-phone-${colorScheme}`);
    }
    const { page } = await open({ colorScheme: 'dark' });
    await expect.poll(() => page.locator('.logo img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await screenshot(page, 'download-desktop-dark');
  });

  it('falls back to the origin, without a sponsor, for a file no mirror carries yet', async () => {
    const { page, hits, download } = await open({ javaScriptEnabled: false }, `/download/${ORIGIN_ONLY}`);
    expect(await page.locator('h1').innerText()).toMatch(/comes from\s+the origin server/);
    expect(await page.locator('.logo').count()).toBe(0);
    expect(await page.locator('.others').count()).toBe(0);
    const target = await directTarget(page);
    expect(target.startsWith(server.config.origin.baseUrl)).toBe(true);
    expect((await download).url()).toBe(target);
    expect(hits.map((h) => h.url)).toEqual([target]);
  });
});
