// Loads the origin file set (manifest or local tree) and keeps it fresh without a restart.
import type { Logger } from '../core/logger.js';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileIndex } from '../core/fileIndex.js';
import type { OriginFile } from '../core/model.js';
import { formatManifestProblem, readOriginIndex } from './manifest.js';
import { indexOriginTree } from './originTree.js';

export interface OriginSource {
  manifest?: string;
  root?: string;
}

export type OriginLog = Logger;

/** A manifest younger than this that drops files is not trusted to have finished (see OriginWatch.changed). */
export const MANIFEST_SETTLE_MS = 60_000;

function* iterateBoth(files: FileIndex, more: OriginFile[]): Iterable<OriginFile> {
  for (let f = 0; f < files.count; f++) yield files.file(f);
  yield* more;
}

export async function loadOriginIndex(source: OriginSource, dataDir: string, log: OriginLog): Promise<FileIndex> {
  if (source.manifest) {
    // Straight into the index: a million-line manifest never becomes a million objects.
    const { index, problems } = await readOriginIndex(source.manifest);
    for (const p of problems)
      log.warn({ problem: formatManifestProblem(p) }, p.kept ? 'origin manifest line kept, with a note' : 'origin manifest line skipped');
    log.info({ files: index.count, skipped: problems.filter((p) => !p.kept).length, manifest: source.manifest }, 'origin manifest loaded');
    return index;
  }
  if (source.root) {
    let lastLog = 0;
    const { files, problems } = await indexOriginTree(source.root, {
      cacheFile: path.join(dataDir, 'origin-hashes.json'),
      onProgress(done, total, bytesDone, bytesTotal) {
        const now = Date.now();
        if (now - lastLog < 2000 && done < total) return;
        lastLog = now;
        log.info({ done, total, bytesDone, bytesTotal }, 'indexing origin tree');
      },
    });
    for (const p of problems) log.warn({ problem: p }, 'origin file skipped');
    log.info({ files: files.length, skipped: problems.length, root: source.root }, 'origin tree indexed');
    return FileIndex.from(files);
  }
  throw new Error('origin: neither manifest nor root is set');
}

/** How long a file on disk that a walk left out of the index is not looked for again, and how many such paths are kept. */
const LEFT_OUT_MS = 60_000;
const LEFT_OUT_KEPT = 10_000;

/**
 * A new origin index, and when it was read (epoch ms): its changes arrived by then. Dated by the look that
 * showed them, not the one before that did not: a mirror whose sync ended between the two may lack them.
 */
export interface OriginChange {
  files: FileIndex;
  since: number;
}

/**
 * Notices when the origin index changed since it was last read: a manifest when its mtime or size
 * moves, a local tree on every look (the hash cache makes an unchanged rescan cheap). Who looks, and
 * how often, is the caller's (the control plane's state sync, on the scheduler's timers).
 */
export class OriginWatch {
  private lastStamp = '';
  private unfinishedStamp = '';
  /** unchanged(): the stat running, and the one to run after it for the calls that came meanwhile. */
  private checking: Promise<boolean> | undefined;
  private nextCheck: Promise<boolean> | undefined;
  /** Paths a look for a missing file found on disk but the walk left out, and when (see leftOut). */
  private readonly leftOutAt = new Map<string, number>();

