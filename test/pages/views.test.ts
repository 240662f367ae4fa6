// The page templates escape every value, in text, attributes and URLs, and never link a sponsor by anything but http(s).
import { describe, expect, it } from 'vitest';
import type { MirrorSummary } from '../../src/core/mirrorStatus.js';
import type { RankedMirror } from '../../src/core/present.js';
import { downloadPage, type DownloadPageModel } from '../../src/http/views/downloadPage.js';
import { mirrorsPage, parseMirrorSort, sortMirrors } from '../../src/http/views/mirrorsPage.js';

const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2) '`;

function ranked(id: string, over: Partial<RankedMirror> = {}): RankedMirror {
  return {
    id,
    name: `Mirror ${id}`,
    url: `https://${id}.example/pub/f.iso`,
    country: 'DE',
    https: true,
    distanceKm: 10,
    score: 1,
    priority: 1,
    sponsor: undefined,
    ...over,
  };
}

function model(over: Partial<DownloadPageModel> = {}): DownloadPageModel {
  return {
    file: { path: 'pub/f.iso', size: 1000, sha256: 'ab'.repeat(32) },
    target: 'https://a.example/pub/f.iso',
    chosen: ranked('a'),
    others: [ranked('b', { priority: 2 })],
    selfPath: '/download/pub/f.iso',
    delaySeconds: 3,
    logoUrl: '/logos/a',
    remembered: null,
    autoStart: true,
    notice: null,
    offerRemember: null,
    ...over,
  };
}

const render = async (x: unknown) => String(await x);

/** No markup from the values survived: every < from them is &lt;, no handler attribute was created. */
function expectInert(page: string) {
  expect(page).not.toContain('<script>alert');
  expect(page).not.toMatch(/href="\s*javascript:/i);
  // With every quoted attribute value taken out, no tag may carry a handler attribute.
  const tags = page.replace(/"[^"]*"/g, '""').match(/<[a-z][^>]*>/gi) ?? [];
  expect(tags.filter((t) => /\son[a-z]+\s*=/i.test(t))).toEqual([]);
}

describe('download page template', () => {
  it('escapes hostile names, paths and sponsor fields in every context', async () => {
    const page = await render(
      downloadPage(
        model({
          file: { path: `pub/${EVIL}.iso`, size: 1 },
          chosen: ranked('a', { name: EVIL, sponsor: { name: EVIL, url: `https://ok.example/?q=${EVIL}`, logo: 'x' } }),
          others: [ranked('b', { name: EVIL, country: EVIL })],
          remembered: { id: 'b', name: EVIL },
          offerRemember: { id: 'a', name: EVIL },
          selfPath: '/download/pub/%22%3E.iso',
        }),
      ),
    );
    expectInert(page);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('links a sponsor only by an http(s) URL', async () => {
    for (const url of [
      'javascript:alert(1)',
      ' JavaScript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:x',
      '//evil.example',
      'not a url',
    ]) {
      const page = await render(downloadPage(model({ chosen: ranked('a', { sponsor: { name: 'S', url, logo: 'x' } }) })));
      expectInert(page);
      expect(page).not.toContain('rel="sponsored');
      expect(page).toContain('<img src="/logos/a" alt="S logo"');
    }
  });

  it('has one starter per mode: a noscript meta refresh and the script, or neither after a preference change', async () => {
    const page = await render(downloadPage(model()));
    expect(page).toMatch(/<noscript><meta http-equiv="refresh" content="0; url=https:\/\/a\.example\/pub\/f\.iso"><\/noscript>/);
    expect(page).toContain('<script src="/assets/download.js" defer></script>');
    const quiet = await render(downloadPage(model({ autoStart: false, notice: 'Saved.' })));
    expect(quiet).not.toContain('http-equiv="refresh"');
    expect(quiet).not.toContain('data-delay');
    expect(quiet).toContain('Saved.');
  });

  it('names the origin when no mirror has the file', async () => {
    const page = await render(downloadPage(model({ chosen: undefined, others: [], logoUrl: null })));
    expect(page).toContain('the origin server');
    expect(page).not.toContain('<img');
    expect(page).not.toContain('Choose another mirror');
  });
});

function summary(id: string, over: Partial<MirrorSummary> = {}): MirrorSummary {
  return {
    id,
    name: id,
    url: `https://${id}.example/`,
    country: 'DE',
    continent: 'EU',
    status: 'up',
    reason: null,
    weight: 100,
    bandwidthMbps: null,
    countryOnly: false,
    sponsor: null,
    lastSync: null,
    lagSeconds: null,
    latencyMs: null,
    share: 0.5,
    files: 5,
    ...over,
  };
}

describe('mirrors page template', () => {
  it('escapes hostile mirror and sponsor fields and drops non-http sponsor links', async () => {
    const page = await render(
      mirrorsPage({
        mirrors: [
          summary('a', { name: EVIL, url: 'javascript:alert(1)', reason: EVIL, sponsor: { name: EVIL, url: 'javascript:alert(1)', logo: '/logos/a' } }),
        ],
        fileCount: 10,
        nowMs: 0,
        sort: null,
      }),
    );
    expectInert(page);
  });

  it('reads ?sort= strictly and sorts with missing values last, ties by name', () => {
    expect(parseMirrorSort('share', undefined)).toEqual({ key: 'share', dir: 'desc' });
    expect(parseMirrorSort('name', 'desc')).toEqual({ key: 'name', dir: 'desc' });
    expect(parseMirrorSort('<x>', 'asc')).toBeNull();
    expect(parseMirrorSort(undefined, undefined)).toBeNull();
    const mirrors = [
      summary('c', { latencyMs: null, status: 'down' }),
      summary('b', { latencyMs: 30, status: 'up' }),
      summary('a', { latencyMs: 30, status: 'syncing' }),
      summary('d', { latencyMs: 5, status: 'unknown' }),
    ];
    const ids = (key: Parameters<typeof parseMirrorSort>[0], dir?: string) => sortMirrors(mirrors, parseMirrorSort(key, dir)!).map((m) => m.id);
    expect(ids('latency')).toEqual(['d', 'a', 'b', 'c']);
    expect(ids('latency', 'desc')).toEqual(['a', 'b', 'd', 'c']);
    expect(ids('status')).toEqual(['b', 'a', 'd', 'c']);
  });
});
