// Probe rounds: which files each mirror is probed for, what a result makes of its health record, and where the
// record goes (the store, every instance, this instance's routing). Where a single probe lands is prober.ts's.
import type { Config } from '../config/schema.js';
import { nextHealth, type ProbeOutcome } from '../core/health.js';
import type { Logger } from '../core/logger.js';
import { chooseSamples } from '../core/samples.js';
import type { HealthRecord } from '../core/model.js';
import { mirrorCarries, type Snapshot } from '../core/snapshot.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { guardedLookup } from './guardedLookup.js';
import type { MirrorLifecycle } from './lifecycle.js';
import { Prober, readOriginTrace, type ProbeTarget } from './prober.js';
import type { StateSync } from './stateSync.js';

/** How many earlier-missing files one probe looks at again. */
const RECHECK_MISSING = 5;

export interface ProbeRoundsOptions {
  config: Config;
  /** The snapshot routing uses now: its mirrors are probed, its files sampled. */
  snapshot: () => Snapshot;
  state: Pick<StateSync, 'healthOf' | 'keepHealth' | 'routeLocally'>;
  lifecycle: Pick<MirrorLifecycle, 'activateIfPending'>;
  store: Store;
  log: Logger;
  clock: () => number;
  /** Told of every probe result (metrics). */
  onProbe?: (mirror: string, ok: boolean) => void;
  /** Told when a probe sees a mirror's trace move on: it synced since (its inventory is worth a new scan). */
  onSynced?: (mirror: string) => void;
}

export class ProbeRounds {
  private readonly opts: ProbeRoundsOptions;
  private readonly prober: Prober;
  /** Rounds so far: each samples other files. */
  private round = 0;

  constructor(opts: ProbeRoundsOptions) {
    this.opts = opts;
    this.prober = new Prober({
      timeoutMs: opts.config.health.timeoutMs,
      sampleFiles: opts.config.health.sampleFiles,
      clock: opts.clock,
      log: opts.log,
      // A mirror's name may resolve somewhere its URL could not point (config allowPrivateMirrorAddresses).
      ...(opts.config.allowPrivateMirrorAddresses ? {} : { lookup: guardedLookup() }),
    });
  }

  /** On-demand probes running (probeOne), by mirror. */
  private readonly onDemand = new Map<string, Promise<HealthRecord | undefined>>();

  async close(): Promise<void> {
    await this.prober.close();
  }

  /** Probes a mirror soon, off the caller's path: a mirror added by hand is pending until then. */
  probeSoon(id: string): void {
    void this.probeAll([id]).catch((err: unknown) => this.opts.log.warn({ mirror: id, err: (err as Error).message }, 'first probe of a new mirror failed'));
  }

  /**
   * Probes one mirror now, for staff or its provider: a probe of it already running is joined, so a burst
   * of asks cannot relay its request rate onto the mirror and the origin's trace.
   */
  probeOne(id: string): Promise<HealthRecord | undefined> {
    const running = this.onDemand.get(id);
    if (running) return running;
    const run = this.probeAll([id])
      .then((results) => results.get(id))
      .finally(() => this.onDemand.delete(id));
    this.onDemand.set(id, run);
    return run;
  }

