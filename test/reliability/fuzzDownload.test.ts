// Fuzzing the real app (serve(), once) with generated raw requests — bytes on a socket, so nothing
// normalises the target: download paths, query options, hostile Host / X-Forwarded-For / cookies /
// Accept / Authorization. Never a crash or a 5xx, and a Location (or a Link alternative) only ever
// points into a configured mirror's baseUrl or the origin's — never at anything the request said.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePathForUrl, parseDownloadPath } from '../../src/core/paths.js';
import { encodePath, FILES, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { sendRaw } from './support.js';

let net: MirrorNetwork;
let port: number;
let bases: string[];
let known: Set<string>;

beforeAll(async () => {
  net = await startNetwork();
  port = Number(new URL(net.url).port);
  bases = [net.config.origin.baseUrl, ...net.config.mirrors.map((m) => m.baseUrl)];
  known = new Set(Object.values(FILES));
});

afterAll(async () => {
  await net?.close();
});

const HOSTILE = [
  'http://evil.example/',
  '//evil.example',
  'https:%2F%2Fevil.example',
  'evil',
  '%00',
  '..',
  'javascript:alert(1)',
  '\\\\evil',
  'de-berlin',
  'us-east',
  'nl-ams',
  'DE-BERLIN',
  '',
];

const rawPiece = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'pub',
      'README.txt',
      'releases',
      'v1.0',
      'app-1.0.tar.gz',
      'images',
      'tiny.iso',
      'docs',
      'misc',
      'no-hash.txt',
      'incoming',
      'only-on-origin.bin',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E.',
      '.%2e',
      '%2e',
      '%2f',
      '%2F',
      '%5c',
      '%5C',
      '%00',
      '%',
      '%z',
      '%zz',
      '%c3%28',
      '%e2%82',
      '%ff',
      '%C3%9C',
      '\\',
      '',
      '~',
      '+',
      '&',
      '(',
      ')',
      "'",
      '%20',
      '%252e%252e',
      '%25',
      'Ünïcode (2026)',
      '%C3%9Cn%C3%AFcode%20(2026)',
      'file%20name.txt',
      ':',
      '@',
      'http:',
      'evil.example',
      '.meta4',
      'a'.repeat(300),
      '%41'.repeat(200),
      '\u00e9',
      '\ud83d\ude00',
      '\u202e',
      '\ufeff',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/) },
);

/**
 * Characters an HTTP parser refuses in a target (space, controls, non-ASCII) are percent-encoded
 * (as UTF-8) in most pieces, so most requests reach the app; the rest go raw and meet Node's 400.
 */
function escapeUnsafe(s: string): string {
  return s.replace(/[^\x21-\x7e]/gu, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}
const piece = fc.tuple(rawPiece, fc.nat(9)).map(([s, n]) => (n < 9 ? escapeUnsafe(s) : s));

const downloadPath = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...Object.values(FILES).map(encodePath), ...Object.values(FILES).map((p) => `${encodePath(p)}.meta4`)) },
  { weight: 4, arbitrary: fc.array(piece, { minLength: 1, maxLength: 8 }).map((xs) => xs.join('/')) },
  { weight: 1, arbitrary: fc.array(piece, { minLength: 1, maxLength: 6 }).map((xs) => xs.join('')) },
);

const queryKey = fc.constantFrom(
  'mirror',
  'mirrorlist',
  'direct',
  'sha256',
  'metalink',
  'fromip',
  'forget',
  'remember',
  'start',
  'x',
  'redirect',
  'url',
  'next',
);
const queryValue = fc.oneof(fc.constantFrom(...HOSTILE, '1.1.1.1', '2001:db8::1', '0', '1'), fc.string({ maxLength: 12 }));
const query = fc
  .array(fc.tuple(queryKey, fc.option(queryValue, { nil: undefined }), fc.boolean()), { maxLength: 4 })
  .map((pairs) =>
    pairs.length === 0 ? '' : `?${pairs.map(([k, v, enc]) => (v === undefined ? k : `${k}=${enc ? encodeURIComponent(v) : escapeUnsafe(v)}`)).join('&')}`,
  );

