// Loads the origin file set (manifest or local tree) and keeps it fresh without a restart.
import type { Logger } from '../core/logger.js';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FileIndex } from '../core/fileIndex.js';
import { formatManifestProblem, readOriginIndex } from './manifest.js';
import { indexOriginTree } from './originTree.js';

export interface OriginSource {
  manifest?: string;
  root?: string;
}

export type OriginLog = Logger;

export async function loadOriginIndex(source: OriginSource, dataDir: string, log: OriginLog): Promise<FileIndex> {
  if (source.manifest) {
    // Straight into the index: a million-line manifest never becomes a million objects.
    const { index, problems } = await readOriginIndex(source.manifest);
    for (const p of problems)
      log.warn({ problem: formatManifestProblem(p) }, p.kept ? 'origin manifest line kept without piece hashes' : 'origin manifest line skipped');
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

/**
 * Re-reads the origin index when it changes: a manifest when its mtime or size moves, a
 * local tree on every tick (the hash cache makes an unchanged rescan cheap).
 */
export function watchOrigin(source: OriginSource, dataDir: string, log: OriginLog, onIndex: (files: FileIndex) => void, intervalMs: number): () => void {
  let lastStamp = '';
  let busy = false;
  const stampOf = async () => {
    if (!source.manifest) return String(Date.now());
    const s = await stat(source.manifest);
    return `${s.mtimeMs}:${s.size}`;
  };
  void stampOf().then(
    (s) => (lastStamp = s),
    () => {},
  );
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const stamp = await stampOf();
      if (stamp === lastStamp) return;
      lastStamp = stamp;
      onIndex(await loadOriginIndex(source, dataDir, log));
    } catch (err) {
      // Keep serving the index we have: a half-written manifest must not empty the file set.
      log.error({ err }, 'origin refresh failed; keeping the previous index');
    } finally {
      busy = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
