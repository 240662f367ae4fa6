// The control plane of one instance: state sync, probe rounds and scan runs put together, and when their loops run.
import { randomUUID } from 'node:crypto';
import type { HealthRecord, MirrorSpec } from '../core/model.js';
import type { AuditEntry, MirrorOverride, Offer } from '../core/records.js';
import { MirrorLifecycle } from './lifecycle.js';
import type { Logo } from './logos.js';
import { ProbeRounds } from './probeRounds.js';
import type { ScanResult } from './scan.js';
import { ScanRuns } from './scanRuns.js';
import { Scheduler, type Timers } from './scheduler.js';
import { serialWrites, type Serially } from './serialWrites.js';
import { StateSync, type StateSyncOptions } from './stateSync.js';

/** How often an instance on Redis checks that the store still holds its data (the epoch), and reads new audit entries. */
const EPOCH_CHECK_MS = 1_000;
/** How often the origin index is looked at for a change (a manifest's mtime and size; a local tree is rescanned). */
const ORIGIN_REFRESH_MS = 5_000;

export interface ControlPlaneOptions extends Omit<StateSyncOptions, 'clock' | 'onWrittenBack'> {
  clock?: () => number;
  /** Run the probe, scan, store-check and origin-refresh loops (off in tests that drive them by hand). */
  loops?: boolean;
  /** The loops' timers (the global ones by default). */
  timers?: Timers;
  /** Told of every probe result (metrics). */
  onProbe?: (mirror: string, ok: boolean) => void;
}

/**
 * One per instance. State sync reads shared state from the store into the snapshot builder and follows the
 * store's change feed; on the instance holding the lease, probe rounds and scan runs look at the mirrors.
 * Callers (AdminService, compose) talk to this facade; the parts are open for tests that drive one directly.
 */
export class ControlPlane {
  readonly instanceId = randomUUID();
  readonly state: StateSync;
  readonly probes: ProbeRounds;
  readonly scans: ScanRuns;
  readonly lifecycle: MirrorLifecycle;
  /** Override writes on this instance, one at a time: staff changes, activations and launches alike. */
  readonly serially: Serially = serialWrites();
  private readonly opts: ControlPlaneOptions;
  /** The loops, the lease-held ones on one instance at a time. */
  private readonly scheduler: Scheduler;

  constructor(opts: ControlPlaneOptions) {
    this.opts = opts;
    const { config, store, builder, log } = opts;
    const clock = opts.clock ?? Date.now;
    const snapshot = () => builder.current();
    this.scheduler = new Scheduler({ store, holder: this.instanceId, log, ...(opts.timers ? { timers: opts.timers } : {}) });
    this.state = new StateSync({
      config,
      configMirrors: opts.configMirrors,
      configInventories: opts.configInventories,
      store,
      builder,
      log,
      clock,
      // The inventories were lost with the rest: scan again what can be scanned (on the scan lease holder).
      onWrittenBack: () => {
        if (this.opts.loops !== false) void this.scheduler.withLease('scan', this.scanLeaseMs, () => this.scans.scanAll());
      },
    });
    this.lifecycle = new MirrorLifecycle({ store, state: this.state, serially: this.serially, launchCompletion: config.scan.launchCompletion, clock });
    this.probes = new ProbeRounds({
      config,
      snapshot,
      state: this.state,
      lifecycle: this.lifecycle,
      store,
      log,
      clock,
      onProbe: opts.onProbe,
      // As Mirrorbits does: a mirror whose trace moved has synced, so what its last scan listed is out of date.
      onSynced: (id) => this.scans.scanSoon(id),
    });
    this.scans = new ScanRuns({ config, snapshot, state: this.state, lifecycle: this.lifecycle, store, log });
  }

  async start(): Promise<void> {
    await this.state.start();
    if (this.opts.loops !== false) this.startLoops();
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    this.state.stop();
    await this.probes.close();
  }

  /** A scan round may run for the scan timeout and still hold the lease until the next one is due. */
  private get scanLeaseMs(): number {
    return this.opts.config.scan.timeoutMs + this.opts.config.scan.intervalMs;
  }