const addressish = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom('127.0.0.1', '10.0.0.1', '::1', 'unknown', '', 'http://evil.example', '1.2.3.4:80', '[2001:db8::1]:443', '999.1.1.1'),
  fc.string({ maxLength: 12 }),
);
const headers = fc.record(
  {
    Host: fc.constantFrom('127.0.0.1', 'evil.example', 'evil.example:80', '[::1]', 'localhost', `${'h'.repeat(200)}.example`),
    Accept: fc.constantFrom('*/*', 'text/html', 'text/html,application/xhtml+xml', 'application/json', 'text/plain', 'application/metalink4+xml', ''),
    'X-Forwarded-For': fc.array(addressish, { maxLength: 5 }).map((xs) => xs.join(', ')),
    'X-Forwarded-Proto': fc.constantFrom('https', 'http', 'https, http', 'gopher', ''),
    'X-Forwarded-Host': fc.constantFrom('evil.example', 'downloads.example.org'),
    Cookie: fc.oneof(
      fc.constantFrom(
        'mirrorgate_mirror=de-berlin',
        'mirrorgate_mirror=evil',
        'mirrorgate_mirror=http://evil.example',
        'mirrorgate_mirror=au-sydney; mirrorgate_mirror=x',
      ),
      fc.string({ maxLength: 20 }),
    ),
    Authorization: fc.constantFrom(`Bearer ${STAFF_TOKEN}`, 'Bearer ', 'Basic Zm9vOmJhcg==', `bearer  ${STAFF_TOKEN}  `, 'Bearer x'.repeat(50)),
    Range: fc.constantFrom('bytes=0-', 'bytes=-1', 'bytes=a-b'),
  },
  { requiredKeys: ['Host'] },
);

