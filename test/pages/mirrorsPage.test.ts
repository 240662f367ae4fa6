// /mirrors in headless Chromium: every mirror with its sponsor logo, sorting by a header click (script) and by ?sort= links (no script).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { clientContext, launchChromium, PHONE, screenshot } from '../support/browser.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { serveDemo } from '../support/network.js';

const launched = await launchChromium();

describe.skipIf(!launched.browser)('/mirrors in Chromium', () => {
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

  async function open(path: string, opts: Parameters<typeof clientContext>[3] = {}): Promise<Page> {
    const { context } = await clientContext(browser, server, CLIENT_IPS.DE.ip, opts);
    contexts.push(context);
    const page = await context.newPage();
    const response = await page.goto(server.url + path);
    expect(response?.status()).toBe(200);
    return page;
  }

  const rowIds = (page: Page) => page.locator('table.mirrors tbody tr').evaluateAll((rows) => rows.map((r) => r.id.replace(/^mirror-/, '')));
  const column = (page: Page, key: string) =>
    page.locator('table.mirrors tbody tr').evaluateAll((rows, k) => rows.map((r) => r.getAttribute(`data-${k}`) ?? ''), key);
  const ariaSort = (page: Page) =>
    page.locator('thead th[aria-sort]').evaluateAll((ths) => ths.map((th) => `${th.getAttribute('data-sort-key')}:${th.getAttribute('aria-sort')}`));

  it('lists every mirror with status, country, sponsor logo, sync, share and latency', async () => {
    const page = await open('/mirrors');
    const ids = await rowIds(page);
    expect(ids).toEqual(server.config.mirrors.map((m) => m.id));
    const first = page.locator('#mirror-mainbruecke-de');
    const text = await first.innerText();
    expect(text).toContain('Mainbrücke Hosting Frankfurt');
    expect(text).toContain('Germany');
    expect(text).toContain('Not confirmed yet');
    expect(text).toMatch(/99\.0%/);
    expect(text).toContain('–');
    // Every sponsor logo loaded.
    const widths = await page
      .locator('img.thumb')
      .evaluateAll((imgs) =>
        Promise.all(imgs.map(async (img) => (await (img as HTMLImageElement).decode().catch(() => {}), (img as HTMLImageElement).naturalWidth))),
      );
    expect(widths.length).toBe(server.config.mirrors.filter((m) => m.sponsor?.logo).length);
    expect(widths.every((w) => w > 0)).toBe(true);
    await screenshot(page, 'mirrors-desktop-light');
  });

  it('sorts by a column header click where JavaScript runs, and back again', async () => {
    const page = await open('/mirrors');
    const before = await rowIds(page);
    await page.getByRole('link', { name: 'Share', exact: true }).click();
    await expect.poll(() => ariaSort(page)).toEqual(['share:descending']);
    const byShare = await rowIds(page);
    expect(byShare).not.toEqual(before);
    const shares = (await column(page, 'share')).map(Number);
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
    // Sorted in place: no reload, but the address says how to get this order back.
    expect(page.url()).toBe(`${server.url}/mirrors?sort=share`);
    expect(await page.locator('#sort-status').innerText()).toBe('Sorted by share of files, descending.');

    await page.getByRole('link', { name: 'Share', exact: true }).click();
    await expect.poll(() => ariaSort(page)).toEqual(['share:ascending']);
    const ascending = (await column(page, 'share')).map(Number);
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    expect(page.url()).toBe(`${server.url}/mirrors?sort=share&dir=asc`);

    await page.getByRole('link', { name: 'Mirror', exact: true }).click();
    await expect.poll(() => ariaSort(page)).toEqual(['name:ascending']);
    const names = await page.locator('table.mirrors tbody .mirror-name').allInnerTexts();
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, 'en')));
  });

  it('sorts on the server through ?sort= links without JavaScript, in the same order as the script', async () => {
    const page = await open('/mirrors?sort=country', { javaScriptEnabled: false });
    expect(await ariaSort(page)).toEqual(['country:ascending']);
    const countries = await column(page, 'country');
    expect(countries).toEqual([...countries].sort((a, b) => a.localeCompare(b, 'en')));
    const serverOrder = await rowIds(page);

    await page.getByRole('link', { name: 'Status', exact: true }).click();
    await page.waitForURL(/\/mirrors\?sort=status$/);
    expect(await ariaSort(page)).toEqual(['status:ascending']);

    await page.goto(`${server.url}/mirrors?sort=country&dir=desc`);
    expect(await ariaSort(page)).toEqual(['country:descending']);

    // The script, sorting the unsorted page by the same column, agrees with the server.
    const scripted = await open('/mirrors');
    await scripted.getByRole('link', { name: 'Country', exact: true }).click();
    await expect.poll(() => rowIds(scripted)).toEqual(serverOrder);
  });

  it('ignores an unknown ?sort= and keeps the JSON twin', async () => {
    const page = await open('/mirrors?sort=%3Cscript%3E&dir=sideways', { javaScriptEnabled: false });
    expect(await ariaSort(page)).toEqual([]);
    const res = await fetch(`${server.url}/mirrors`, { headers: { Accept: 'application/json' } });
    const body = (await res.json()) as { mirrors: Record<string, unknown>[] };
    expect(Object.keys(body.mirrors[0]!)).toEqual(
      expect.arrayContaining(['id', 'name', 'url', 'country', 'status', 'sponsor', 'lastSync', 'lagSeconds', 'share', 'files', 'latencyMs']),
    );
  });

  it('sorts with the form on a phone, where the table becomes cards', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await open('/mirrors', { ...PHONE, colorScheme, javaScriptEnabled: false });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      if (colorScheme === 'light') {
        await page.getByLabel('Sort by').selectOption('share');
        await page.getByLabel('Direction').selectOption('desc');
        await page.getByRole('button', { name: 'Sort' }).click();
        await page.waitForURL(/\/mirrors\?sort=share&dir=desc$/);
        const shares = (await column(page, 'share')).map(Number);
        expect(shares).toEqual([...shares].sort((a, b) => b - a));
      }
      await screenshot(page, `mirrors-phone-${colorScheme}`);
    }
    const dark = await open('/mirrors', { colorScheme: 'dark' });
    await screenshot(dark, 'mirrors-desktop-dark');
  });
});
