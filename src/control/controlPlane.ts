// The control plane: keeps the snapshot in step with the store, and runs the probe and scan loops.
import type { Logger } from '../core/logger.js';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { nextHealth, type ProbeOutcome } from '../core/health.js';
import { effectiveMirrors, mirrorStates } from '../core/mirrors.js';
import type { InventoryEntry, MirrorSpec } from '../core/model.js';
import { privateAddressFields } from '../config/addressPolicy.js';
import { ruleKey } from '../core/availability.js';
import { unconfirmedOverride } from '../store/stateCheck.js';
import { reconcileAudit } from './reconcile.js';
import { chooseSamples } from '../core/samples.js';
import { mirrorCarries } from '../core/snapshot.js';
import { StoreUnavailableError, type AuditEntry, type Change, type HealthRecord, type MirrorOverride, type Offer, type Store } from '../store/store.js';
import { ConflictError, InvalidStateError, NotFoundError, UpstreamError } from './errors.js';
import { UploadedLogos, type Logo } from './logos.js';
import { Prober, readOriginTrace } from './prober.js';
import { scanMirror, type ScanResult } from './scan.js';
import { SessionService } from './sessions.js';
import type { SnapshotBuilder } from './snapshotBuilder.js';
import { TokenRegistry } from './tokens.js';
import { Scheduler, type Timers } from './scheduler.js';

/** Audit entries an instance on Redis keeps a copy of, to write back if the store loses its data (or show during an outage). */
const AUDIT_KEPT = 10_000;
/** How often an instance on Redis checks that the store still holds its data (the epoch), and reads new audit entries. */
const EPOCH_CHECK_MS = 1_000;
const AUDIT_REFRESH_MS = 5_000;

/** Where a scan learns a mirror's files: its rsync module, else an http(s) manifest it publishes. */
function scanSource(m: MirrorSpec): { rsyncUrl: string } | { manifestUrl: string } | undefined {
  if (m.rsyncUrl) return { rsyncUrl: m.rsyncUrl };
  const manifest = m.content.manifest;
  return manifest && /^https?:\/\//i.test(manifest) ? { manifestUrl: manifest } : undefined;
}

/** How many earlier-missing files one probe looks at again. */
const RECHECK_MISSING = 5;

export type ControlLog = Logger;

export interface ControlPlaneOptions {
  config: Config;
  /** The config file's mirrors, before runtime changes. */
  configMirrors: readonly MirrorSpec[];
  /** Inventories from the config's mirror manifests, used until a scan replaces them. */
  configInventories: ReadonlyMap<string, InventoryEntry[]>;
  store: Store;
  builder: SnapshotBuilder;
  log: ControlLog;
  clock?: () => number;
  /** Run the probe and scan loops (off in tests that drive them by hand). */
  loops?: boolean;
  /** The loops' timers (the global ones by default). */
  timers?: Timers;
  /** Told of every probe result (metrics). */
  onProbe?: (mirror: string, ok: boolean) => void;
}

/**
 * One per instance. Reads shared state from the store into the snapshot builder, follows the
 * store's change feed, and — on the instance holding the lease — probes and scans mirrors.
 */
export class ControlPlane {
  readonly instanceId = randomUUID();
  private readonly opts: ControlPlaneOptions;
  private readonly clock: () => number;
  private overrides = new Map<string, MirrorOverride>();
  private health = new Map<string, HealthRecord>();
  private readonly prober: Prober;
  private probeRound = 0;
  private timers: NodeJS.Timeout[] = [];
  /** The probe and scan loops, each on one instance at a time. */
  private readonly scheduler: Scheduler;
  private unsubscribe: (() => void) | undefined;
  private unstatus: (() => void) | undefined;
  private rampTimer: NodeJS.Timeout | undefined;
  private scanning = new Set<string>();
  /** Tokens this instance accepts: the config's and those issued at runtime. */
  readonly tokens: TokenRegistry;
  readonly sessions: SessionService;
  /** Sponsor logos uploaded at runtime. */
  readonly uploadedLogos = new UploadedLogos();
  /** The offers as last read: what the console shows while the store is unreachable, and writes back after a loss. */
  private offers = new Map<string, Offer>();
  /** A copy of the newest audit entries (insertion order = oldest first). */
  private readonly auditKept = new Map<string, AuditEntry>();
  /** The store's epoch as this instance last saw it; undefined until first read. */
  private knownEpoch: string | undefined;
  private restoring: Promise<void> | undefined;

