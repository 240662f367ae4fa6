import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatManifestProblem,
  parseMirrorManifestText,
  parseOriginManifestText,
  readMirrorManifest,
  readOriginIndex,
  readOriginIndexFrom,
  readOriginManifest,
  quickLineFields,
  schemaLineFields,
  type ManifestProblem,
} from '../../src/control/manifest.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { OriginFile } from '../../src/core/model.js';
import { validateOriginPath } from '../../src/core/paths.js';

const HASH = 'ab'.repeat(32);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirrorgate-manifest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const originLines = [
  '{"path":"projects/debian/12.0/debian 12 (amd64).iso","size":4000000000,"mtime":1700000000,"sha256":"' + HASH.toUpperCase() + '"}',
  '# a comment',
  '{"path":"broken", "size": ',
  '',
  '{"path":"negative","size":-1,"mtime":1700000000}',
  '{"path":"badhash","size":1,"sha256":"xyz"}',
  '{"path":"/projects/debian/12.0/debian 12 (amd64).iso","size":5}',
  '{"path":"iso-mtime","size":2,"mtime":"2024-01-02T03:04:05Z"}',
  '{"path":"ms-mtime","size":3,"mtime":1700000000999}',
  '{"path":"日本/ファイル.txt","size":0}',
  '{"path":"../etc/passwd","size":1}',
  '{"path":"fractional","size":1.5}',
  '{"path":"local-time","size":1,"mtime":"2024-01-02T03:04:05"}',
  '[]',
  '   ',
  '{"path":"last","size":7,"extra":"ignored"}',
];

describe('readOriginManifest', () => {
  it('loads the good lines and reports each bad one with file and line', async () => {
    const file = join(dir, 'origin.jsonl');
    await writeFile(file, `${originLines.join('\n')}\n`);
    const seen: ManifestProblem[] = [];
    const { files, problems } = await readOriginManifest(file, { onProblem: (p) => seen.push(p) });

    expect(files).toEqual([
      // Line 7 names it again (a leading slash is the same path) in another version: the later line is the current one.
      { path: 'projects/debian/12.0/debian 12 (amd64).iso', size: 5 },
      { path: 'iso-mtime', size: 2, mtime: Date.UTC(2024, 0, 2, 3, 4, 5) / 1000 },
      { path: 'ms-mtime', size: 3, mtime: 1_700_000_000 },
      { path: '日本/ファイル.txt', size: 0 },
      { path: 'last', size: 7 },
    ]);
    expect(problems.map((p) => [p.line, p.reason])).toEqual([
      [3, expect.stringMatching(/^malformed JSON/)],
      [5, 'size: expected a non-negative integer'],
      [6, 'sha256: expected 64 hex characters'],
      [7, 'path: replaces line 1 (the later line for a path is its current version; kept without piece hashes)'],
      [11, 'path: path traversal'],
      [12, 'size: expected a non-negative integer'],
      [13, expect.stringMatching(/^mtime: /)],
      [14, 'expected a JSON object'],
    ]);
    expect(problems.every((p) => p.file === file)).toBe(true);
    expect(seen).toEqual(problems);
    expect(formatManifestProblem(problems[0]!)).toMatch(new RegExp(`^${escapeRegExp(file)}:3: malformed JSON`));
  });

  it('reads CRLF files and a leading BOM', async () => {
    const file = join(dir, 'crlf.jsonl');
    await writeFile(file, '\uFEFF{"path":"a","size":1}\r\n\r\n{"path":"b","size":2}\r\n');
    const { files, problems } = await readOriginManifest(file);
    expect(problems).toEqual([]);
    expect(files.map((f) => f.path)).toEqual(['a', 'b']);
  });

  it('rejects a missing file with an error naming it', async () => {
    const file = join(dir, 'nope.jsonl');
    await expect(readOriginManifest(file)).rejects.toThrow(file);
  });

  it('rejects a file it cannot read', async () => {
    await expect(readOriginManifest(dir)).rejects.toThrow(dir);
  });

  it('streams a 200,000-line manifest', async () => {
    const file = join(dir, 'big.jsonl');
    const out = createWriteStream(file);
    for (let i = 0; i < 200_000; i++) {
      const line = `{"path":"projects/p${i % 100}/file-${i}.tar.gz","size":${i},"mtime":${1_600_000_000 + i},"sha256":"${HASH}"}\n`;
      if (!out.write(line)) await new Promise((done) => out.once('drain', done));
    }
    await new Promise<void>((done, fail) => out.end((error?: Error | null) => (error ? fail(error) : done())));
    const { files, problems } = await readOriginManifest(file);
    expect(problems).toEqual([]);
    expect(files).toHaveLength(200_000);
    expect(files[199_999]).toEqual({
      path: 'projects/p99/file-199999.tar.gz',
      size: 199_999,
      mtime: 1_600_199_999,
      sha256: HASH,
    });
  });
});

