// Keeps the snapshot in step with the store: reads shared state in, follows the change feed, refreshes the origin
// index, and writes back what the store lost. The only writer of the SnapshotBuilder.
import type { Config } from '../config/schema.js';
import { privateAddressFields } from '../config/addressPolicy.js';
import { ruleKey } from '../core/availability.js';
import type { Logger } from '../core/logger.js';
import { effectiveMirrors, mirrorStates, scanSource } from '../core/mirrors.js';
import type { HealthRecord, InventoryEntry, MirrorSpec } from '../core/model.js';
import type { AuditEntry, MirrorOverride, Offer } from '../core/records.js';
import { unconfirmedOverride } from '../store/stateCheck.js';
import { StoreUnavailableError, type Change, type Store } from '../store/store.js';
import { UploadedLogos, type Logo } from './logos.js';
import { OriginWatch } from './origin.js';
import { OriginArrivals } from './originArrivals.js';
import { reconcileAudit } from './reconcile.js';
import { SessionService } from './sessions.js';
import type { SnapshotBuilder } from './snapshotBuilder.js';
import { TokenRegistry } from './tokens.js';

/** Audit entries an instance on Redis keeps a copy of, to write back if the store loses its data (or show during an outage). */
const AUDIT_KEPT = 10_000;
/** How often the store check (checkStore) also reads new audit entries. */
const AUDIT_REFRESH_MS = 5_000;
/** A download of a path the index lacks looks at the origin at most this often (lookForOriginFile). */
const MISS_LOOK_MS = 250;
/** Change notices within this long are read and rebuilt once. */
const COALESCE_MS = 50;

export interface StateSyncOptions {
  config: Config;
  /** The config file's mirrors, before runtime changes. */
  configMirrors: readonly MirrorSpec[];
  /** Inventories from the config's mirror manifests, used until a scan replaces them. */
  configInventories: ReadonlyMap<string, InventoryEntry[]>;
  store: Store;
  builder: SnapshotBuilder;
  log: Logger;
  clock: () => number;
  /** Told once what the store lost was written back: the inventories were lost with it (scan again). */
  onWrittenBack?: () => void;
}

/** Why a reload was asked for: a notice of staff changes or health records, or our own probe results while the store is away. */
type ReloadKind = 'override' | 'health' | 'local';

/**
 * One per instance. Holds what the snapshot is built from besides files and inventories — staff overrides,
 * health records — and the shared state staff operations read (tokens, sessions, logos, offers, the audit copy).
 */
export class StateSync {
  private readonly opts: StateSyncOptions;
  private overrides = new Map<string, MirrorOverride>();
  private health = new Map<string, HealthRecord>();
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
  private lastAuditRefresh = 0;
  private readonly reportedUnsafe = new Set<string>();
  private readonly origin: OriginWatch;
  private readonly arrivals: OriginArrivals;
  /** The origin look running or last run (refreshOrigin): looks never overlap. */
  private originLook: Promise<void> = Promise.resolve();
  private lastMissLook = 0;
  /** The look misses are waiting for (lookForOriginFile), while one is due. */
  private missLook: Promise<void> | undefined;
  /** Names this instance's origin notices, which it does not act on itself. */
  private readonly instanceId = crypto.randomUUID();
  private unsubscribe: (() => void) | undefined;
  private unstatus: (() => void) | undefined;
  private rampTimer: NodeJS.Timeout | undefined;
  private pendingReload: NodeJS.Timeout | undefined;
  private pendingKinds = new Set<ReloadKind>();

  constructor(opts: StateSyncOptions) {
    this.opts = opts;
    this.tokens = new TokenRegistry(opts.config.tokens);
    this.sessions = new SessionService(opts.store, this.tokens, opts.clock);
    this.origin = new OriginWatch(opts.config.origin, opts.config.dataDir, opts.log, opts.clock);
    this.arrivals = new OriginArrivals(opts.store, opts.log, opts.clock);
  }