  constructor(opts: ControlPlaneOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.tokens = new TokenRegistry(opts.config.tokens);
    this.sessions = new SessionService(opts.store, this.tokens, this.clock);
    this.prober = new Prober({
      timeoutMs: opts.config.health.timeoutMs,
      sampleFiles: opts.config.health.sampleFiles,
      clock: this.clock,
      log: opts.log,
    });
    this.scheduler = new Scheduler({ store: opts.store, holder: this.instanceId, log: opts.log, ...(opts.timers ? { timers: opts.timers } : {}) });
  }

  async start(): Promise<void> {
    const { store } = this.opts;
    this.unsubscribe = store.subscribe((change) => void this.apply(change));
    this.unstatus = store.onStatus((s) => {
      // Back from an outage: changes published meanwhile were missed, so reload everything.
      if (s.available) void this.reloadAll();
    });
    try {
      // A crash may have left an audited change unwritten (the log is written first): roll it forward.
      await reconcileAudit(store, { clock: this.clock, log: this.opts.log });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'could not compare the state with the audit log at start');
    }
    await this.reloadAll();
    if (this.opts.loops !== false) {
      this.startLoops();
      if (store.kind === 'redis') this.watchEpoch();
    }
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.rampTimer) clearTimeout(this.rampTimer);
    if (this.pendingReload) clearTimeout(this.pendingReload);
    this.unsubscribe?.();
    this.unstatus?.();
    await this.prober.close();
  }

  /** The effective mirrors (config + staff changes), as the snapshot has them. */
  mirrors(): MirrorSpec[] {
    return effectiveMirrors(this.opts.configMirrors, this.overrides);
  }

  override(id: string): MirrorOverride | undefined {
    return this.overrides.get(id);
  }

  healthOf(id: string): HealthRecord | undefined {
    return this.health.get(id);
  }

  /** The config file's mirror of this id, before runtime changes. */
  configMirror(id: string): MirrorSpec | undefined {
    return this.opts.configMirrors.find((m) => m.id === id);
  }

  /** The effective spec a mirror would have with `next` as its override (to tell a real change from a no-op). */
  previewSpec(id: string, next: MirrorOverride): MirrorSpec | undefined {
    return effectiveMirrors(this.opts.configMirrors, new Map([...this.overrides, [id, next]])).find((m) => m.id === id);
  }

  /** An uploaded logo, when the mirror has one. */
  logo(id: string): Logo | undefined {
    return this.uploadedLogos.get(id);
  }

  /** The offers as last read from the store (newest changes applied as their notices arrive). */
  cachedOffers(): Offer[] {
    return [...this.offers.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** This instance's copy of the audit log, newest first. */
  keptAudit(): AuditEntry[] {
    return [...this.auditKept.values()].reverse();
  }

  /** Remembers an audit entry (ours, or one read from the store) for writing back after a loss. */
  noteAudit(entry: AuditEntry): void {
    // The embedded store is this process's own: it cannot be lost or away behind our back.
    if (this.opts.store.kind === 'memory') return;
    this.auditKept.delete(entry.id);
    this.auditKept.set(entry.id, entry);
    while (this.auditKept.size > AUDIT_KEPT) this.auditKept.delete(this.auditKept.keys().next().value!);
  }

  private async refreshAudit(limit: number): Promise<void> {
    if (this.opts.store.kind === 'memory') return;
    const entries = await this.opts.store.listAudit({ limit });
    // Oldest first, so the copy stays in time order.
    for (const entry of entries.reverse()) if (!this.auditKept.has(entry.id)) this.noteAudit(entry);
  }

  /**
   * Notices a store that lost its data (a new epoch: Redis restarted empty, or was flushed) and
   * writes back what this instance holds. Called before every change and reload, and every second
   * on Redis, so a change is never made on (nor read from) an emptied store before the write-back.
   */
  async ensureEpoch(): Promise<void> {
    if (this.restoring) return this.restoring;
    const epoch = await this.opts.store.epoch();
    if (this.knownEpoch === undefined || epoch === this.knownEpoch) {
      this.knownEpoch = epoch;
      return;
    }
    const before = this.knownEpoch;
    this.restoring = this.restore(before, epoch).finally(() => {
      this.restoring = undefined;
    });
    return this.restoring;
  }

  private watchEpoch(): void {
    let last = 0;
    const tick = () => {
      void (async () => {
        if (!this.opts.store.status().available) return;
        try {
          await this.ensureEpoch();
          if (this.clock() - last >= AUDIT_REFRESH_MS) {
            last = this.clock();
            await this.refreshAudit(500);
          }
        } catch (err) {
          if (!(err instanceof StoreUnavailableError)) this.opts.log.error({ err: (err as Error).message }, 'checking the shared store failed');
        }
      })();
    };
    const t = setInterval(tick, EPOCH_CHECK_MS);
    t.unref();
    this.timers.push(t);
  }

  /** Writes back, item by item, whatever the store lacks or holds an older copy of. */
  private async restore(before: string, epoch: string): Promise<void> {
    const { store, log } = this.opts;
    log.error(
      { epochBefore: before, epoch },
      'THE SHARED STORE LOST ITS DATA (Redis came back empty or was flushed): writing back what this instance holds. Run Redis with persistence (appendonly yes).',
    );
    const restored = { overrides: 0, health: 0, offers: 0, tokens: 0, logos: 0, sessions: 0, audit: 0 };
    const storedOverrides = await store.getOverrides();
    for (const [id, o] of this.overrides) {
      const there = storedOverrides.get(id);
      if (there && there.updatedAt >= o.updatedAt) continue;
      await store.putOverride(id, o);
      restored.overrides++;
    }
    const storedHealth = await store.getHealth();
    for (const [id, h] of this.health) {
      if ((storedHealth.get(id)?.checkedAt ?? -1) >= (h.checkedAt ?? 0)) continue;
      await store.putHealth(id, h);
      restored.health++;
    }
    const storedOffers = new Map((await store.getOffers()).map((o) => [o.id, o]));
    for (const o of this.offers.values()) {
      const there = storedOffers.get(o.id);
      if (there && (there.decidedAt ?? 0) >= (o.decidedAt ?? 0)) continue;
      await store.putOffer(o);
      restored.offers++;
    }
    const storedTokens = new Map((await store.getTokens()).map((t) => [t.id, t]));
    for (const t of this.tokens.records()) {
      const there = storedTokens.get(t.id);
      // A revocation is never undone by a write-back.
      if (there && (there.revokedAt !== undefined || t.revokedAt === undefined)) continue;
      await store.putToken(t);
      restored.tokens++;
    }
    const storedLogos = await store.getLogos();
    for (const [mirror, logo] of this.uploadedLogos.entries()) {
      if ((storedLogos.get(mirror)?.updatedAt ?? -1) >= logo.updatedAt) continue;
      await store.putLogo(mirror, logo);
      restored.logos++;
    }
    for (const [key, session] of this.sessions.held()) {
      if (await store.getSession(key)) continue;
      await store.putSession(key, session);
      restored.sessions++;
    }
    restored.audit = await store.mergeAudit(this.keptAudit().reverse());
    this.knownEpoch = epoch;
    // Every instance reloads what was written back (and notices the new epoch itself).
    for (const id of this.overrides.keys()) await store.publish({ kind: 'override', mirror: id });
    for (const t of this.tokens.records()) await store.publish({ kind: 'token', id: t.id });
    for (const [mirror] of this.uploadedLogos.entries()) await store.publish({ kind: 'logo', mirror });
    log.error(
      { epoch, restored },
      'wrote back to the shared store what it had lost; statistics counted before the loss are gone, inventories return with the next scans',
    );
    // The inventories were lost with the rest: scan again what can be scanned (on the scan lease holder).
    if (this.opts.loops !== false) {
      const { config } = this.opts;
      void this.scheduler.withLease('scan', config.scan.timeoutMs + config.scan.intervalMs, () => this.scanAll());
    }
  }

  /** Re-reads the runtime tokens; called on a token change anywhere. */
  async reloadTokens(): Promise<void> {
    this.tokens.setRuntime(await this.opts.store.getTokens());
  }

  async reloadLogo(mirror: string): Promise<void> {
    this.uploadedLogos.set(mirror, (await this.opts.store.getLogos()).get(mirror));
  }

  async reloadOffer(id: string): Promise<void> {
    const offer = await this.opts.store.getOffer(id);
    if (offer) this.offers.set(id, offer);
    else this.offers.delete(id);
  }

  /** Probes a mirror soon, off the caller's path: a mirror added by hand is pending until then. */
  probeSoon(id: string): void {
    void this.probeAll([id]).catch((err: unknown) => this.opts.log.warn({ mirror: id, err: (err as Error).message }, 'first probe of a new mirror failed'));
  }

  /**
   * What we probed ourselves while the store was away is newer than what it holds: keep it,
   * and write it back, so a mirror that died during an outage is not "up" again on return.
   */
  private async mergeHealth(stored: Map<string, HealthRecord>): Promise<Map<string, HealthRecord>> {
    for (const [id, local] of this.health) {
      const shared = stored.get(id);
      if ((local.checkedAt ?? 0) <= (shared?.checkedAt ?? 0)) continue;
      stored.set(id, local);
      await this.opts.store.putHealth(id, local);
      await this.opts.store.publish({ kind: 'health', mirror: id });
    }
    return stored;
  }

  /** Re-read staff changes and rebuild; called after our own writes so they read back at once. */
  async reloadOverrides(): Promise<void> {
    this.overrides = this.checked(await this.opts.store.getOverrides());
    await this.publishMirrors();
  }

  /** Read back as the admin API would accept it: a mirror URL at a private address (unless allowed) leaves the mirror unconfirmed. */
  private checked(overrides: Map<string, MirrorOverride>): Map<string, MirrorOverride> {
    if (this.opts.config.allowPrivateMirrorAddresses) return overrides;
    for (const [id, o] of overrides) {
      const problems = Object.entries(privateAddressFields({ ...o.patch, content: o.patch.content ?? null }));
      if (problems.length === 0) continue;
      const reason = `stored ${problems.map(([field, message]) => `${field} ${message}`).join('; ')}`;
      if (!this.reportedUnsafe.has(`${id}\n${reason}`)) {
        this.reportedUnsafe.add(`${id}\n${reason}`);
        this.opts.log.error({ mirror: id, reason }, 'stored staff state refused; the mirror gets no downloads until staff change it');
      }
      overrides.set(id, unconfirmedOverride(reason));
    }
    return overrides;
  }

  private readonly reportedUnsafe = new Set<string>();

  /** Whether mirror and offer URLs may point at private addresses (config allowPrivateMirrorAddresses). */
  get allowsPrivateAddresses(): boolean {
    return this.opts.config.allowPrivateMirrorAddresses;
  }

  async reloadAll(): Promise<void> {
    const { store, builder, log } = this.opts;
    try {
      await this.ensureEpoch();
      this.overrides = this.checked(await store.getOverrides());
      this.health = await this.mergeHealth(await store.getHealth());
      await this.publishMirrors();
      this.tokens.setRuntime(await store.getTokens());
      this.uploadedLogos.replaceAll(await store.getLogos());
      this.offers = new Map((await store.getOffers()).map((o) => [o.id, o]));
      await this.refreshAudit(AUDIT_KEPT);
      const scanned = new Set(await store.listInventories());
      for (const m of this.mirrors()) {
        if (scanned.has(m.id)) {
          const rec = await store.getInventory(m.id);
          if (rec) builder.setInventory(m.id, rec.entries);
        } else {
          const entries = this.opts.configInventories.get(m.id);
          if (entries) builder.setInventory(m.id, entries);
        }
      }
    } catch (err) {
      // Keep redirecting from the last snapshot; the status listener reloads when the store returns.
      log.error({ err: (err as Error).message }, 'control plane reload failed; serving the last snapshot');
    }
  }

  private pendingReload: NodeJS.Timeout | undefined;
  private pendingKinds = new Set<'override' | 'health' | 'local'>();

  private async apply(change: Change): Promise<void> {
    const { store, builder, log } = this.opts;
    try {
      switch (change.kind) {
        case 'override':
        case 'health':
          this.coalesce(change.kind);
          break;
        case 'inventory': {
          // Only a mirror we route to has an inventory worth reading (a notice names, it does not decide).
          if (!this.mirrors().some((m) => m.id === change.mirror)) break;
          const rec = await store.getInventory(change.mirror);
          if (rec) builder.setInventory(change.mirror, rec.entries);
          else builder.removeInventory(change.mirror);
          break;
        }
        case 'offer':
          await this.reloadOffer(change.id);
          break;
        case 'token':
          await this.reloadTokens();
          break;
        case 'logo':
          await this.reloadLogo(change.mirror);
          break;
      }
    } catch (err) {
      log.error({ err: (err as Error).message, change }, 'applying a change failed');
    }
  }

  /**
   * A probe round publishes one change per mirror; reloading and rebuilding once per burst
   * (within 50 ms) keeps 1,000 mirrors from costing 1,000 rebuilds on every instance.
   */
  private coalesce(kind: 'override' | 'health' | 'local'): void {
    this.pendingKinds.add(kind);
    if (this.pendingReload) return;
    this.pendingReload = setTimeout(() => {
      this.pendingReload = undefined;
      const kinds = this.pendingKinds;
      this.pendingKinds = new Set();
      void (async () => {
        try {
          // A change notice on an emptied store must not make us forget what we hold: write it back first.
          // Our own probe results ('local', while the store is away) are applied whatever the store says.
          if (kinds.has('override') || kinds.has('health')) await this.ensureEpoch();
          if (kinds.has('override')) this.overrides = this.checked(await this.opts.store.getOverrides());
          if (kinds.has('health')) this.health = await this.opts.store.getHealth();
          await this.publishMirrors();
        } catch (err) {
          this.opts.log.error({ err: (err as Error).message }, 'reloading shared state failed; serving the last snapshot');
        }
      })();
    }, 50);
  }

  /**
   * Rebuild from the overlay and health we hold; schedules a rebuild when a drain ramp ends. New
   * include/exclude rules are evaluated in slices, and given up on past the builder's budget.
   */
  private async publishMirrors(): Promise<void> {
    const mirrors = this.mirrors();
    const applied = this.opts.builder.applyMirrorsAndStates(mirrors, mirrorStates(mirrors, this.health, this.overrides));
    this.scheduleRampEnd();
    const { abandoned } = await applied;
    if (abandoned.length > 0) {
      const ids = mirrors.filter((m) => abandoned.includes(ruleKey(m.content))).map((m) => m.id);
      this.opts.log.error(
        { mirrors: ids },
        'evaluating new include/exclude rules took too long and was abandoned: these mirrors get no downloads by their rules until the rules change',
      );
    }
  }

  private scheduleRampEnd(): void {
    if (this.rampTimer) clearTimeout(this.rampTimer);
    const now = this.clock();
    const ends = [...this.overrides.values()].map((o) => (o.drain ? o.drain.startMs + o.drain.overMs : 0)).filter((end) => end > now);
    if (ends.length === 0) return;
    // The decision scales weights by the clock already; the rebuild only turns "ramping" into "excluded".
    this.rampTimer = setTimeout(() => this.opts.builder.refresh(), Math.min(...ends) - now + 5);
    this.rampTimer.unref();
  }

  private startLoops(): void {
    const { config } = this.opts;
    if (config.health.enabled) {
      this.scheduler.every({
        name: 'probe',
        everyMs: config.health.intervalMs,
        leaseMs: config.health.intervalMs * 2,
        atStart: true,
        run: () => this.probeAll(),
      });
    }
    this.scheduler.every({
      name: 'scan',
      everyMs: config.scan.intervalMs,
      leaseMs: config.scan.timeoutMs + config.scan.intervalMs,
      atStart: false,
      run: () => this.scanAll(),
    });
  }

  /** Probe every mirror once (or just `ids`); results land in the store and reach every instance. */
  async probeAll(ids?: readonly string[]): Promise<Map<string, HealthRecord>> {
    const { config, builder, store } = this.opts;
    const snapshot = builder.current();
    const originTrace = await readOriginTrace(config.origin.baseUrl, config.origin.trace, config.health.timeoutMs);
    const round = this.probeRound++;
    const rechecked = new Map<string, string[]>();
    const targets = snapshot.mirrors
      .filter((m) => !ids || ids.includes(m.spec.id))
      .map((m) => {
        const samples = chooseSamples(snapshot.files, (f) => mirrorCarries(snapshot, m, f), config.health.sampleFiles, round);
        // Files found missing earlier are looked at again, so a brief 404 (mid-sync) does not
        // keep a file off a mirror that has no rsyncUrl to be rescanned.
        const again = (this.health.get(m.spec.id)?.missing ?? []).slice(0, RECHECK_MISSING).flatMap((path) => {
          const f = snapshot.files.lookup(path);
          return f < 0 ? [] : [{ path, size: snapshot.files.size(f) }];
        });
        rechecked.set(
          m.spec.id,
          again.map((s) => s.path),
        );
        // A mirror's own trace path replaces the origin's candidates: staff said where it is.
        return { id: m.spec.id, baseUrl: m.spec.baseUrl, tracePath: m.spec.trace ?? config.origin.trace, samples: [...samples, ...again] };
      });
    const results = new Map<string, HealthRecord>();
    await this.prober.probeAll(targets, async (target, outcome: ProbeOutcome) => {
      const prev = this.health.get(target.id);
      const next = nextHealth(prev, outcome, {
        failuresToDown: config.health.failuresToDown,
        successesToUp: config.health.successesToUp,
        originTraceTime: originTrace,
      });
      // Files found missing stay off the mirror until a scan, or a probe that reaches the
      // mirror, finds them again.
      const missing = new Set(prev?.missing ?? []);
      if (outcome.ok) for (const path of rechecked.get(target.id) ?? []) missing.delete(path);
      for (const path of outcome.missing ?? []) missing.add(path);
      const record: HealthRecord = { ...next, ...(missing.size ? { missing: [...missing] } : {}) };
      results.set(target.id, record);
      this.opts.onProbe?.(target.id, outcome.ok);
      this.health.set(target.id, record);
      if (outcome.ok) {
        // No trace is no failure (trace files are optional): up, with lag unknown.
        const lag = outcome.traceProblem !== undefined ? { lag: 'unknown', trace: outcome.traceProblem } : {};
        this.opts.log.info({ mirror: target.id, latencyMs: outcome.latencyMs, health: record.health, ...lag }, 'probe ok');
      } else this.opts.log.warn({ mirror: target.id, reason: outcome.reason, health: record.health }, 'probe failed');
      try {
        await store.putHealth(target.id, record);
        await store.publish({ kind: 'health', mirror: target.id });
        if (record.health === 'up') await this.activateIfPending(target.id);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // Not shared now, but this instance routes by what it just learned; the store catches
        // up with the next round after it returns.
        this.coalesce('local');
      }
    });
    return results;
  }

  /** Scan every mirror that can be scanned (or just `ids`), keeping the previous inventory on failure. */
  async scanAll(ids?: readonly string[], onProgress?: (id: string, entries: number) => void): Promise<Map<string, ScanResult | Error>> {
    const out = new Map<string, ScanResult | Error>();
    for (const m of this.mirrors()) {
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
    const { config, builder, store, log } = this.opts;
    const mirror = this.mirrors().find((m) => m.id === id);
    if (!mirror) throw new NotFoundError(`no mirror "${id}"`);
    const source = scanSource(mirror);
    if (!source) throw new InvalidStateError(`mirror "${id}" has no rsyncUrl (or http(s) content.manifest) to scan`);
    if (this.scanning.has(id)) throw new ConflictError(`a scan of "${id}" is already running`);
    this.scanning.add(id);
    try {
      const result = await scanMirror({ id, ...source, content: mirror.content }, builder.current().files, { onProgress, timeoutMs: config.scan.timeoutMs });
      await store.putInventory(id, result.record);
      // Route by it here at once: our own copy of the change notice may come after the scan's answer.
      builder.setInventory(id, result.record.entries);
      // A fresh inventory supersedes what probes found missing.
      const h = this.health.get(id);
      if (h?.missing) {
        const { missing: _dropped, ...rest } = h;
        this.health.set(id, rest);
        await store.putHealth(id, rest);
        await store.publish({ kind: 'health', mirror: id });
      }
      await store.publish({ kind: 'inventory', mirror: id });
      log.info({ mirror: id, ...result.report, missingSample: undefined, staleSample: undefined }, 'scan complete');
      await this.launchIfReady(id, result);
      return result;
    } catch (err) {
      log.error({ mirror: id, err: (err as Error).message }, 'scan failed; keeping the previous inventory');
      if (err instanceof StoreUnavailableError) throw err;
      throw new UpstreamError(`${(err as Error).message} (the previous inventory is kept)`);
    } finally {
      this.scanning.delete(id);
    }
  }

  /** A mirror added by hand goes into rotation once a probe has shown it up. */
  private async activateIfPending(id: string): Promise<void> {
    if (this.overrides.get(id)?.lifecycle !== 'pending') return;
    await this.serially(() => this.activateNow(id));
  }

  /**
   * Override writes on this instance, one at a time (staff changes through AdminService, the prober's
   * and the scanner's): read, audit and write of one never interleave with another's, so a change
   * is never undone by one computed before it, and the audit log's order is the order of writes.
   */
  serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writes.then(task);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private writes: Promise<unknown> = Promise.resolve();

  private async activateNow(id: string): Promise<void> {
    // The store's copy: a staff change made since our last reload (here or elsewhere) must not be undone.
    const o = (await this.opts.store.getOverrides()).get(id);
    if (o?.lifecycle !== 'pending') return;
    const next: MirrorOverride = { ...o, lifecycle: 'active', updatedAt: this.clock(), updatedBy: 'prober' };
    const entry: AuditEntry = {
      id: randomUUID(),
      at: this.clock(),
      actor: 'prober',
      action: 'mirror.activate',
      target: `mirror:${id}`,
      before: { lifecycle: 'pending' },
      after: { lifecycle: 'active' },
      applies: { override: next },
    };
    // Write-ahead, as staff changes are (AdminService.change).
    await this.opts.store.appendAudit(entry);
    this.noteAudit(entry);
    this.overrides.set(id, next);
    await this.opts.store.putOverride(id, next);
    await this.opts.store.publish({ kind: 'override', mirror: id });
  }

  /** An accepted mirror goes live once a scan shows it carries its share. */
  private async launchIfReady(id: string, result: ScanResult): Promise<void> {
    if (this.overrides.get(id)?.lifecycle !== 'syncing' || result.report.completion < this.opts.config.scan.launchCompletion) return;
    await this.serially(() => this.launchNow(id, result));
  }

  private async launchNow(id: string, result: ScanResult): Promise<void> {
    // The store's copy, as for activation: a staff change made meanwhile must not be undone.
    const o = (await this.opts.store.getOverrides()).get(id);
    if (o?.lifecycle !== 'syncing') return;
    const next: MirrorOverride = { ...o, lifecycle: 'active', updatedAt: this.clock(), updatedBy: 'scanner' };
    const entry: AuditEntry = {
      id: randomUUID(),
      at: this.clock(),
      actor: 'scanner',
      action: 'mirror.launch',
      target: `mirror:${id}`,
      before: { lifecycle: 'syncing' },
      after: { lifecycle: 'active', completion: result.report.completion },
      applies: { override: next },
    };
    // Write-ahead, as staff changes are (AdminService.change).
    await this.opts.store.appendAudit(entry);
    this.noteAudit(entry);
    await this.opts.store.putOverride(id, next);
    await this.opts.store.publish({ kind: 'override', mirror: id });
  }
}