/** Header values go out as UTF-8 bytes; control characters are stripped so the framing stays intact. */
function headerLines(h: Record<string, string | undefined>): string {
  return Object.entries(h)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v!.replace(/[\r\n\0]/g, '')}\r\n`)
    .join('');
}

/** Whether a folder redirect names the folder the target named (however it was spelled). */
function sameFolder(target: string, location: string): boolean {
  const asked = parseDownloadPath(target.slice('/download/'.length).split('?')[0]!);
  const given = parseDownloadPath(location.slice('/download/'.length, -1));
  return asked.ok && given.ok && asked.path === given.path;
}

function checkAnswer(target: string, method: string, status: number, h: Record<string, string>) {
  expect(status, `${method} ${target}`).toBeGreaterThanOrEqual(200);
  expect(status, `${method} ${target}`).toBeLessThan(500);
  const location = h.location;
  // A folder named without its slash is sent to its own listing on this site: the path itself plus "/", nothing else.
  const folderListing = status === 301 && location !== undefined && location.startsWith('/download/') && location.endsWith('/') && sameFolder(target, location);
  if (location !== undefined && !folderListing) {
    expect(
      bases.some((b) => location.startsWith(b)),
      `${method} ${target} → ${location}`,
    ).toBe(true);
    expect(status).toBe(302);
  }
  for (const m of (h.link ?? '').matchAll(/<([^>]*)>; rel=duplicate/g)) {
    expect(
      bases.some((b) => m[1]!.startsWith(b)),
      `Link ${m[1]}`,
    ).toBe(true);
  }
  if (status === 302 && location !== undefined) {
    // The redirect names exactly the file the path named (or its .meta4 twin): base + encoded path.
    const raw = target.slice('/download/'.length).split('?')[0]!;
    const parsed = parseDownloadPath(raw);
    expect(parsed.ok, `redirected a path we refuse: ${raw}`).toBe(true);
    if (parsed.ok) {
      const path = known.has(parsed.path) ? parsed.path : parsed.path.replace(/\.meta4$/, '');
      expect(known.has(path), `redirected a file not in the set: ${parsed.path}`).toBe(true);
      expect(
        bases.some((b) => location === b + encodePathForUrl(path)),
        location,
      ).toBe(true);
    }
  }
}

describe('download paths, query options and headers through the real app', () => {
  it('never a 5xx; a Location always starts with a configured mirror or the origin', async () => {
    await fc.assert(
      fc.asyncProperty(downloadPath, query, headers, fc.constantFrom('GET', 'GET', 'HEAD'), async (p, q, h, method) => {
        const target = `/download/${p}${q}`;
        const request = Buffer.concat([
          Buffer.from(`${method} `),
          Buffer.from(target, 'utf8'),
          Buffer.from(` HTTP/1.1\r\n${headerLines(h)}Connection: close\r\n\r\n`, 'utf8'),
        ]);
        const r = await sendRaw(port, request);
        // A target with bytes no HTTP parser takes is Node's 400, before the app: fine too.
        checkAnswer(target, method, r.status, r.headers);
      }),
      { numRuns: 700 },
    );
  }, 60_000);

  it('hostile ?mirror= / cookie / Host never leak into a Location, for every fixture file', async () => {
    for (const file of Object.values(FILES)) {
      for (const mirror of HOSTILE) {
        const target = `/download/${encodePath(file)}?direct&mirror=${encodeURIComponent(mirror)}`;
        const r = await sendRaw(
          port,
          `GET ${target} HTTP/1.1\r\nHost: evil.example\r\nAccept: */*\r\nCookie: mirrorgate_mirror=evil\r\nX-Forwarded-For: evil.example\r\nConnection: close\r\n\r\n`,
        );
        expect(r.status).toBe(302);
        checkAnswer(target, 'GET', r.status, r.headers);
      }
    }
  });

  it('other routes with generated targets: never a 5xx, never a redirect', async () => {
    const prefix = fc.constantFrom(
      '/',
      '/api/v1/files/',
      '/api/v1/mirrors',
      '/mirrors',
      '/logos/',
      '/assets/',
      '/admin/v1/mirrors/',
      '/admin/v1/stats',
      '/admin/v1/audit',
      '/admin/v1/offers/',
      '/healthz',
      '/readyz',
      '/metrics',
      '/download',
      '//',
      '/%2e%2e/',
    );
    const q = fc.oneof(
      query,
      fc
        .array(fc.tuple(fc.constantFrom('sort', 'dir', 'mirror', 'from', 'to', 'actor', 'since', 'until', 'limit', 'status', 'fromip'), queryValue), {
          maxLength: 3,
        })
        .map((ps) => (ps.length ? `?${ps.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : '')),
    );
    await fc.assert(
      fc.asyncProperty(
        prefix,
        fc.array(piece, { maxLength: 4 }),
        q,
        headers,
        fc.constantFrom('GET', 'HEAD', 'DELETE', 'OPTIONS', 'PUT'),
        async (pre, parts, qs, h, method) => {
          const target = `${pre}${parts.join('/')}${qs}`;
          const request = Buffer.concat([
            Buffer.from(`${method} ${target}`, 'utf8'),
            Buffer.from(` HTTP/1.1\r\n${headerLines(h)}Content-Length: 0\r\nConnection: close\r\n\r\n`),
          ]);
          const r = await sendRaw(port, request);
          expect(r.status, `${method} ${target}`).toBeLessThan(500);
          // The one redirect these targets may get: a folder asked for without its slash, sent to itself with it
          // (same origin, a path of ours). Any other Location, or a download's 302, is a failure.
          const folder = r.status === 301 && target.startsWith('/download/') && /^\/download\/[^?#]*\/$/.test(r.headers.location ?? '');
          if (!folder) expect(r.headers.location, `${method} ${target}`).toBeUndefined();
        },
      ),
      { numRuns: 400 },
    );
  }, 60_000);
});