  /** Follows the change feed, rolls forward what a crash left unwritten, and reads everything once. */
  async start(): Promise<void> {
    const { store } = this.opts;
    this.unsubscribe = store.subscribe((change) => void this.apply(change));
    this.unstatus = store.onStatus((s) => {
      // Back from an outage: changes published meanwhile were missed, so reload everything.
      if (s.available) void this.reloadAll();
    });
    try {
      // A crash may have left an audited change unwritten (the log is written first): roll it forward.
      await reconcileAudit(store, { clock: this.opts.clock, log: this.opts.log });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'could not compare the state with the audit log at start');
    }
    await this.reloadAll();
    // The origin index the builder was made with is the one on disk now.
    await this.origin.baseline();
  }

  stop(): void {
    if (this.rampTimer) clearTimeout(this.rampTimer);
    if (this.pendingReload) clearTimeout(this.pendingReload);
    this.unsubscribe?.();
    this.unstatus?.();
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

  /** Whether mirror and offer URLs may point at private addresses (config allowPrivateMirrorAddresses). */
  get allowsPrivateAddresses(): boolean {
    return this.opts.config.allowPrivateMirrorAddresses;
  }

  // ---- What probes, scans and lifecycle steps hand in

  /** Holds a health record this instance just learned (a probe result, a scan's clearing); routing follows on the next rebuild. */
  keepHealth(id: string, record: HealthRecord): void {
    this.health.set(id, record);
  }

  /** Holds an override this instance just wrote, before its own change notice reads it back. */
  keepOverride(id: string, override: MirrorOverride): void {
    this.overrides.set(id, override);
  }

  /** Rebuilds soon from what this instance holds, whatever the store says (our own probe results while it is away). */
  routeLocally(): void {
    this.coalesce('local');
  }

  /** Routes by a scan's inventory at once: our own copy of the change notice may come after the scan's answer. */
  setInventory(id: string, entries: InventoryEntry[]): void {
    this.opts.builder.setInventory(id, entries);
  }

  /**
   * Looks at the origin once, and swaps in its new index when it changed (a failure keeps the index we have).
   * Looks run one at a time: one asked for while another runs starts after it.
   */
  refreshOrigin(announce = true): Promise<void> {
    const run = this.originLook.then(() => this.lookAtOrigin(announce));
    this.originLook = run;
    return run;
  }

  /** `announce`: tell the other instances when the origin changed (not when told of it: they know). */
  private async lookAtOrigin(announce: boolean): Promise<void> {
    try {
      const files = this.opts.builder.current().files;
      const change = await this.origin.changed(files);
      if (!change) return;
      this.opts.builder.setFiles(await this.arrivals.after(files, change));
      if (!announce) return;
      // Instances (a cluster's workers) each watch the origin: the others look now, not up to 5 s later.
      await this.opts.store.publish({ kind: 'origin', from: this.instanceId }).catch((err: unknown) => {
        this.opts.log.warn({ err: (err as Error).message }, 'could not tell other instances the origin changed; they look at their next refresh');
      });
    } catch (err) {
      // Keep serving the index we have: a half-written manifest must not empty the file set.
      this.opts.log.error({ err }, 'origin refresh failed; keeping the previous index');
    }
  }

  /**
   * For a download of a path the index lacks: looks at the origin now rather than at the next refresh, so a
   * file just published is served from the origin, not answered 404 for seconds. True when the index now
   * has it. At most one such look every quarter second (a local tree is looked at only where the file exists).
   */
  async lookForOriginFile(path: string): Promise<boolean> {
    const has = () => this.opts.builder.current().files.lookup(path) >= 0;
    if (!(await this.origin.mayHave(path))) return false;
    // A manifest as the index in use was read from does not list it: answered now (a 404 must not wait a
    // quarter second for a look), once a look still applying what it read has done so.
    if (await this.origin.unchanged()) {
      await this.originLook;
      return has();
    }
    // Within a quarter second of the last such look: the one after it (shared by every miss meanwhile), not
    // the last one's answer, which may predate this file (two files published a moment apart).
    this.missLook ??= this.nextMissLook();
    await this.missLook;
    if (has()) return true;
    this.origin.leftOut(path);
    return false;
  }

  /** The next look for a missing path, at least MISS_LOOK_MS after the previous one. */
  private async nextMissLook(): Promise<void> {
    const wait = Math.max(0, this.lastMissLook + MISS_LOOK_MS - this.opts.clock());
    // Always after a turn: the caller has stored this promise as missLook by then.
    await new Promise((resolve) => setTimeout(resolve, wait));
    this.missLook = undefined;
    this.lastMissLook = this.opts.clock();
    await this.refreshOrigin();
  }

  // ---- The audit copy and the store's epoch

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
   * on Redis (checkStore), so a change is never made on (nor read from) an emptied store before the write-back.
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

  /** The store check an instance on Redis runs every second: the epoch, and every few seconds new audit entries. */
  async checkStore(): Promise<void> {
    if (!this.opts.store.status().available) return;
    try {
      await this.ensureEpoch();
      if (this.opts.clock() - this.lastAuditRefresh >= AUDIT_REFRESH_MS) {
        this.lastAuditRefresh = this.opts.clock();
        await this.refreshAudit(500);
      }
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) this.opts.log.error({ err: (err as Error).message }, 'checking the shared store failed');
    }
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
    this.opts.onWrittenBack?.();
  }

  // ---- Reloads from the store

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

  /** Re-read staff changes and rebuild; called after our own writes so they read back at once. */
  async reloadOverrides(): Promise<void> {
    this.overrides = this.checked(await this.opts.store.getOverrides());
    await this.publishMirrors();
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
        const fromConfig = this.opts.configInventories.get(m.id);
        // A local manifest as read at start is what a scan of it would read now: newer than any stored scan of it.
        const fileIsSource = fromConfig !== undefined && 'manifestFile' in (scanSource(m) ?? {});
        if (scanned.has(m.id) && !fileIsSource) {
          const rec = await store.getInventory(m.id);
          if (rec) builder.setInventory(m.id, rec.entries);
        } else if (fromConfig) builder.setInventory(m.id, fromConfig);
      }
    } catch (err) {
      // Keep redirecting from the last snapshot; the status listener reloads when the store returns.
      log.error({ err: (err as Error).message }, 'control plane reload failed; serving the last snapshot');
    }
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
        case 'origin':
          if (change.from !== this.instanceId) await this.refreshOrigin(false);
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
  private coalesce(kind: ReloadKind): void {
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
    }, COALESCE_MS);
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
    const now = this.opts.clock();
    const ends = [...this.overrides.values()].map((o) => (o.drain ? o.drain.startMs + o.drain.overMs : 0)).filter((end) => end > now);
    if (ends.length === 0) return;
    // The decision scales weights by the clock already; the rebuild only turns "ramping" into "excluded".
    this.rampTimer = setTimeout(() => this.opts.builder.refresh(), Math.min(...ends) - now + 5);
    this.rampTimer.unref();
  }
}
