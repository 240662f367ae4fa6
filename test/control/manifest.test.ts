import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatManifestProblem,
  parseMirrorManifestText,
  parseOriginManifestText,
  readMirrorManifest,
  readOriginManifest,
  type ManifestProblem,
} from '../../src/control/manifest.js';

const HASH = 'ab'.repeat(32);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mirrorgate-manifest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const originLines = [
  '{"path":"projects/debian/12.0/debian 12 (amd64).iso","size":4000000000,"mtime":1700000000,"sha256":"' +
    HASH.toUpperCase() +
    '"}',
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
      { path: 'projects/debian/12.0/debian 12 (amd64).iso', size: 4_000_000_000, mtime: 1_700_000_000, sha256: HASH },
      { path: 'iso-mtime', size: 2, mtime: Date.UTC(2024, 0, 2, 3, 4, 5) / 1000 },
      { path: 'ms-mtime', size: 3, mtime: 1_700_000_000 },
      { path: '日本/ファイル.txt', size: 0 },
      { path: 'last', size: 7 },
    ]);
    expect(problems.map((p) => [p.line, p.reason])).toEqual([
      [3, expect.stringMatching(/^malformed JSON/)],
      [5, 'size: expected a non-negative integer'],
      [6, 'sha256: expected 64 hex characters'],
      [7, 'path: duplicate of line 1'],
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
