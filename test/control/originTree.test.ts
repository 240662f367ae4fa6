import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexOriginTree, pieceLengthFor } from '../../src/control/originTree.js';
import type { OriginFile } from '../../src/core/model.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;

/** Piece hashes as a reference computes them: the bytes cut every `length`, each hashed alone. */
function piecesOf(data: Buffer, length: number): OriginFile['pieces'] {
  let sha = '';
  for (let at = 0; at < data.length; at += length) sha += sha256(data.subarray(at, at + length));
  return { length, sha256: sha };
}

let base: string;
let root: string;
let cacheFile: string;

const contents: Record<string, string | Buffer> = {
  'projects/debian/12.0/debian 12 (amd64).iso': Buffer.alloc(3 * 1024 * 1024 + 17, 7),
  'projects/debian/12.0/SHA256SUMS': 'abc  debian 12 (amd64).iso\n',
  'projects/日本/ファイル ü.txt': 'こんにちは',
  'c++/a+b.tar.gz': 'plus',
  '.well-known/hidden': 'dot files are files too',
  empty: '',
};

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mirrorgate-origin-'));
  root = join(base, 'pub');
  cacheFile = join(base, 'var', 'origin-hashes.json');
  for (const [path, data] of Object.entries(contents)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), data);
  }
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('indexOriginTree', () => {
  it('lists every regular file with size, mtime in seconds and the sha-256 node:crypto computes', async () => {
    const progress: number[][] = [];
    const { files, problems } = await indexOriginTree(root, {
      cacheFile,
      onProgress: (...args) => progress.push(args),
    });
    expect(problems).toEqual([]);
    const expected = await Promise.all(
      Object.entries(contents).map(async ([path, data]): Promise<OriginFile> => ({
        path,
        size: Buffer.byteLength(data),
        mtime: Math.floor((await stat(join(root, path))).mtimeMs / 1000),
        sha256: sha256(data),
        // Only the 3 MiB image is bigger than one 1 MiB piece.
        ...(typeof data !== 'string' && data.length > MiB ? { pieces: piecesOf(data, MiB) } : {}),
      })),
    );
    expected.sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(files).toEqual(expected);

    const bytesTotal = expected.reduce((sum, f) => sum + f.size, 0);
    expect(progress.length).toBeGreaterThanOrEqual(files.length + 1);
    expect(progress.at(-1)).toEqual([files.length, files.length, bytesTotal, bytesTotal]);
    expect(progress.every(([, total, , bytes]) => total === files.length && bytes === bytesTotal)).toBe(true);
  });

  it('reuses cached hashes for files whose size and mtime are unchanged', async () => {
    await indexOriginTree(root, { cacheFile });
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { files: Record<string, unknown> };
    expect(Object.keys(cached.files).sort()).toEqual(Object.keys(contents).sort());

    // Same size, different content, mtime put back: only the cache can explain the old hash surviving.
    const sums = join(root, 'projects/debian/12.0/SHA256SUMS');
    const before = await stat(sums);
    await writeFile(sums, 'xyz  debian 12 (amd64).iso\n');
    await utimes(sums, before.atime, before.mtime);
    // A genuinely changed file is hashed again.
    const tarball = join(root, 'c++/a+b.tar.gz');
    await writeFile(tarball, 'plus, longer');

    const progress: number[][] = [];
    const { files, problems } = await indexOriginTree(root, { cacheFile, onProgress: (...a) => progress.push(a) });
    expect(problems).toEqual([]);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get('projects/debian/12.0/SHA256SUMS')?.sha256).toBe(sha256(contents['projects/debian/12.0/SHA256SUMS']!));
    expect(byPath.get('c++/a+b.tar.gz')?.sha256).toBe(sha256('plus, longer'));
    // Everything but the changed file was done before any hashing started.
    expect(progress[0]?.[0]).toBe(files.length - 1);

    // Without the cache the new content's hash shows.
    const fresh = await indexOriginTree(root, {});
    expect(fresh.files.find((f) => f.path === 'projects/debian/12.0/SHA256SUMS')?.sha256).toBe(sha256('xyz  debian 12 (amd64).iso\n'));
  });

  it('drops cache entries of deleted files and survives a corrupt cache', async () => {
    await indexOriginTree(root, { cacheFile });
    await rm(join(root, 'empty'));
    await indexOriginTree(root, { cacheFile });
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { files: Record<string, unknown> };
    expect(cached.files).not.toHaveProperty('empty');

    await writeFile(cacheFile, '{"version":1,"files":{"x":');
    const { files, problems } = await indexOriginTree(root, { cacheFile });
    expect(problems).toEqual([expect.stringContaining('hash cache unreadable')]);
    expect(files.every((f) => f.sha256 !== undefined)).toBe(true);
  });

  it('follows symlinks inside the root, skips ones that leave it, and reports bad names', async () => {
    await writeFile(join(base, 'secret'), 'outside');
    await symlink(join(base, 'secret'), join(root, 'escape'));
    await symlink('../..', join(root, 'projects', 'up'));
    await symlink('debian/12.0', join(root, 'projects', 'current'));
    await symlink('.', join(root, 'projects', 'loop'));
    await writeFile(join(root, 'back\\slash'), 'x');
    await writeFile(join(root, 'line\nbreak'), 'x');

    const { files, problems } = await indexOriginTree(root, { cacheFile });
    const paths = files.map((f) => f.path);
    expect(paths).toContain('projects/current/debian 12 (amd64).iso');
    expect(paths).not.toContain('escape');
    expect(paths.some((p) => p.includes('secret') || p.startsWith('projects/up'))).toBe(false);
    expect(paths.some((p) => p.startsWith('projects/loop/'))).toBe(false);
    expect(problems.sort()).toEqual(
      [
        'back\\slash: backslash',
        'escape: symlink leaves the origin root',
        'line\nbreak: control character',
        'projects/loop: symlink loop',
        'projects/up: symlink leaves the origin root',
      ].sort(),
    );
    const viaLink = files.find((f) => f.path === 'projects/current/SHA256SUMS');
    expect(viaLink?.sha256).toBe(sha256(contents['projects/debian/12.0/SHA256SUMS']!));
  });

  it('computes piece hashes in the hashing pass, caches them, and reads a version 1 cache without rehashing', async () => {
    const image = 'projects/debian/12.0/debian 12 (amd64).iso';
    const data = contents[image] as Buffer;
    // Small pieces, so the image has several, and the last one short.
    const opts = { cacheFile, pieceLength: (size: number) => (size > 64 * 1024 ? 256 * 1024 : undefined) };
    const first = await indexOriginTree(root, opts);
    const want = piecesOf(data, 256 * 1024)!;
    expect(want.sha256.length).toBe(64 * 13);
    expect(first.files.find((f) => f.path === image)?.pieces).toEqual(want);
    expect(first.files.filter((f) => f.pieces).map((f) => f.path)).toEqual([image]);

    // The cache is JSON (one entry a line) holding the pieces: a rerun reads them back, hashing nothing.
    const text = await readFile(cacheFile, 'utf8');
    const cached = JSON.parse(text) as { version: number; files: Record<string, { pieces?: unknown }> };
    expect(cached.version).toBe(2);
    expect(cached.files[image]?.pieces).toEqual(want);
    expect(text.split('\n')).toHaveLength(Object.keys(contents).length + 3);
    const progress: number[][] = [];
    const again = await indexOriginTree(root, { ...opts, onProgress: (...a) => progress.push(a) });
    expect(progress[0]?.[0]).toBe(again.files.length);
    expect(again).toEqual(first);

    // Pieces longer than a read (1 MiB) come out the same; a file of one piece gets none.
    const long = await indexOriginTree(root, { pieceLength: () => 2 * MiB });
    expect(long.files.filter((f) => f.pieces)).toEqual([expect.objectContaining({ path: image, pieces: piecesOf(data, 2 * MiB) })]);

    // Pieces once hashed are kept whatever the length wanted now; entries written when none
    // were wanted are hashed again once some are.
    expect((await indexOriginTree(root, { cacheFile, pieceLength: () => undefined })).files).toEqual(first.files);
    await rm(cacheFile);
    await indexOriginTree(root, { cacheFile, pieceLength: () => undefined });
    const none = await indexOriginTree(root, { cacheFile, pieceLength: () => undefined });
    expect(none.files.some((f) => f.pieces)).toBe(false);
    const wanted = await indexOriginTree(root, opts);
    expect(wanted.files.find((f) => f.path === image)?.pieces).toEqual(want);

    // A version 1 cache (before piece hashes) is honoured as it is: an upgrade re-reads no tree.
    const v1 = { version: 1, files: Object.fromEntries(Object.entries(cached.files).map(([p, e]) => [p, { ...e, pieces: undefined }])) };
    await writeFile(cacheFile, JSON.stringify(v1));
    const upgraded = await indexOriginTree(root, { ...opts, onProgress: (...a) => progress.splice(0, progress.length, a) });
    expect(upgraded.problems).toEqual([]);
    expect(upgraded.files.find((f) => f.path === image)).toEqual({ ...first.files.find((f) => f.path === image), pieces: undefined });
    expect(progress[0]?.[0]).toBe(upgraded.files.length);
    // …and such a file gets its pieces once it changes.
    const changed = Buffer.from(data);
    changed[2 * MiB] = 1;
    await writeFile(join(root, image), changed);
    const after = await indexOriginTree(root, opts);
    expect(after.files.find((f) => f.path === image)?.pieces).toEqual(piecesOf(changed, 256 * 1024));
    expect(after.files.find((f) => f.path === image)?.sha256).toBe(sha256(changed));
  });

  it('a cache cut short is unreadable, and every file is hashed again', async () => {
    await indexOriginTree(root, { cacheFile });
    const text = await readFile(cacheFile, 'utf8');
    await writeFile(cacheFile, text.slice(0, text.lastIndexOf('}}')));
    const { files, problems } = await indexOriginTree(root, { cacheFile });
    expect(problems).toEqual([expect.stringContaining('hash cache unreadable')]);
    expect(files.every((f) => f.sha256 !== undefined)).toBe(true);
  });

  it('chooses 1 MiB pieces up to 1 GiB and at most 1024 pieces above; none for a file of one piece', () => {
    const GiB = 1024 * MiB;
    expect(pieceLengthFor(0)).toBeUndefined();
    expect(pieceLengthFor(MiB)).toBeUndefined();
    expect(pieceLengthFor(MiB + 1)).toBe(MiB);
    expect(pieceLengthFor(GiB)).toBe(MiB);
    expect(pieceLengthFor(GiB + 1)).toBe(2 * MiB);
    expect(pieceLengthFor(4 * GiB)).toBe(4 * MiB);
    expect(pieceLengthFor(5 * GiB)).toBe(8 * MiB);
    for (const size of [MiB + 1, 3 * MiB, GiB, 7 * GiB + 3, 900 * GiB]) expect(Math.ceil(size / pieceLengthFor(size)!)).toBeLessThanOrEqual(1024);
    // Beyond 1 TiB the cap is the largest piece length a client takes (1 GiB).
    expect(pieceLengthFor(4096 * GiB)).toBe(GiB);
  });

  it('rejects a root that does not exist', async () => {
    await expect(indexOriginTree(join(base, 'missing'), {})).rejects.toThrow(join(base, 'missing'));
  });
});
