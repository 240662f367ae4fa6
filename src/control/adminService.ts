// Staff and provider operations: every change validated first, written once, audited, and published.
import { randomUUID } from 'node:crypto';
import type { MirrorSpec } from '../core/model.js';
import { mirrorSummaries, type MirrorSummary } from '../core/mirrorStatus.js';
import type { AuditEntry, AuditQuery, HealthRecord, MirrorOverride, MirrorPatch, Offer, Store, StatsQuery, StatsResult } from '../store/store.js';
import type { ControlPlane } from './controlPlane.js';
import { ConflictError, InvalidStateError, NotFoundError } from './errors.js';
import type { ScanResult } from './scan.js';
import type { SnapshotBuilder } from './snapshotBuilder.js';

/** A mirror as staff see it: the effective spec, where it comes from, and its live facts. */
export interface MirrorView {
  spec: MirrorSpec;
  source: 'config' | 'runtime';
  lifecycle: 'syncing' | 'active';
  drain: { startMs: number; overMs: number } | null;
  health: HealthRecord | null;
  summary: MirrorSummary | null;
}

/** What a provider submits; the rest of an Offer (id, status, decision) is ours to fill. */
export type NewOffer = Omit<Offer, 'id' | 'createdAt' | 'status' | 'decidedAt' | 'decidedBy' | 'decisionNote' | 'mirrorId'>;

export class AdminService {
  constructor(
    private readonly store: Store,
    private readonly control: ControlPlane,
    private readonly builder: SnapshotBuilder,
    private readonly configMirrorIds: ReadonlySet<string>,
    private readonly clock: () => number = Date.now,
  ) {}

  listMirrors(scope?: readonly string[]): MirrorView[] {
    return this.control
      .mirrors()
      .filter((m) => !scope || scope.includes(m.id))
      .map((m) => this.view(m));
  }

  getMirror(id: string): MirrorView {
    const m = this.control.mirrors().find((x) => x.id === id);
    if (!m) throw new NotFoundError(`no mirror "${id}"`);
    return this.view(m);
  }

  private view(spec: MirrorSpec): MirrorView {
    const o = this.control.override(spec.id);
    const summary = mirrorSummaries(this.builder.current()).find((s) => s.id === spec.id) ?? null;
    return {
      spec,
      source: this.configMirrorIds.has(spec.id) ? 'config' : 'runtime',
      lifecycle: o?.lifecycle === 'syncing' ? 'syncing' : 'active',
      drain: o?.drain ?? null,
      health: this.control.healthOf(spec.id) ?? null,
      summary,
    };
  }

  async addMirror(actor: string, spec: MirrorSpec, lifecycle: 'syncing' | 'active' = 'active'): Promise<MirrorView> {
    const existing = this.control.override(spec.id);
    if (this.control.mirrors().some((m) => m.id === spec.id) || (existing && !existing.deleted)) {
      throw new ConflictError(`mirror "${spec.id}" already exists`);
    }
    const { id: _id, ...patch } = spec;
    const override: MirrorOverride = {
      patch,
      added: !this.configMirrorIds.has(spec.id),
      lifecycle,
      updatedAt: this.clock(),
      updatedBy: actor,
    };
    await this.change(actor, 'mirror.add', spec.id, existing ?? null, override);
    return this.getMirror(spec.id);
  }

  async patchMirror(actor: string, id: string, patch: Omit<MirrorPatch, 'content'> & { content?: Partial<MirrorSpec['content']> }): Promise<MirrorView> {
    const before = this.getMirror(id);
    const o = this.control.override(id);
    const { content, ...rest } = patch;
    const merged: MirrorPatch = { ...(o?.patch ?? {}), ...rest };
    if (content) merged.content = { ...before.spec.content, ...content };
    const next: MirrorOverride = {
      ...(o ?? { patch: {} }),
      patch: merged,
      updatedAt: this.clock(),
      updatedBy: actor,
    };
    await this.change(actor, 'mirror.update', id, before.spec, next, patch);
    return this.getMirror(id);
  }

  async deleteMirror(actor: string, id: string): Promise<void> {
    const before = this.getMirror(id);
    const o = this.control.override(id);
    // A config mirror stays deleted by an override; a runtime one is simply gone.
    const next: MirrorOverride | null = this.configMirrorIds.has(id)
      ? { ...(o ?? { patch: {} }), deleted: true, updatedAt: this.clock(), updatedBy: actor }
      : null;
    await this.change(actor, 'mirror.delete', id, before.spec, next);
    await this.store.deleteInventory(id);
    await this.store.publish({ kind: 'inventory', mirror: id });
  }

  async drain(actor: string, id: string, overMs: number): Promise<MirrorView> {
    this.getMirror(id);
    const o = this.control.override(id);
    const next: MirrorOverride = { ...(o ?? { patch: {} }), drain: { startMs: this.clock(), overMs }, updatedAt: this.clock(), updatedBy: actor };
    await this.change(actor, 'mirror.drain', id, { drain: o?.drain ?? null }, next, { overMs });
    return this.getMirror(id);
  }

