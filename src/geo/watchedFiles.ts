// Keeps data loaded from files current: reloads it when a file is replaced, and keeps the old data when the new file is bad.

import type { Logger } from '../core/logger.js';
import { stat } from 'node:fs/promises';
import { type FSWatcher, unwatchFile, watch, watchFile } from 'node:fs';
import path from 'node:path';

/** What reloads report; pino's logger fits. */
export type GeoLog = Pick<Logger, 'info' | 'warn'>;

export interface WatchedFilesOptions<T> {
  /** Named in log lines and errors, e.g. "geoip.city". */
  label: string;
  files: readonly string[];
  /** Reads and checks every file; throws when they are not usable. `signature` changes whenever a file does. */
  load(files: readonly string[], signature: string): Promise<T>;
  log?: GeoLog;
  /** Watch for replacements (default true). */
  watch?: boolean;
  /** Quiet time after the last change event before reloading: a copy in place sends many (default 500 ms). */
  settleMs?: number;
  /** Only where the directory cannot be watched (inotify exhausted, some network file systems): stat poll interval (default 60 s). */
  pollMs?: number;
  clock?: () => number;
}

export interface WatchedFiles<T> {
  current(): T;
  /** Counts successful reloads: 0 until the files are first replaced. */
  generation(): number;
  /** When the data in use was loaded, and why the last reload failed (cleared by a good one). */
  status(): { loadedAt: number; reloadError?: string };
  /** Wait for any reload in progress (tests, shutdown). */
  settled(): Promise<void>;
  close(): void;
}

/**
 * Load the files, then watch their folders. geoipupdate (and any careful updater) writes a new
 * file beside the old one and renames it over: the folder sees a rename, the path a new inode.
 * A folder watch sees that and in-place copies alike; watching the file itself would follow the
 * old, renamed-away inode and miss the update. After the events settle, each file is stat'ed and
 * reloaded only when its inode, size or mtime changed; a file that fails to load is logged and
 * the data already loaded goes on answering.
 */
export async function openWatchedFiles<T>(opts: WatchedFilesOptions<T>): Promise<WatchedFiles<T>> {
  const clock = opts.clock ?? Date.now;
  const files = opts.files.map((f) => path.resolve(f));
  let signatures = await Promise.all(files.map(fileSignature));
  let data = await opts.load(files, signatures.join(' '));
  let loadedAt = clock();
  let reloadError: string | undefined;
  let generation = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reloading: Promise<void> = Promise.resolve();
  const watchers: FSWatcher[] = [];
  const polled: string[] = [];

  const reload = async (): Promise<void> => {
    const now = await Promise.all(files.map((f) => fileSignature(f).catch(() => 'missing')));
    if (closed || now.every((s, i) => s === signatures[i])) return;
    try {
      const next = await opts.load(files, now.join(' '));
      if (closed) return;
      data = next;
      generation++;
      signatures = now;
      loadedAt = clock();
      reloadError = undefined;
      opts.log?.info({ geoip: opts.label, files }, 'GeoIP data reloaded');
    } catch (err) {
      // Remember what we saw, so the same bad file is not retried on every event; a new one will be.
      signatures = now;
      reloadError = err instanceof Error ? err.message : String(err);
      opts.log?.warn({ geoip: opts.label, files, err: reloadError }, 'GeoIP data not reloaded; the previous data stays in use');
    }
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reloading = reloading.then(reload);
    }, opts.settleMs ?? 500);
    timer.unref?.();
  };

  if (opts.watch !== false) {
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = path.dirname(f);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(path.basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // Some platforms do not name the file; then any change in the folder is checked.
          if (name === null || names.has(String(name))) schedule();
        });
        w.on('error', (err) => opts.log?.warn({ geoip: opts.label, dir, err: err.message }, 'GeoIP folder watch failed'));
        watchers.push(w);
      } catch (err) {
        opts.log?.warn({ geoip: opts.label, dir, err: (err as Error).message }, 'cannot watch the GeoIP folder; polling its files instead');
        for (const name of names) {
          const f = path.join(dir, name);
          watchFile(f, { persistent: false, interval: opts.pollMs ?? 60_000 }, schedule);
          polled.push(f);
        }
      }
    }
  }

  return {
    current: () => data,
    generation: () => generation,
    status: () => ({ loadedAt, ...(reloadError !== undefined ? { reloadError } : {}) }),
    settled: () => reloading,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      for (const f of polled) unwatchFile(f, schedule);
    },
  };
}

/** A file's identity: it changes whenever the file is replaced or rewritten. One file's is the `signature` its load gets. */
export async function fileSignature(file: string): Promise<string> {
  const s = await stat(file);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}