describe('readMirrorManifest', () => {
  it('reads inventories, ignoring a sha256 and reporting bad lines', async () => {
    const file = join(dir, 'mirror.jsonl');
    await writeFile(
      file,
      [
        '{"path":"a","size":1,"mtime":1700000000,"sha256":"not checked"}',
        '{"path":"b","size":2}',
        '{"path":"b","size":2}',
        '{"path":"c"}',
        '{"path":"d\\\\e","size":1}',
      ].join('\n'),
    );
    const { files, problems } = await readMirrorManifest(file);
    expect(files).toEqual([
      { path: 'a', size: 1, mtime: 1_700_000_000 },
      { path: 'b', size: 2 },
    ]);
    expect(problems).toEqual([
      { file, line: 3, reason: 'path: duplicate of line 2' },
      { file, line: 4, reason: 'size: expected a non-negative integer' },
      { file, line: 5, reason: 'path: backslash' },
    ]);
  });
});

describe('text parsers', () => {
  it('judge lines exactly as the file readers do', async () => {
    const file = join(dir, 'same.jsonl');
    const text = originLines.join('\r\n');
    await writeFile(file, text);
    const fromFile = await readOriginManifest(file);
    const fromText = parseOriginManifestText(text, file);
    expect(fromText).toEqual(fromFile);
  });

  it('parse mirror inventories with the given name in problems', () => {
    const { files, problems } = parseMirrorManifestText('{"path":"x","size":1}\nnot json', 'https://m.example/inv.jsonl');
    expect(files).toEqual([{ path: 'x', size: 1 }]);
    expect(problems).toHaveLength(1);
    expect(formatManifestProblem(problems[0]!)).toMatch(/^https:\/\/m\.example\/inv\.jsonl:2: malformed JSON/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// --- The streamed index (performance issue #7) against the path it replaced -------------------

/**
 * The pre-#7 origin load, kept as a reference: readline's lines, the zod schema alone, one
 * OriginFile per good line, then FileIndex.from. Shares only the schema with the code under test.
 */
async function referenceLoad(chunks: Iterable<string>, name: string): Promise<{ files: OriginFile[]; problems: ManifestProblem[] }> {
  const texts: string[] = [];
  for await (const text of createInterface({ input: Readable.from(chunks), crlfDelay: Infinity })) texts.push(text);
  const files: OriginFile[] = [];
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, { at: number; line: number }>();
  const problem = (line: number, reason: string) => problems.push({ file: name, line, reason });
  texts.forEach((raw, i) => {
    const line = i + 1;
    const text = line === 1 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
    if (/^[ \t\r]*(#|$)/.test(text)) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return problem(line, `malformed JSON: ${(error as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return problem(line, 'expected a JSON object');
    const fields = schemaLineFields(json as Record<string, unknown>, 'origin', new Uint8Array(32));
    if (typeof fields === 'string') return problem(line, fields);
    const path = fields.path.startsWith('/') ? fields.path.slice(1) : fields.path;
    const invalid = validateOriginPath(path);
    if (invalid !== undefined) return problem(line, `path: ${invalid}`);
    const file: OriginFile = { path, size: fields.size };
    if (fields.mtime !== undefined) file.mtime = fields.mtime;
    if (fields.sha256) file.sha256 = (json as { sha256: string }).sha256.toLowerCase();
    // A later line for a path: the same version is skipped, another one replaces the earlier (without piece hashes).
    const earlier = seen.get(path);
    if (earlier !== undefined) {
      const old = files[earlier.at]!;
      const same =
        old.size === file.size &&
        (old.mtime === undefined || file.mtime === undefined || old.mtime === file.mtime) &&
        (old.sha256 === undefined || file.sha256 === undefined || old.sha256 === file.sha256);
      if (same) return problem(line, `path: duplicate of line ${earlier.line}`);
      files[earlier.at] = file;
      problems.push({
        file: name,
        line,
        reason: `path: replaces line ${earlier.line} (the later line for a path is its current version; kept without piece hashes)`,
        kept: true,
      });
      seen.set(path, { at: earlier.at, line });
      return;
    }
    seen.set(path, { at: files.length, line });
    if (fields.pieces) file.pieces = { length: fields.pieces.length, sha256: (json as { pieces: { sha256: string[] } }).pieces.sha256.join('').toLowerCase() };
    if (fields.piecesProblem) problems.push({ file: name, line, reason: `${fields.piecesProblem}; file kept without piece hashes`, kept: true });
    files.push(file);
  });
  return { files, problems };
}

async function* chunksOf(parts: readonly string[]): AsyncIterable<string> {
  for (const p of parts) yield p;
}

/**
 * `text` cut at the given offsets (any order, duplicates allowed), without empty chunks: a file
 * stream never yields one, and readline, the reference, forgets a chunk-final CR across one.
 */
function cut(text: string, at: readonly number[]): string[] {
  const points = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = 0;
  for (const p of points) {
    parts.push(text.slice(start, p));
    start = p;
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p !== '');
}

function expectSameIndex(actual: FileIndex, expected: FileIndex): void {
  expect(actual.count).toBe(expected.count);
  expect([...actual.files()]).toEqual([...expected.files()]);
  const a = actual.columns();
  const e = expected.columns();
  expect(a.paths).toEqual(e.paths);
  expect(Buffer.from(a.sizes.buffer, a.sizes.byteOffset, a.sizes.byteLength)).toEqual(Buffer.from(e.sizes.buffer, e.sizes.byteOffset, e.sizes.byteLength));
  expect(Buffer.from(a.mtimes.buffer, a.mtimes.byteOffset, a.mtimes.byteLength)).toEqual(
    Buffer.from(e.mtimes.buffer, e.mtimes.byteOffset, e.mtimes.byteLength),
  );
  expect(a.hashes).toEqual(e.hashes);
  expect(a.hashKnown).toEqual(e.hashKnown);
  expect(a.pieces).toEqual(e.pieces);
  for (const path of e.paths) expect(actual.lookup(path)).toBe(expected.lookup(path));
}

const mixedLines = [
  ...originLines,
  `{"path":"日本/ファイル.txt","size":9}`, // duplicate of a unicode path
  `{"path":"emoji/😀 file.bin","size":10,"sha256":"${'0F'.repeat(32)}"}`,
  `{"path":"lone\\ud800surrogate","size":1}`,
  `{"path":"dup","size":1,"mtime":1,"sha256":"${'cd'.repeat(32)}"}`,
  `{"path":"/dup","size":2,"sha256":"${'ef'.repeat(32)}"}`,
  `{"path":"dup","size":3,"sha256":"nothex"}`, // a bad hash is reported before the duplicate
  `{"path":"no-hash","size":11,"mtime":null}`,
  `{"path":"null-hash","size":11,"sha256":null}`,
  `{"path":"iso-date","size":12,"mtime":"2024-02-03"}`,
  `{"path":"huge","size":9007199254740992}`,
  `{"path":"inf","size":1,"mtime":1e400}`,
  `{"size":1}`,
  `{"path":"escaped\\"quote\\u00e9","size":13,"mtime":1700000000.9}`,
  `{"path":"short-hash","size":1,"sha256":"${'a'.repeat(63)}"}`,
  `{"path":"keys-in-any-order","sha256":"${'12'.repeat(32)}","mtime":5,"size":14}`,
  ...pieceLines(),
];

/** Lines with piece hashes: good ones (either case), and bad ones that keep their file. */
function pieceLines(): string[] {
  const h = (n: number, digit = 'a') => Array.from({ length: n }, (_, k) => `${digit}${k % 10}`.repeat(32));
  const line = (path: string, size: number, pieces: unknown, extra = '') => `{"path":"${path}","size":${size}${extra},"pieces":${JSON.stringify(pieces)}}`;
  return [
    line('pieces/good.iso', 50_000, { length: 16_384, sha256: h(4) }, `,"sha256":"${HASH}"`),
    line('pieces/upper.iso', 16_385, { length: 16_384, sha256: h(2, 'B') }),
    line('pieces/exact.iso', 32_768, { length: 16_384, sha256: h(2) }),
    line('pieces/empty.iso', 0, { length: 16_384, sha256: [] }),
    line('pieces/one-too-few.iso', 50_000, { length: 16_384, sha256: h(3) }),
    line('pieces/not-a-power.iso', 50_000, { length: 20_000, sha256: h(3) }),
    line('pieces/too-small.iso', 50_000, { length: 8_192, sha256: h(7) }),
    line('pieces/bad-hex.iso', 50_000, { length: 16_384, sha256: [...h(3), 'xyz'] }),
    line('pieces/many-bad.iso', 50_000, { length: 16_384, sha256: ['1', '2', '3', '4'] }),
    line('pieces/not-an-object.iso', 5, 'abc'),
    line('pieces/null.iso', 5, null),
    line('pieces/iso-date.iso', 20_000, { length: 16_384, sha256: h(2) }, ',"mtime":"2024-02-03"'),
    line('pieces/bad-size.iso', -5, { length: 16_384, sha256: h(1) }),
    line('pieces/good.iso', 50_000, { length: 16_384, sha256: h(1) }),
  ];
}

describe('readOriginIndex', () => {
  it('builds the index the old path built, and reports the same problems the same way', async () => {
    const file = join(dir, 'mixed.jsonl');
    const text = `${mixedLines.join('\n')}\n`;
    await writeFile(file, text);
    const seen: ManifestProblem[] = [];
    const { index, problems } = await readOriginIndex(file, { onProblem: (p) => seen.push(p) });
    const reference = await referenceLoad([text], file);
    expectSameIndex(index, FileIndex.from(reference.files));
    expect(problems).toEqual(reference.problems);
    expect(seen).toEqual(problems);
    // Spot checks, so the reference is not the only judge.
    expect(index.sha256Hex(index.lookup('emoji/😀 file.bin'))).toBe('0f'.repeat(32));
    // The later line of another version is the current one (`gen >> manifest`): `/dup` replaced `dup`.
    expect(index.file(index.lookup('dup'))).toEqual({ path: 'dup', size: 2, sha256: 'ef'.repeat(32) });
    expect(index.sha256Hex(index.lookup('last'))).toBeUndefined();
    expect(index.mtime(index.lookup('iso-date'))).toBe(Date.UTC(2024, 1, 3) / 1000);
    expect(index.mtime(index.lookup('escaped"quoteé'))).toBe(1_700_000_000);
    const dupLine = mixedLines.indexOf(`{"path":"dup","size":1,"mtime":1,"sha256":"${'cd'.repeat(32)}"}`) + 1;
    expect(problems.filter((p) => p.line > dupLine).map((p) => p.reason)).toEqual([
      `path: replaces line ${dupLine} (the later line for a path is its current version; kept without piece hashes)`,
      'sha256: expected 64 hex characters',
      'mtime: expected epoch seconds or milliseconds, or an ISO-8601 date-time with a time zone',
      'sha256: expected 64 hex characters',
      'size: expected a non-negative integer',
      'mtime: expected epoch seconds or milliseconds, or an ISO-8601 date-time with a time zone',
      'path: expected a string',
      'sha256: expected 64 hex characters',
      ...[
        'pieces.sha256: expected 4 hashes (size 50000 in pieces of 16384), got 3',
        'pieces.length: expected a power of two from 16384 to 1073741824',
        'pieces.length: expected a power of two from 16384 to 1073741824',
        'pieces.sha256.3: expected 64 hex characters',
        'pieces.sha256.0: expected 64 hex characters (and 3 more)',
        'pieces: expected {"length": <bytes>, "sha256": [<hex>, …]}',
        'pieces: expected {"length": <bytes>, "sha256": [<hex>, …]}',
      ].map((reason) => `${reason}; file kept without piece hashes`),
      'size: expected a non-negative integer',
      `path: duplicate of line ${mixedLines.indexOf(pieceLines()[0]!) + 1}`,
    ]);
    expect(problems.filter((p) => p.kept && p.line > dupLine + 1).map((p) => p.line)).toEqual(
      [5, 6, 7, 8, 9, 10, 11].map((k) => mixedLines.indexOf(pieceLines()[0]!) + k),
    );
    // Piece hashes as given, in lower case; the files whose pieces were bad are kept without them.
    const good = index.file(index.lookup('pieces/good.iso'));
    expect(good.sha256).toBe(HASH);
    expect(good.pieces).toEqual({ length: 16_384, sha256: ['a0', 'a1', 'a2', 'a3'].map((x) => x.repeat(32)).join('') });
    expect(index.file(index.lookup('pieces/upper.iso')).pieces?.sha256).toBe(`${'b0'.repeat(32)}${'b1'.repeat(32)}`);
    expect(index.pieceInfo(index.lookup('pieces/exact.iso'))).toEqual({ length: 16_384, count: 2 });
    expect(index.pieceInfo(index.lookup('pieces/iso-date.iso'))).toEqual({ length: 16_384, count: 2 });
    for (const path of ['pieces/empty.iso', 'pieces/one-too-few.iso', 'pieces/not-a-power.iso', 'pieces/bad-hex.iso', 'pieces/null.iso']) {
      expect(index.file(index.lookup(path)), path).toEqual({ path, size: path === 'pieces/empty.iso' ? 0 : path === 'pieces/null.iso' ? 5 : 50_000 });
    }
    expect(index.lookup('pieces/bad-size.iso')).toBe(-1);
  });

  it('agrees with readOriginManifest and FileIndex.from of its files', async () => {
    const file = join(dir, 'mixed2.jsonl');
    await writeFile(file, mixedLines.join('\r\n'));
    const viaFiles = await readOriginManifest(file);
    const direct = await readOriginIndex(file);
    expectSameIndex(direct.index, FileIndex.from(viaFiles.files));
    expect(direct.problems).toEqual(viaFiles.problems);
  });

  it('rejects a missing or unreadable file with an error naming it', async () => {
    await expect(readOriginIndex(join(dir, 'nope.jsonl'))).rejects.toThrow(/cannot read manifest .*nope\.jsonl: no such file/);
    await expect(readOriginIndex(dir)).rejects.toThrow(dir);
  });

  it('equals the old path on any lines, line breaks and chunking (readline cuts the reference)', async () => {
    const { default: fc } = await import('fast-check');
    const hex = fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32), 'aB'.repeat(32), 'g'.repeat(64), 'a'.repeat(63), '');
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 1 }),
      fc.constantFrom(-1, -0, 1.5, 2 ** 53, 1e12 + 0.5, 1e21, '2026-01-01', '2026-01-01T00:00:00Z', 'x'),
      hex,
    );
    const path = fc.oneof(
      fc.constantFrom('a', '/a', 'a/b', '/a/b', '日本/ファイル', 'ü', '😀', 'a/../b', 'a\\b', '.', '', 'a\ud800'),
      fc.string({ maxLength: 6 }),
    );
    const pieces = fc.oneof(
      value,
      fc.record(
        { length: fc.constantFrom(16_384, 32_768, 20_000, 8_192, '16384'), sha256: fc.oneof(fc.array(hex, { maxLength: 3 }), value) },
        { requiredKeys: [] },
      ),
    );
    const object = fc.record(
      {
        path: fc.oneof(path, path, value),
        size: fc.oneof(fc.nat(), fc.nat(), fc.constantFrom(0, 1, 16_384, 16_385, 40_000), value),
        mtime: fc.oneof(fc.nat({ max: 2e12 }), value),
        sha256: fc.oneof(hex, value),
        pieces,
        extra: value,
      },
      { requiredKeys: [] },
    );
    const line = fc.oneof(
      object.map((o) => JSON.stringify(o)),
      object.map((o) => JSON.stringify(o)),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constantFrom('', ' ', '# c', '{', '[]', 'null', '\uFEFF{"path":"b","size":2}', '{"path":"a","size":1}'),
    );
    const eol = fc.constantFrom('\n', '\n', '\r\n', '\r');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(line, eol), { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 8 }), async (rows, at) => {
        const text = rows.map(([l, e]) => l + e).join('');
        const parts = cut(text, at);
        const { index, problems } = await readOriginIndexFrom(chunksOf(parts), 'fuzz.jsonl');
        const reference = await referenceLoad(parts, 'fuzz.jsonl');
        expectSameIndex(index, FileIndex.from(reference.files));
        expect(problems).toEqual(reference.problems);
      }),
      { numRuns: 300 },
    );
  });

  it('cuts lines where readline does, whatever the chunking', async () => {
    // Every line is the same path, so each duplicate problem names the lines both readers counted.
    const text = 'a\r\nb\rc\n\r\rd\r\ne\r';
    let n = 0;
    const json = text.replace(/[a-e]/g, () => `{"path":"p","size":${++n}}`);
    for (let i = 0; i <= json.length; i++) {
      for (let j = i; j <= json.length; j += 3) {
        const parts = cut(json, [i, j]);
        const got = await readOriginIndexFrom(chunksOf(parts), 'x');
        const want = await referenceLoad(parts, 'x');
        expect([...got.index.files()]).toEqual(want.files);
        expect(got.problems).toEqual(want.problems);
      }
    }
    const { problems } = await readOriginIndexFrom(chunksOf([json]), 'x');
    expect(problems.map((p) => p.line)).toEqual([2, 3, 6, 7]);
  });
});

