// Indexes a local origin directory into OriginFiles, hashing each file's content once and remembering the hash across runs.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import type { OriginFile } from '../core/model.js';
import { validateOriginPath } from '../core/paths.js';

export interface IndexOriginTreeOptions {
  /** JSON file remembering sha-256 per path with the size and mtime it was computed for. */
  cacheFile?: string;
  /** Called after the cache is applied, as chunks are hashed and as each file finishes. */
  onProgress?(done: number, total: number, bytesDone: number, bytesTotal: number): void;
  /** Files hashed at once; default 4. */
  hashConcurrency?: number;
}

export interface OriginTreeIndex {
  /** Sorted by path. */
  files: OriginFile[];
  /** `path: reason` for everything skipped or left without a hash. */
  problems: string[];
}

const DEFAULT_HASH_CONCURRENCY = 4;
// Large reads: hashing is disk-bound and these trees hold multi-gigabyte images.
const HASH_READ_SIZE = 1024 * 1024;
// Save what was hashed so far this often, so a crash mid-way through terabytes loses little.
const CHECKPOINT_INTERVAL_MS = 60_000;

const cacheSchema = z.object({
  version: z.literal(1),
  files: z.record(
    z.string(),
    z.object({
      size: z.number(),
      mtimeMs: z.number(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
});
type HashCache = z.infer<typeof cacheSchema>['files'];
type CacheEntry = HashCache[string];

// Only what indexing needs: a tree may hold a million files, and a full Stats each would add up.
interface FoundFile {
  path: string;
  absolute: string;
  size: number;
  mtimeMs: number;
  /** dev:ino, to hash a file reached through several symlinks once. */
  inode: string;
}

/**
 * Walks `root` and returns every regular file in it (symlinks followed while they stay
 * inside the root) with size, mtime and sha-256.
 */
export async function indexOriginTree(root: string, opts: IndexOriginTreeOptions = {}): Promise<OriginTreeIndex> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    if (!(await stat(realRoot)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new Error(`cannot index origin tree ${root}: ${(error as Error).message}`, { cause: error });
  }
  const problems: string[] = [];
  const cacheFile = opts.cacheFile === undefined ? undefined : await resolveCacheFile(opts.cacheFile);
  const cache = cacheFile === undefined ? {} : await loadCache(cacheFile, problems);

  const found: FoundFile[] = [];
  await walk(realRoot, realRoot, '', new Set([realRoot]), cacheFile, found, problems);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const total = found.length;
  let bytesTotal = 0;
  for (const file of found) bytesTotal += file.size;

  const files: OriginFile[] = new Array<OriginFile>(total);
  const nextCache: HashCache = {};
  const toHash: number[] = [];
  let done = 0;
  let bytesDone = 0;
  for (let i = 0; i < total; i++) {
    const file = found[i]!;
    files[i] = toOriginFile(file);
    const cached = cache[file.path];
    if (cached !== undefined && isCurrent(cached, file)) {
      files[i]!.sha256 = cached.sha256;
      nextCache[file.path] = cached;
      done++;
      bytesDone += file.size;
    } else {
      toHash.push(i);
    }
  }
  // Entries for vanished or changed files are dropped, so the cache never outgrows the tree.
  let cacheDirty = Object.keys(cache).length !== Object.keys(nextCache).length;
  opts.onProgress?.(done, total, bytesDone, bytesTotal);

  // The same inode reached through a symlink is hashed once.
  const byInode = new Map<string, Promise<string | undefined>>();
  let lastCheckpoint = Date.now();
  let checkpoint: Promise<void> | undefined;

  const hashOne = async (index: number): Promise<void> => {
    const file = found[index]!;
    const inodeKey = `${file.inode}:${file.size}:${file.mtimeMs}`;
    let pending = byInode.get(inodeKey);
    if (pending === undefined) {
      pending = hashFile(file, (chunk) => {
        bytesDone += chunk;
        opts.onProgress?.(done, total, bytesDone, bytesTotal);
      }).catch((error: unknown) => {
        problems.push(`${file.path}: cannot hash: ${(error as Error).message}`);
        return undefined;
      });
      byInode.set(inodeKey, pending);
    } else {
      bytesDone += file.size;
    }
    const sha256 = await pending;
    done++;
    opts.onProgress?.(done, total, bytesDone, bytesTotal);
    if (sha256 === undefined) return;
    files[index]!.sha256 = sha256;
    nextCache[file.path] = { size: file.size, mtimeMs: cacheMtime(file.mtimeMs), sha256 };
    cacheDirty = true;
    if (cacheFile !== undefined && checkpoint === undefined && Date.now() - lastCheckpoint > CHECKPOINT_INTERVAL_MS) {
      lastCheckpoint = Date.now();
      // Entries not yet re-hashed are kept in the checkpoint: they may still be valid next run.
      checkpoint = writeCache(cacheFile, { ...cache, ...nextCache })
        .catch((error: unknown) => {
          problems.push(`${cacheFile}: cannot write hash cache: ${(error as Error).message}`);
        })
        .finally(() => {
          checkpoint = undefined;
        });
    }
  };

  let cursor = 0;
  const worker = async (): Promise<void> => {
    while (cursor < toHash.length) await hashOne(toHash[cursor++]!);
  };
  const concurrency = Math.max(1, Math.floor(opts.hashConcurrency ?? DEFAULT_HASH_CONCURRENCY));
  await Promise.all(Array.from({ length: Math.min(concurrency, toHash.length) }, worker));
  await checkpoint;

  if (cacheFile !== undefined && cacheDirty) {
    try {
      await writeCache(cacheFile, nextCache);
    } catch (error) {
      problems.push(`${cacheFile}: cannot write hash cache: ${(error as Error).message}`);
    }
  }
  return { files, problems };
}

async function walk(
  realRoot: string,
  dir: string,
  prefix: string,
  ancestors: Set<string>,
  cacheFile: string | undefined,
  found: FoundFile[],
  problems: string[],
): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    problems.push(`${prefix || '.'}: cannot read directory: ${(error as Error).message}`);
    return;
  }
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    const absolute = join(dir, entry.name);
    // Never index our own hash cache or its temporary files if it lives inside the tree.
    if (cacheFile !== undefined && (absolute === cacheFile || absolute.startsWith(`${cacheFile}.`))) continue;

    let target = absolute;
    let stats: Stats;
    try {
      if (entry.isSymbolicLink()) {
        target = await realpath(absolute);
        if (!isInside(realRoot, target)) {
          problems.push(`${path}: symlink leaves the origin root`);
          continue;
        }
        stats = await stat(target);
      } else if (entry.isFile() || entry.isDirectory()) {
        stats = await stat(absolute);
      } else {
        continue; // sockets, FIFOs, devices: nothing a mirror could serve
      }
    } catch (error) {
      problems.push(`${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      continue;
    }

    const invalid = validateOriginPath(path);
    if (invalid !== undefined) {
      // A bad directory name makes every path below it bad too: say it once.
      problems.push(`${path}: ${invalid}`);
      continue;
    }
    if (stats.isDirectory()) {
      const realDir = entry.isSymbolicLink() ? target : absolute;
      if (ancestors.has(realDir)) {
        problems.push(`${path}: symlink loop`);
        continue;
      }
      ancestors.add(realDir);
      await walk(realRoot, realDir, path, ancestors, cacheFile, found, problems);
      ancestors.delete(realDir);
    } else if (stats.isFile()) {
      found.push({
        path,
        absolute: target,
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        inode: `${stats.dev}:${stats.ino}`,
      });
    }
  }
}

/** True for the root itself too: a link back to the root is a loop, caught by the walk, not an escape. */
function isInside(realRoot: string, target: string): boolean {
  const rel = relative(realRoot, target);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

// The walk sees real paths, so compare against the cache file's real location.
async function resolveCacheFile(cacheFile: string): Promise<string> {
  const absolute = resolve(cacheFile);
  const dir = await realpath(dirname(absolute)).catch(() => dirname(absolute));
  return join(dir, basename(absolute));
}

function toOriginFile(file: FoundFile): OriginFile {
  return { path: file.path, size: file.size, mtime: Math.floor(file.mtimeMs / 1000) };
}

// Millisecond precision: whole seconds would keep a stale hash for a same-size rewrite within one second.
function cacheMtime(mtimeMs: number): number {
  return Math.floor(mtimeMs);
}

/**
 * Same size and the same mtime to within a millisecond either way. Not equality: a time copied
 * through a Date (utimes, tar, rsync --times) is rounded to the millisecond and then round-trips
 * through floating point, so it can land just below or above the millisecond it came from.
 */
function isCurrent(entry: CacheEntry, file: FoundFile): boolean {
  return entry.size === file.size && Math.abs(entry.mtimeMs - cacheMtime(file.mtimeMs)) <= 1;
}

async function hashFile(file: FoundFile, onChunk: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file.absolute, { highWaterMark: HASH_READ_SIZE })) {
    hash.update(chunk as Buffer);
    onChunk((chunk as Buffer).length);
  }
  const after = await stat(file.absolute);
  // A file rewritten while we read it has no single hash; leave it unhashed until it settles.
  if (after.size !== file.size || after.mtimeMs !== file.mtimeMs) {
    throw new Error('changed while hashing');
  }
  return hash.digest('hex');
}

async function loadCache(cacheFile: string, problems: string[]): Promise<HashCache> {
  let text: string;
  try {
    text = await readFile(cacheFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      problems.push(`${cacheFile}: cannot read hash cache: ${(error as Error).message}`);
    }
    return {};
  }
  try {
    const parsed = cacheSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.files;
  } catch {
    // fall through: a corrupt cache only costs a rehash
  }
  problems.push(`${cacheFile}: hash cache unreadable, rehashing everything`);
  return {};
}

/** Write-temp, fsync, rename: a crash leaves either the old cache or the new one, never half of one. */
async function writeCache(cacheFile: string, files: HashCache): Promise<void> {
  const dir = dirname(cacheFile);
  await mkdir(dir, { recursive: true });
  const temp = `${cacheFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify({ version: 1, files }));
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temp, cacheFile);
  // Persist the rename itself; not every platform lets a directory be opened, hence best effort.
  try {
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // best effort
  }
}