  /** Probe every mirror once (or just `ids`); results land in the store and reach every instance. */
  async probeAll(ids?: readonly string[]): Promise<Map<string, HealthRecord>> {
    const { config, state, store, log } = this.opts;
    const snapshot = this.opts.snapshot();
    const originTrace = await readOriginTrace(config.origin.baseUrl, config.origin.trace, config.health.timeoutMs);
    const round = this.round++;
    const rechecked = new Map<string, string[]>();
    const targets = snapshot.mirrors
      .filter((m) => !ids || ids.includes(m.spec.id))
      .map((m) => {
        const samples = chooseSamples(snapshot.files, (f) => mirrorCarries(snapshot, m, f), config.health.sampleFiles, round);
        // Files found missing earlier are looked at again, so a brief 404 (mid-sync) does not
        // keep a file off a mirror that has no rsyncUrl to be rescanned.
        const again = inTurn(state.healthOf(m.spec.id)?.missing ?? [], RECHECK_MISSING, round).flatMap((path) => {
          const f = snapshot.files.lookup(path);
          return f < 0 ? [] : [{ path, size: snapshot.files.size(f) }];
        });
        rechecked.set(
          m.spec.id,
          again.map((s) => s.path),
        );
        // A mirror's own trace path replaces the origin's candidates: staff said where it is.
        return { id: m.spec.id, baseUrl: m.spec.baseUrl, tracePath: m.spec.trace ?? config.origin.trace, samples, recheck: again };
      });
    const results = new Map<string, HealthRecord>();
    await this.prober.probeAll(targets, async (target, outcome: ProbeOutcome) => {
      // A mirror deleted or moved while it was probed: what its old address answered is not its health
      // (a mirror added under the id meanwhile starts unprobed, never "up" on the old one's word).
      if (!stillAt(this.opts.snapshot(), target, config.origin.trace)) return;
      const prev = state.healthOf(target.id);
      const next = nextHealth(prev, outcome, {
        failuresToDown: config.health.failuresToDown,
        successesToUp: config.health.successesToUp,
        originTraceTime: originTrace,
      });
      // Files found missing stay off the mirror until a scan, or a probe that reaches the mirror,
      // finds them again (a probe that reaches it looks at each of them, on top of its samples).
      const missing = new Set(prev?.missing ?? []);
      if (outcome.ok) for (const path of rechecked.get(target.id) ?? []) if (!outcome.missing?.includes(path)) missing.delete(path);
      for (const path of outcome.missing ?? []) missing.add(path);
      const record: HealthRecord = { ...next, ...(missing.size ? { missing: [...missing] } : {}) };
      results.set(target.id, record);
      this.opts.onProbe?.(target.id, outcome.ok);
      if (prev?.lastSync !== undefined && record.lastSync !== undefined && record.lastSync > prev.lastSync) this.opts.onSynced?.(target.id);
      state.keepHealth(target.id, record);
      if (outcome.ok) {
        // No trace is no failure (trace files are optional): up, with lag unknown.
        const lag = outcome.traceProblem !== undefined ? { lag: 'unknown', trace: outcome.traceProblem } : {};
        log.info({ mirror: target.id, latencyMs: outcome.latencyMs, health: record.health, ...lag }, 'probe ok');
      } else log.warn({ mirror: target.id, reason: outcome.reason, health: record.health }, 'probe failed');
      try {
        await store.putHealth(target.id, record);
        await store.publish({ kind: 'health', mirror: target.id });
        if (record.health === 'up') await this.opts.lifecycle.activateIfPending(target.id);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // Not shared now, but this instance routes by what it just learned; the store catches
        // up with the next round after it returns.
        state.routeLocally();
      }
    });
    return results;
  }
}

/** Whether the mirror `target` was made for is still in routing at the address and trace path it was probed at. */
function stillAt(snapshot: Snapshot, target: Pick<ProbeTarget, 'id' | 'baseUrl' | 'tracePath'>, originTrace: ProbeTarget['tracePath']): boolean {
  const at = snapshot.byId.get(target.id);
  const spec = at === undefined ? undefined : snapshot.mirrors[at]?.spec;
  return spec !== undefined && spec.baseUrl === target.baseUrl && (spec.trace ?? originTrace) === target.tracePath;
}

/** Up to `n` of `list`, a different part each round, so every one of a long list is looked at in turn. */
function inTurn<T>(list: readonly T[], n: number, round: number): T[] {
  if (list.length <= n) return [...list];
  const start = (round * n) % list.length;
  return Array.from({ length: n }, (_, i) => list[(start + i) % list.length]!);
}
