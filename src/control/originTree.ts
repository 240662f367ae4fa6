// Indexes a local origin directory into OriginFiles, hashing each file's content (whole and by piece) once and remembering the hashes across runs.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { isPieceLength, MAX_PIECE_LENGTH, pieceCount } from '../core/fileIndex.js';
import type { FilePieces, OriginFile } from '../core/model.js';
import { validateOriginPath } from '../core/paths.js';

export interface IndexOriginTreeOptions {
  /** JSON file remembering sha-256 (and piece hashes) per path with the size and mtime they were computed for. */
  cacheFile?: string;
  /** Piece length for a file of this size, or undefined for none; default pieceLengthFor. */
  pieceLength?(size: number): number | undefined;
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
const MIN_TREE_PIECE_LENGTH = 1024 * 1024;
// A few thousand pieces at most: 32 bytes each in the index, the snapshot and every metalink.
const MAX_TREE_PIECES = 1024;

/**
 * The piece length origin.root uses: 1 MiB for files up to 1 GiB, then the smallest power of
 * two giving at most 1024 pieces (2 MiB for 2 GiB, 4 MiB for 4 GiB…); none for a file of one
 * piece or less, whose whole-file hash says as much.
 */
export function pieceLengthFor(size: number): number | undefined {
  let length = MIN_TREE_PIECE_LENGTH;
  while (length < MAX_PIECE_LENGTH && pieceCount(size, length) > MAX_TREE_PIECES) length *= 2;
  return size > length ? length : undefined;
}

/**
 * Cache version 2 is JSON written one entry a line, so neither writing nor reading it needs the
 * whole file as one string (piece hashes make it large): `{"version":2,"files":{`, then
 * `"<path>":{…},` per file, then `}}`. Version 1 (one line, no piece hashes) is still read.
 */
const CACHE_HEADER = '{"version":2,"files":{';
const CACHE_FOOTER = '}}';

const entrySchema = z
  .object({
    size: z.number(),
    mtimeMs: z.number(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    // null: hashed before piece hashes existed (a version 1 entry); absent: none wanted.
    pieces: z
      .object({ length: z.number().refine(isPieceLength), sha256: z.string().regex(/^(?:[0-9a-f]{64})+$/) })
      .nullable()
      .optional(),
  })
  .refine((e) => !e.pieces || e.pieces.sha256.length === 64 * pieceCount(e.size, e.pieces.length));
type CacheEntry = z.infer<typeof entrySchema>;
type HashCache = Record<string, CacheEntry>;

const cacheV1Schema = z.object({
  version: z.literal(1),
  files: z.record(z.string(), z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

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
  const lengthFor = (size: number) => {
    const length = (opts.pieceLength ?? pieceLengthFor)(size);
    // One piece would only repeat the whole-file hash.
    return length !== undefined && isPieceLength(length) && size > length ? length : undefined;
  };
  const cacheFile = opts.cacheFile === undefined ? undefined : await resolveCacheFile(opts.cacheFile);
  const cache = cacheFile === undefined ? {} : await loadCache(cacheFile, problems);

  const found: FoundFile[] = [];
  await walk(realRoot, realRoot, '', new Set([realRoot]), cacheFile, found, problems);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const total = found.length;
  let bytesTotal = 0;
  for (const file of found) bytesTotal += file.size;

  const files: OriginFile[] = new Array<OriginFile>(total);
  // No prototype: a file may be called __proto__.
  const nextCache: HashCache = Object.create(null) as HashCache;
  const toHash: number[] = [];
  let done = 0;
  let bytesDone = 0;
  for (let i = 0; i < total; i++) {
    const file = found[i]!;
    files[i] = toOriginFile(file);
    const cached = cache[file.path];
    if (cached !== undefined && isCurrent(cached, file) && hasWantedPieces(cached, lengthFor(file.size))) {
      files[i]!.sha256 = cached.sha256;
      if (cached.pieces) files[i]!.pieces = { length: cached.pieces.length, sha256: cached.pieces.sha256 };
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
  const byInode = new Map<string, Promise<FileHashes | undefined>>();
  let lastCheckpoint = Date.now();
  let checkpoint: Promise<void> | undefined;

  const hashOne = async (index: number): Promise<void> => {
    const file = found[index]!;
    const inodeKey = `${file.inode}:${file.size}:${file.mtimeMs}`;
    let pending = byInode.get(inodeKey);
    if (pending === undefined) {
      pending = hashFile(file, lengthFor(file.size), (chunk) => {
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
    const hashes = await pending;
    done++;
    opts.onProgress?.(done, total, bytesDone, bytesTotal);
    if (hashes === undefined) return;
    files[index]!.sha256 = hashes.sha256;
    const entry: CacheEntry = { size: file.size, mtimeMs: cacheMtime(file.mtimeMs), sha256: hashes.sha256 };
    if (hashes.pieces) {
      files[index]!.pieces = hashes.pieces;
      entry.pieces = hashes.pieces;
    }
    nextCache[file.path] = entry;
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

/**
 * Whether a current entry has the piece hashes wanted now: any it has are kept whatever their
 * length; one hashed before piece hashes existed (null) is kept without them rather than
 * re-reading terabytes at an upgrade; one written when none were wanted is hashed again if
 * some are now.
 */
function hasWantedPieces(entry: CacheEntry, wanted: number | undefined): boolean {
  return entry.pieces !== undefined || wanted === undefined;
}

interface FileHashes {
  sha256: string;
  pieces?: FilePieces;
}

/** The whole-file sha-256 and, when `pieceLength` is set, each piece's, in one read. */
async function hashFile(file: FoundFile, pieceLength: number | undefined, onChunk: (bytes: number) => void): Promise<FileHashes> {
  const hash = createHash('sha256');
  const count = pieceLength === undefined ? 0 : pieceCount(file.size, pieceLength);
  const pieces = count > 0 ? Buffer.alloc(32 * count) : undefined;
  let piece = createHash('sha256');
  let pieceFill = 0;
  let done = 0;
  const finishPiece = () => {
    // More pieces than the size allows: the file grew under us (the stat below says so too).
    if (done === count) throw new Error('changed while hashing');
    piece.digest().copy(pieces!, 32 * done++);
    piece = createHash('sha256');
    pieceFill = 0;
  };
  for await (const chunk of createReadStream(file.absolute, { highWaterMark: HASH_READ_SIZE })) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    if (pieces !== undefined) {
      // Reads need not fall on piece boundaries: split each at them.
      for (let at = 0; at < bytes.length;) {
        const take = Math.min(bytes.length - at, pieceLength! - pieceFill);
        piece.update(bytes.subarray(at, at + take));
        pieceFill += take;
        at += take;
        if (pieceFill === pieceLength) finishPiece();
      }
    }
    onChunk(bytes.length);
  }
  if (pieces !== undefined && pieceFill > 0) finishPiece();
  const after = await stat(file.absolute);
  // A file rewritten while we read it has no single hash; leave it unhashed until it settles.
  if (after.size !== file.size || after.mtimeMs !== file.mtimeMs || done !== count) {
    throw new Error('changed while hashing');
  }
  const result: FileHashes = { sha256: hash.digest('hex') };
  if (pieces !== undefined) result.pieces = { length: pieceLength!, sha256: pieces.toString('hex') };
  return result;
}

async function loadCache(cacheFile: string, problems: string[]): Promise<HashCache> {
  let handle;
  try {
    handle = await open(cacheFile, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      problems.push(`${cacheFile}: cannot read hash cache: ${(error as Error).message}`);
    }
    return {};
  }
  const input = handle.createReadStream({ encoding: 'utf8' });
  try {
    const cache = await readCacheLines(createInterface({ input, crlfDelay: Infinity }));
    if (cache !== undefined) return cache;
  } catch {
    // fall through: a corrupt cache only costs a rehash
  } finally {
    input.destroy();
  }
  problems.push(`${cacheFile}: hash cache unreadable, rehashing everything`);
  return {};
}

/** The entries of a cache file's lines, or undefined when they are not a whole cache of a known version. */
async function readCacheLines(lines: AsyncIterable<string>): Promise<HashCache | undefined> {
  const cache: HashCache = Object.create(null) as HashCache;
  let state: 'start' | 'entries' | 'end' = 'start';
  for await (const line of lines) {
    if (state === 'end') {
      if (line.trim() !== '') return undefined;
    } else if (state === 'start') {
      if (line !== CACHE_HEADER) return readCacheV1(line);
      state = 'entries';
    } else if (line === CACHE_FOOTER) {
      state = 'end';
    } else {
      const one = JSON.parse(`{${line.endsWith(',') ? line.slice(0, -1) : line}}`) as Record<string, unknown>;
      const keys = Object.keys(one);
      if (keys.length !== 1) return undefined;
      const entry = entrySchema.safeParse(one[keys[0]!]);
      if (!entry.success) return undefined;
      cache[keys[0]!] = entry.data;
    }
  }
  // No footer: a file cut short. Written by rename only, so not ours: rehash.
  return state === 'end' ? cache : undefined;
}

/** A version 1 cache (one JSON line): its hashes stand, marked as hashed before piece hashes existed. */
function readCacheV1(line: string): HashCache | undefined {
  const parsed = cacheV1Schema.safeParse(JSON.parse(line));
  if (!parsed.success) return undefined;
  const cache: HashCache = Object.create(null) as HashCache;
  for (const [path, entry] of Object.entries(parsed.data.files)) cache[path] = { ...entry, pieces: null };
  return cache;
}

// Entries are written in batches of about this many characters.
const CACHE_WRITE_BATCH = 1024 * 1024;

/** Write-temp, fsync, rename: a crash leaves either the old cache or the new one, never half of one. */
async function writeCache(cacheFile: string, files: HashCache): Promise<void> {
  const dir = dirname(cacheFile);
  await mkdir(dir, { recursive: true });
  const temp = `${cacheFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  try {
    let batch = `${CACHE_HEADER}\n`;
    let first = true;
    for (const path of Object.keys(files)) {
      batch += `${first ? '' : ',\n'}${JSON.stringify(path)}:${JSON.stringify(files[path])}`;
      first = false;
      if (batch.length >= CACHE_WRITE_BATCH) {
        await handle.write(batch);
        batch = '';
      }
    }
    await handle.write(`${batch}${first ? '' : '\n'}${CACHE_FOOTER}\n`);
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