  async undrain(actor: string, id: string): Promise<MirrorView> {
    this.getMirror(id);
    const o = this.control.override(id);
    const { drain: _drain, ...rest } = o ?? { patch: {} };
    const next: MirrorOverride = { ...rest, patch: rest.patch ?? {}, updatedAt: this.clock(), updatedBy: actor };
    await this.change(actor, 'mirror.undrain', id, { drain: o?.drain ?? null }, next, { drain: null });
    return this.getMirror(id);
  }

  /** Staff launch a syncing mirror by hand (otherwise a complete scan launches it). */
  async launch(actor: string, id: string): Promise<MirrorView> {
    const view = this.getMirror(id);
    if (view.lifecycle !== 'syncing') throw new InvalidStateError(`mirror "${id}" is already active`);
    const o = this.control.override(id)!;
    await this.change(actor, 'mirror.launch', id, { lifecycle: 'syncing' }, { ...o, lifecycle: 'active', updatedAt: this.clock(), updatedBy: actor }, { lifecycle: 'active' });
    return this.getMirror(id);
  }

  async probe(actor: string, id: string): Promise<HealthRecord | undefined> {
    this.getMirror(id);
    const results = await this.control.probeAll([id]);
    await this.audit(actor, 'mirror.probe', `mirror:${id}`, undefined, results.get(id));
    return results.get(id);
  }

  async scan(actor: string, id: string, onProgress?: (entries: number) => void): Promise<ScanResult['report']> {
    this.getMirror(id);
    const result = await this.control.scan(id, onProgress);
    await this.audit(actor, 'mirror.scan', `mirror:${id}`, undefined, result.report);
    return result.report;
  }

  async createOffer(input: NewOffer): Promise<Offer> {
    const offer: Offer = { id: randomUUID(), createdAt: this.clock(), status: 'offered', ...input };
    await this.store.putOffer(offer);
    await this.audit(input.contact.email, 'offer.create', `offer:${offer.id}`, undefined, offer);
    await this.store.publish({ kind: 'offer', id: offer.id });
    return offer;
  }

  listOffers(): Promise<Offer[]> {
    return this.store.getOffers();
  }

  /** Accepting creates the mirror in "syncing": scanned and probed, not routed until launched. */
  async acceptOffer(actor: string, id: string, mirror: MirrorSpec, note?: string): Promise<{ offer: Offer; mirror: MirrorView }> {
    const offer = await this.openOffer(id);
    const view = await this.addMirror(actor, mirror, 'syncing');
    const decided: Offer = { ...offer, status: 'accepted', decidedAt: this.clock(), decidedBy: actor, mirrorId: mirror.id, ...(note ? { decisionNote: note } : {}) };
    await this.store.putOffer(decided);
    await this.audit(actor, 'offer.accept', `offer:${id}`, { status: offer.status }, { status: 'accepted', mirrorId: mirror.id });
    await this.store.publish({ kind: 'offer', id });
    return { offer: decided, mirror: view };
  }

  async rejectOffer(actor: string, id: string, note?: string): Promise<Offer> {
    const offer = await this.openOffer(id);
    const decided: Offer = { ...offer, status: 'rejected', decidedAt: this.clock(), decidedBy: actor, ...(note ? { decisionNote: note } : {}) };
    await this.store.putOffer(decided);
    await this.audit(actor, 'offer.reject', `offer:${id}`, { status: offer.status }, { status: 'rejected', note });
    await this.store.publish({ kind: 'offer', id });
    return decided;
  }

  private async openOffer(id: string): Promise<Offer> {
    const offer = await this.store.getOffer(id);
    if (!offer) throw new NotFoundError(`no offer "${id}"`);
    if (offer.status !== 'offered') throw new InvalidStateError(`offer "${id}" was already ${offer.status}`);
    return offer;
  }

  stats(query: StatsQuery): Promise<StatsResult> {
    return this.store.queryStats(query);
  }

  audit(actor: string, action: string, target: string, before: unknown, after: unknown): Promise<void> {
    const entry: AuditEntry = { id: randomUUID(), at: this.clock(), actor, action, target };
    if (before !== undefined) entry.before = before;
    if (after !== undefined) entry.after = after;
    return this.store.appendAudit(entry);
  }

  listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.store.listAudit(query);
  }

  /** One override write, its audit entry, and the notice every instance rebuilds on. */
  private async change(actor: string, action: string, id: string, before: unknown, next: MirrorOverride | null, after?: unknown): Promise<void> {
    await this.store.putOverride(id, next);
    await this.audit(actor, action, `mirror:${id}`, before, after ?? next);
    await this.store.publish({ kind: 'override', mirror: id });
    // Apply here at once rather than waiting for our own notice, so the caller reads its write.
    await this.control.reloadOverrides();
  }
}