  private startLoops(): void {
    const { config, store } = this.opts;
    if (config.health.enabled) {
      this.scheduler.every({
        name: 'probe',
        everyMs: config.health.intervalMs,
        leaseMs: config.health.intervalMs * 2,
        atStart: true,
        run: () => this.probes.probeAll(),
      });
    }
    this.scheduler.every({ name: 'scan', everyMs: config.scan.intervalMs, leaseMs: this.scanLeaseMs, atStart: false, run: () => this.scans.scanAll() });
    // The embedded store is this process's own: it cannot lose its data behind our back.
    if (store.kind === 'redis') this.scheduler.everyHere({ name: 'epoch', everyMs: EPOCH_CHECK_MS, run: () => this.state.checkStore() });
    this.scheduler.everyHere({ name: 'origin', everyMs: ORIGIN_REFRESH_MS, run: () => this.state.refreshOrigin() });
  }

  // ---- State (StateSync)

  /** The effective mirrors (config + staff changes), as the snapshot has them. */
  mirrors(): MirrorSpec[] {
    return this.state.mirrors();
  }

  override(id: string): MirrorOverride | undefined {
    return this.state.override(id);
  }

  healthOf(id: string): HealthRecord | undefined {
    return this.state.healthOf(id);
  }

  /** The config file's mirror of this id, before runtime changes. */
  configMirror(id: string): MirrorSpec | undefined {
    return this.state.configMirror(id);
  }

  /** The effective spec a mirror would have with `next` as its override (to tell a real change from a no-op). */
  previewSpec(id: string, next: MirrorOverride): MirrorSpec | undefined {
    return this.state.previewSpec(id, next);
  }

  get tokens() {
    return this.state.tokens;
  }

  get sessions() {
    return this.state.sessions;
  }

  get uploadedLogos() {
    return this.state.uploadedLogos;
  }

  /** An uploaded logo, while the mirror's sponsor shows one: `sponsor: null` (or a deleted mirror) takes it off /logos/{id}. */
  logo(id: string): Logo | undefined {
    return this.showsLogo(id) ? this.state.logo(id) : undefined;
  }

  /** Whether a mirror's sponsor has a logo (uploaded or from the config file). */
  showsLogo(id: string): boolean {
    return this.mirrors().find((m) => m.id === id)?.sponsor?.logo !== undefined;
  }

  cachedOffers(): Offer[] {
    return this.state.cachedOffers();
  }

  /** This instance's copy of the audit log, newest first. */
  keptAudit(): AuditEntry[] {
    return this.state.keptAudit();
  }

  noteAudit(entry: AuditEntry): void {
    this.state.noteAudit(entry);
  }

  get allowsPrivateAddresses(): boolean {
    return this.state.allowsPrivateAddresses;
  }

  ensureEpoch(): Promise<void> {
    return this.state.ensureEpoch();
  }

  reloadOverrides(): Promise<void> {
    return this.state.reloadOverrides();
  }

  /** Looks at the origin index now, as the origin-refresh loop does every few seconds. */
  refreshOrigin(): Promise<void> {
    return this.state.refreshOrigin();
  }

  /** For a download the index cannot answer: whether the origin has the file now (StateSync.lookForOriginFile). */
  lookForOriginFile(path: string): Promise<boolean> {
    return this.state.lookForOriginFile(path);
  }

  // ---- Probes and scans

  probeSoon(id: string): void {
    this.probes.probeSoon(id);
  }

  probeAll(ids?: readonly string[]): Promise<Map<string, HealthRecord>> {
    return this.probes.probeAll(ids);
  }

  /** Probes one mirror now (staff, its provider), joining a probe of it already running (ProbeRounds.probeOne). */
  probeOne(id: string): Promise<HealthRecord | undefined> {
    return this.probes.probeOne(id);
  }

  scan(id: string, onProgress?: (entries: number) => void): Promise<ScanResult> {
    return this.scans.scan(id, onProgress);
  }

  /** Scans a mirror that can be scanned, in the background (an accepted offer's first scan). */
  scanSoon(id: string): void {
    this.scans.scanSoon(id);
  }
}