  constructor(
    private readonly source: OriginSource,
    private readonly dataDir: string,
    private readonly log: OriginLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes the index as just loaded to be current (a stamp that cannot be read now is simply not remembered). */
  async baseline(): Promise<void> {
    try {
      this.lastStamp = await this.stamp();
    } catch {
      // The next look reads the index again.
    }
  }

  /**
   * The new index when the origin changed since the last look, else undefined; throws when it cannot be
   * read, or when a manifest looks half-written (`gen > manifest.jsonl` empties it first, then fills it
   * line by line): changed while read, ending mid-line, or empty where the index in use (`current`) lists
   * files. The caller keeps its index then, and the next look tries again.
   */
  async changed(current?: FileIndex): Promise<OriginChange | undefined> {
    const stamp = await this.stamp();
    if (stamp === this.lastStamp) return undefined;
    const files = await loadOriginIndex(this.source, this.dataDir, this.log);
    // Whatever this read showed was there by now; an earlier time (the look before) would vouch for a
    // mirror whose sync ended after that look but before the file came.
    const since = this.clock();
    const manifest = this.source.manifest;
    if (manifest) {
      const keep = `keeping the previous index of ${current?.count ?? 0} files (write a new manifest to a temporary file and rename it over)`;
      if ((await this.stamp()) !== stamp) throw new Error(`origin manifest ${manifest} changed while it was read; ${keep}`);
      // A writer half-way through a line; a file that simply lacks its last newline is taken when it stays so.
      if (!(await endsWithNewline(manifest)) && this.unfinishedStamp !== stamp) {
        this.unfinishedStamp = stamp;
        throw new Error(`origin manifest ${manifest} ends in an unfinished line; ${keep}`);
      }
      if (files.count === 0 && (current?.count ?? 0) > 0) throw new Error(`origin manifest ${manifest} lists no file; ${keep}`);
      // A writer that puts out whole lines with pauses (`for f in …; do sha256sum …; echo …; done > manifest`)
      // leaves a file that ends on a newline half-way: its additions are taken, its removals only once it
      // has stood unchanged for a while, so no file still being written out is answered 404 meanwhile.
      const age = this.clock() - Number(stamp.split(':')[0]);
      if (current && age < MANIFEST_SETTLE_MS) {
        const dropped: OriginFile[] = [];
        for (let f = 0; f < current.count; f++) if (files.lookup(current.paths[f]!) < 0) dropped.push(current.file(f));
        if (dropped.length > 0) {
          this.log.warn(
            { manifest, dropped: dropped.length, settleMs: MANIFEST_SETTLE_MS },
            'origin manifest drops files and changed moments ago (perhaps still being written): keeping them until it stands unchanged',
          );
          // The stamp is not remembered: the next look reads it again, and takes it whole once settled.
          return { files: FileIndex.from(iterateBoth(files, dropped)), since };
        }
      }
    }
    this.lastStamp = stamp;
    return { files, since };
  }

  /**
   * Whether the origin may hold `relPath` though the index lacks it: always for a manifest (a look costs a
   * stat), for a local tree only where the file is there (a look walks the tree). The path is a checked
   * download path (no dot segments, NUL or backslash), so it stays below the root.
   */
  async mayHave(relPath: string): Promise<boolean> {
    if (this.source.manifest) return true;
    if (!this.source.root) return false;
    // A file there that a walk leaves out (a symlink out of the root, unreadable) must not cost a walk per request.
    const leftOut = this.leftOutAt.get(relPath);
    if (leftOut !== undefined && this.clock() - leftOut < LEFT_OUT_MS) return false;
    try {
      return (await stat(path.join(this.source.root, ...relPath.split('/')))).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Whether a manifest origin stands as the last look read it, by a stat begun after this call (one stat
   * serves every call made while the one before it ran): then a path the index lacks is not there, and no
   * look is worth waiting for. Never for a local tree, whose changes no stamp shows.
   */
  unchanged(): Promise<boolean> {
    if (!this.source.manifest) return Promise.resolve(false);
    if (!this.nextCheck) {
      const check: Promise<boolean> = (this.checking ?? Promise.resolve()).then(async () => {
        // Calls from now on need a stat begun after them: the next one.
        this.nextCheck = undefined;
        this.checking = check;
        try {
          return (await this.stamp()) === this.lastStamp;
        } catch {
          return false;
        } finally {
          if (this.checking === check) this.checking = undefined;
        }
      });
      this.nextCheck = check;
    }
    return this.nextCheck;
  }

  /** A look for `relPath` (mayHave said yes) did not bring it into the index: not looked for again for a while. */
  leftOut(relPath: string): void {
    if (!this.source.root) return;
    this.leftOutAt.delete(relPath);
    this.leftOutAt.set(relPath, this.clock());
    if (this.leftOutAt.size > LEFT_OUT_KEPT) this.leftOutAt.delete(this.leftOutAt.keys().next().value!);
  }

  private async stamp(): Promise<string> {
    if (!this.source.manifest) return String(Date.now());
    const s = await stat(this.source.manifest);
    return `${s.mtimeMs}:${s.size}`;
  }
}

/** An empty file, or one whose last byte is a newline: no writer is half-way through a line. */
async function endsWithNewline(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}
