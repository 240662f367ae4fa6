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
import { formatManifestProblem } from './manifest.js';
import { scanSource } from '../core/mirrors.js';
import { scanMirror, type ScanResult } from './scan.js';
import type { StateSync } from './stateSync.js';

/** How many unreadable listing lines one scan names in the log. */
const LOGGED_PROBLEMS = 20;

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
  /** Scans running now, by mirror: asking for one of these joins it instead of starting another. */
  private readonly running = new Map<string, Promise<ScanResult>>();

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

  /**
   * Scans one mirror now. A scan of it already running (a scheduled one, or one started when its offer
   * was accepted) is joined: its answer is this one's, without progress.
   */
  scan(id: string, onProgress?: (entries: number) => void): Promise<ScanResult> {
    const mirror = this.opts.state.mirrors().find((m) => m.id === id);
    if (!mirror) return Promise.reject(new NotFoundError(`no mirror "${id}"`));
    const source = scanSource(mirror);
    if (!source) return Promise.reject(new InvalidStateError(`mirror "${id}" has no rsyncUrl or content.manifest to scan`));
    const under = this.running.get(id);
    if (under) return under;
    const run = this.run(mirror, source, onProgress).finally(() => this.running.delete(id));
    this.running.set(id, run);
    return run;
  }

  /** Starts a scan of a mirror that can be scanned and returns at once; a failure is logged (scan() logs it). */
  scanSoon(id: string): void {
    const mirror = this.opts.state.mirrors().find((m) => m.id === id);
    if (!mirror || !scanSource(mirror)) return;
    this.scan(id).catch(() => undefined);
  }

  private async run(mirror: MirrorSpec, source: NonNullable<ReturnType<typeof scanSource>>, onProgress?: (entries: number) => void): Promise<ScanResult> {
    const { config, state, store, log } = this.opts;
    const id = mirror.id;
    // Files probes found missing before the listing: the scan's answer about them supersedes the probes'.
    const missingBefore = new Set(state.healthOf(id)?.missing ?? []);
    try {
      // Lines the listing could not read, named (the first few; the report counts them all as `unparsed`).
      let problems = 0;
      const result = await scanMirror({ id, ...source, content: mirror.content }, this.opts.snapshot().files, {
        onProgress,
        onProblem: (p) => {
          if (++problems <= LOGGED_PROBLEMS) log.warn({ mirror: id, problem: formatManifestProblem(p) }, 'scan listing line skipped');
        },
        timeoutMs: config.scan.timeoutMs,
        // A mirror's name may resolve somewhere its URL could not point (config allowPrivateMirrorAddresses).
        ...(config.allowPrivateMirrorAddresses ? {} : { lookup: guardedLookup() }),
      });
      // A mirror deleted, or given another source or rules, while its listing ran: the listing is not its inventory.
      const now = state.mirrors().find((m) => m.id === id);
      if (!now || !sameListing(now, mirror)) {
        throw new ConflictError(`mirror "${id}" was deleted or changed while it was scanned; its listing was dropped (scan it again)`);
      }
      await store.putInventory(id, result.record);
      // Route by it here at once: our own copy of the change notice may come after the scan's answer.
      state.setInventory(id, result.record.entries);
      // A fresh inventory supersedes what probes found missing before it was taken; what a probe found
      // while the listing ran is newer than the listing, and stays.
      const h = state.healthOf(id);
      if (h?.missing) {
        const { missing, ...others } = h;
        const after = missing.filter((p) => !missingBefore.has(p));
        const rest = after.length ? { ...others, missing: after } : others;
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
      if (err instanceof StoreUnavailableError || err instanceof ConflictError) throw err;
      throw new UpstreamError(`${(err as Error).message} (the previous inventory is kept)`);
    }
  }
}

/** Whether two specs of a mirror would be listed alike: the same source, read under the same rules. */
function sameListing(a: MirrorSpec, b: MirrorSpec): boolean {
  return JSON.stringify([scanSource(a), a.content]) === JSON.stringify([scanSource(b), b.content]);
}
