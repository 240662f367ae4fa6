import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexOriginTree } from '../../src/control/originTree.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

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
      Object.entries(contents).map(async ([path, data]) => ({
        path,
        size: Buffer.byteLength(data),
        mtime: Math.floor((await stat(join(root, path))).mtimeMs / 1000),
        sha256: sha256(data),
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
    expect(fresh.files.find((f) => f.path === 'projects/debian/12.0/SHA256SUMS')?.sha256).toBe(
      sha256('xyz  debian 12 (amd64).iso\n'),
    );
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

  it('rejects a root that does not exist', async () => {
    await expect(indexOriginTree(join(base, 'missing'), {})).rejects.toThrow(join(base, 'missing'));
  });
});