describe('quickLineFields', () => {
  it('accepts only what the schema accepts, with the same fields and hash bytes', async () => {
    const { default: fc } = await import('fast-check');
    const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 2 ** 53, 2 ** 53 - 1, 1e11, 1e11 + 1, 1e400, -1e400, Number.NaN));
    const text = fc.oneof(
      fc.string({ maxLength: 5 }),
      fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32), 'g'.repeat(64), '2026-01-01', '2026-01-01T00:00:00Z', 'é'.repeat(64)),
    );
    const value = fc.oneof(number, text, fc.constantFrom(null, true, [], {}, undefined));
    const pieceHash = fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32), 'g'.repeat(64), 'a'.repeat(63));
    const pieces = fc.oneof(
      value,
      fc.record(
        {
          length: fc.oneof(number, fc.constantFrom(16_384, 32_768, 2 ** 30, 2 ** 31)),
          sha256: fc.oneof(value, fc.array(fc.oneof(pieceHash, value), { maxLength: 3 })),
        },
        { requiredKeys: [] },
      ),
    );
    const object = fc.record(
      {
        path: fc.oneof(fc.string(), value),
        size: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 16_384, 16_385, 32_769), value),
        mtime: fc.oneof(fc.nat(), value),
        sha256: value,
        pieces,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(object, fc.constantFrom('origin' as const, 'mirror' as const), (json, kind) => {
        const quickHash = new Uint8Array(32);
        const quick = quickLineFields(json, kind, quickHash);
        if (quick === undefined) return;
        const schemaHash = new Uint8Array(32);
        expect(schemaLineFields(json, kind, schemaHash)).toEqual(quick);
        if (quick.sha256) expect(quickHash).toEqual(schemaHash);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('a manifest appended to (`gen >> manifest`)', () => {
  it('takes the later line of a path as its current version, and keeps every other file as it was', async () => {
    const h = (n: number, digit: string) => Array.from({ length: n }, (_, k) => `${digit}${k % 10}`.repeat(32));
    const first = [
      { path: 'a.iso', size: 40_000, mtime: 1, sha256: 'aa'.repeat(32), pieces: { length: 16_384, sha256: h(3, 'a') } },
      { path: 'b.iso', size: 20_000, mtime: 1, pieces: { length: 16_384, sha256: h(2, 'b') } },
      { path: 'c.txt', size: 5, mtime: 1 },
    ];
    const again = [
      { path: 'a.iso', size: 50_000, mtime: 2, sha256: 'ab'.repeat(32), pieces: { length: 16_384, sha256: h(4, 'c') } },
      { path: 'b.iso', size: 20_000, mtime: 1 },
      { path: 'c.txt', size: 6, mtime: 3 },
    ];
    const file = join(dir, 'appended.jsonl');
    await writeFile(file, [...first, ...again].map((l) => JSON.stringify(l)).join('\n') + '\n');
    const { index, problems } = await readOriginIndex(file);
    expect(index.count).toBe(3);
    expect(index.file(index.lookup('a.iso'))).toEqual({ path: 'a.iso', size: 50_000, mtime: 2, sha256: 'ab'.repeat(32) });
    // b.iso again in the same version: a duplicate, and its piece hashes stay (they sit after a's dropped ones).
    expect(index.file(index.lookup('b.iso'))).toEqual({ path: 'b.iso', size: 20_000, mtime: 1, pieces: { length: 16_384, sha256: h(2, 'b').join('') } });
    expect(index.file(index.lookup('c.txt'))).toEqual({ path: 'c.txt', size: 6, mtime: 3 });
    expect(problems.map((p) => [p.line, p.reason, p.kept ?? false])).toEqual([
      [4, 'path: replaces line 1 (the later line for a path is its current version; kept without piece hashes)', true],
      [5, 'path: duplicate of line 2', false],
      [6, 'path: replaces line 3 (the later line for a path is its current version; kept without piece hashes)', true],
    ]);

    // A mirror's inventory appended to the same way: the later copy is the one it holds.
    const inventory = join(dir, 'appended-inventory.jsonl');
    await writeFile(inventory, ['{"path":"c.txt","size":5}', '{"path":"d","size":1}', '{"path":"c.txt","size":6,"mtime":3}'].join('\n'));
    const listed = await readMirrorManifest(inventory);
    expect(listed.files).toEqual([
      { path: 'c.txt', size: 6, mtime: 3 },
      { path: 'd', size: 1 },
    ]);
    expect(listed.problems).toEqual([
      { file: inventory, line: 3, reason: 'path: replaces line 1 (the later line for a path is its current copy)', kept: true },
    ]);
  });
});
