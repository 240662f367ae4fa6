// Scan runs: which mirrors can be scanned and from where, one scan of a mirror at a time, and where its inventory
// goes (the store, every instance, this instance's routing at once). How a listing is read is scan.ts's.
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { MirrorSpec } from '../core/model.js';
import type { Snapshot } from '../core/snapshot.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { ConflictError, InvalidStateError, NotFoundError, UpstreamError } from './errors.js';
import { guardedLookup } from './guardedLookup.js';
import type { MirrorLifecycle } from './lifecycle.js';
import { scanMirror, type ScanResult } from './scan.js';
import type { StateSync } from './stateSync.js';

/** Where a scan learns a mirror's files: its rsync module, else an http(s) manifest it publishes. */
export function scanSource(m: MirrorSpec): { rsyncUrl: string } | { manifestUrl: string } | undefined {
  if (m.rsyncUrl) return { rsyncUrl: m.rsyncUrl };
  const manifest = m.content.manifest;
  return manifest && /^https?:\/\//i.test(manifest) ? { manifestUrl: manifest } : undefined;
}

export interface ScanRunsOptions {
  config: Config;
  /** The snapshot routing uses now: a listing is compared with its files. */
  snapshot: () => Snapshot;
  state: Pick<StateSync, 'mirrors' | 'healthOf' | 'keepHealth' | 'setInventory'>;
  lifecycle: Pick<MirrorLifecycle, 'launchIfReady'>;
  store: Store;
  log: Logger;
}

export class ScanRuns {
  /** Mirrors being scanned now: a second scan of one is refused, not queued. */
  private readonly scanning = new Set<string>();

  constructor(private readonly opts: ScanRunsOptions) {}

  /** Scan every mirror that can be scanned (or just `ids`), keeping the previous inventory on failure. */
  async scanAll(ids?: readonly string[], onProgress?: (id: string, entries: number) => void): Promise<Map<string, ScanResult | Error>> {
    const out = new Map<string, ScanResult | Error>();
    for (const m of this.opts.state.mirrors()) {
      if (ids ? !ids.includes(m.id) : !scanSource(m)) continue;
      try {
        out.set(m.id, await this.scan(m.id, (n) => onProgress?.(m.id, n)));
      } catch (err) {
        out.set(m.id, err as Error);
      }
    }
    return out;
  }

  async scan(id: string, onProgress?: (entries: number) => void): Promise<ScanResult> {
    const { config, state, store, log } = this.opts;
    const mirror = state.mirrors().find((m) => m.id === id);
    if (!mirror) throw new NotFoundError(`no mirror "${id}"`);
    const source = scanSource(mirror);
    if (!source) throw new InvalidStateError(`mirror "${id}" has no rsyncUrl (or http(s) content.manifest) to scan`);
    if (this.scanning.has(id)) throw new ConflictError(`a scan of "${id}" is already running`);
    this.scanning.add(id);
    try {
      const result = await scanMirror({ id, ...source, content: mirror.content }, this.opts.snapshot().files, {
        onProgress,
        timeoutMs: config.scan.timeoutMs,
        // A mirror's name may resolve somewhere its URL could not point (config allowPrivateMirrorAddresses).
        ...(config.allowPrivateMirrorAddresses ? {} : { lookup: guardedLookup() }),
      });
      await store.putInventory(id, result.record);
      // Route by it here at once: our own copy of the change notice may come after the scan's answer.
      state.setInventory(id, result.record.entries);
      // A fresh inventory supersedes what probes found missing.
      const h = state.healthOf(id);
      if (h?.missing) {
        const { missing: _dropped, ...rest } = h;
        state.keepHealth(id, rest);
        await store.putHealth(id, rest);
        await store.publish({ kind: 'health', mirror: id });
      }
      await store.publish({ kind: 'inventory', mirror: id });
      log.info({ mirror: id, ...result.report, missingSample: undefined, staleSample: undefined }, 'scan complete');
      await this.opts.lifecycle.launchIfReady(id, result);
      return result;
    } catch (err) {
      log.error({ mirror: id, err: (err as Error).message }, 'scan failed; keeping the previous inventory');
      if (err instanceof StoreUnavailableError) throw err;
      throw new UpstreamError(`${(err as Error).message} (the previous inventory is kept)`);
    } finally {
      this.scanning.delete(id);
    }
  }
}
