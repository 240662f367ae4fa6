// Folder URLs and the pages people land on by mistake: a browsable listing of the file set, HTML 404/400 pages for
// browsers (JSON and text for tools), repository lists — over HTTP, and in Chromium with axe at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { axeViolations, launchChromium, PHONE, screenshot, seriousOnly } from '../support/browser.js';
import { serveDemo } from '../support/network.js';

let server: RunningServer;
const launched = await launchChromium();
const HTML = { Accept: 'text/html,application/xhtml+xml' };

beforeAll(async () => {
  server = await serveDemo();
});
afterAll(async () => {
  await launched.browser?.close();
  await server?.close();
});

const get = (target: string, headers: Record<string, string> = {}) => fetch(server.url + target, { headers, redirect: 'manual' });

describe('folder listings', () => {
  it('lists a folder: subfolders first, then files with size, date and a checksum link', async () => {
    const res = await get('/download/fedora/releases/44/Everything/x86_64/os/repodata/', HTML);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('<html lang="en">');
    expect(body).toContain('Index of /fedora/releases/44/Everything/x86_64/os/repodata/');
    expect(body).toMatch(/<a href="\/download\/fedora\/releases\/44\/Everything\/x86_64\/os\/repodata\/repomd\.xml">repomd\.xml<\/a>/);
    expect(body).toContain('repomd.xml?sha256">checksum</a>');
    expect(body).toContain('href="/download/fedora/releases/44/Everything/x86_64/os/">Parent folder</a>');
  });

  it('answers JSON to Accept: application/json, and the top of the file set at /download/', async () => {
    const json = (await (await get('/download/fedora/releases/', { Accept: 'application/json' })).json()) as {
      folder: string;
      folders: { name: string; path: string }[];
      files: unknown[];
    };
    expect(json.folder).toBe('fedora/releases/');
    expect(json.folders.map((f) => f.name)).toEqual(['41', '42', '43', '44']);
    expect(json.folders[0]!.path).toBe('fedora/releases/41/');
    const top = (await (await get('/download/', { Accept: 'application/json' })).json()) as { folders: { name: string }[] };
    expect(top.folders.map((f) => f.name)).toContain('fedora');
  });

  it('links to the mirror list only where a repository index lies below (the list answers 404 elsewhere)', async () => {
    const repo = await (await get('/download/fedora/releases/44/', HTML)).text();
    expect(repo).toContain('href="/download/fedora/releases/44/?mirrorlist"');
    expect((await get('/download/fedora/releases/44/?mirrorlist', HTML)).status).toBe(200);
    const plain = await (await get('/download/apache/', HTML)).text();
    expect(plain).not.toContain('?mirrorlist');
    expect((await get('/download/apache/?mirrorlist', HTML)).status).toBe(404);
  });

  it('sends a folder named without its slash to its listing, and a tool asking for a missing folder gets a 404', async () => {
    const res = await get('/download/fedora/releases', HTML);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/download/fedora/releases/');
    expect((await get('/download/no/such/folder/', { Accept: '*/*' })).status).toBe(404);
  });
});

describe('error pages', () => {
  it('a browser gets an HTML 404 in the site layout pointing at the folder above', async () => {
    const res = await get('/download/fedora/releases/44/nope.iso', HTML);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await res.text();
    expect(body).toContain('<title>Not found · Mirrorgate</title>');
    expect(body).toContain('href="/download/fedora/releases/44/"');
  });

  it('a browser gets an HTML 400 for a bad path; tools keep text, APIs keep JSON', async () => {
    const bad = await get('/download/a%00b', HTML);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<h1>Bad request</h1>');
    const tool = await get('/download/nope.iso', { Accept: '*/*' });
    expect(tool.status).toBe(404);
    expect(await tool.text()).toBe('Not found: not in the file set\n');
    const api = await get('/api/v1/files/nope.iso', HTML);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: string }).error).toBe('not in the file set');
  });
});

const PAGES = [
  { name: 'folder', path: '/download/fedora/releases/44/Everything/x86_64/os/repodata/' },
  { name: 'folder-top', path: '/download/' },
  { name: 'not-found', path: '/download/fedora/releases/44/nope.iso' },
  { name: 'bad-request', path: '/download/a%00b' },
  { name: 'repository-list', path: '/download/fedora/releases/44/?mirrorlist' },
] as const;

describe.skipIf(!launched.browser)('in Chromium: axe-clean, no sideways scrolling on a phone', () => {
  it.each(PAGES.flatMap((p) => [false, true].map((phone) => ({ ...p, phone }))))('$name (phone: $phone)', async ({ name, path, phone }) => {
    const context = await (launched.browser as Browser).newContext({ bypassCSP: true, ...(phone ? PHONE : { viewport: { width: 1280, height: 900 } }) });
    try {
      const page = await context.newPage();
      await page.goto(server.url + path);
      const serious = seriousOnly(await axeViolations(page));
      expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
      const overflow = (await page.evaluate(() => document.documentElement.scrollWidth)) - (phone ? 390 : 1280);
      expect(overflow, 'px of sideways scrolling').toBeLessThanOrEqual(0);
      await screenshot(page, `${name}-${phone ? 'phone' : 'desktop'}`);
    } finally {
      await context.close();
    }
  });
});
