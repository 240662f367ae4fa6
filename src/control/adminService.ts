// Staff and provider operations: every change validated first, written once, audited, and published.
import { randomBytes, randomUUID } from 'node:crypto';
import type { HealthRecord, MirrorSpec, Sponsor } from '../core/model.js';
import { mirrorSummaries, type MirrorSummary } from '../core/mirrorStatus.js';
import type { AuditApplies, AuditEntry, Lifecycle, MirrorOverride, MirrorPatch, Offer } from '../core/records.js';
import { AUDIT_ACTIONS } from '../core/auditActions.js';
import { StoreUnavailableError, type AuditQuery, type Store, type StatsQuery, type StatsResult, type TokenRecord } from '../store/store.js';
import type { ControlPlane } from './controlPlane.js';
import { privateAddressFields } from '../config/addressPolicy.js';
import { halfPosition } from '../config/fields.js';
import { ConflictError, FieldsError, InvalidStateError, NotFoundError } from './errors.js';
import { mirrorFromOffer, type OfferMirrorFields } from './mirrorBodies.js';
import { prepareUpload, storedLogoOf, uploadedLogoRef, type Logo } from './logos.js';
import type { ScanResult } from './scan.js';
import type { SnapshotBuilder } from './snapshotBuilder.js';
import { newTokenSecret, RUNTIME_ROLES, sha256Hex, type Principal, type TokenView } from './tokens.js';

/** A mirror as staff see it: the effective spec, where it comes from, and its live facts. */
export interface MirrorView {
  spec: MirrorSpec;
  source: 'config' | 'runtime';
  /** `pending`: added by hand, no downloads until a probe shows it up; `syncing`: accepted from an offer, until a scan shows it complete. */
  lifecycle: 'pending' | 'syncing' | 'active';
  drain: { startMs: number; overMs: number } | null;
  health: HealthRecord | null;
  summary: MirrorSummary | null;
  /** The highest weight the mirror's provider may set. */
  weightCeiling: number;
}

/** What a provider submits; the rest of an Offer (id, status, decision) is ours to fill. */
export type NewOffer = Omit<Offer, 'id' | 'createdAt' | 'status' | 'decidedAt' | 'decidedBy' | 'decisionNote' | 'mirrorId' | 'statusKeyHash'>;

/** An offer as the API shows it: without the hash of its status key. */
export type OfferView = Omit<Offer, 'statusKeyHash'>;

/** Sponsor fields a PATCH may change: each one given replaces that field only; null clears it (name: the sponsor). */
export interface SponsorPatch {
  name?: string;
  url?: string | null;
}

export type MirrorPatchInput = Omit<MirrorPatch, 'content' | 'sponsor'> & {
  content?: Partial<MirrorSpec['content']>;
  /** Merged field by field into the current sponsor (the logo stays); null removes the sponsor. */
  sponsor?: SponsorPatch | null;
  /** Staff only: the provider's weight ceiling. */
  weightCeiling?: number;
};

/** A token issued now: the secret is in this answer and nowhere else, ever. */
export interface IssuedToken {
  token: string;
  id: string;
  name: string;
  role: string;
  mirrors: string[];
}

export { AUDIT_ACTIONS };

export function offerView(offer: Offer): OfferView {
  const { statusKeyHash: _hidden, ...view } = offer;
  return view;
}

/** The changed fields of two values, as { before, after } holding only those fields (undefined when none changed). */
export function changedFields(before: object, after: object): { before: Record<string, unknown>; after: Record<string, unknown> } | undefined {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const out = { before: {} as Record<string, unknown>, after: {} as Record<string, unknown> };
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (JSON.stringify(b[key]) === JSON.stringify(a[key])) continue;
    out.before[key] = b[key] ?? null;
    out.after[key] = a[key] ?? null;
  }
  return Object.keys(out.after).length ? out : undefined;
}

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
    const lifecycle = o?.lifecycle === 'syncing' || (o?.lifecycle === 'pending' && this.control.healthOf(spec.id)?.health !== 'up') ? o.lifecycle : 'active';
    return {
      spec,
      source: this.configMirrorIds.has(spec.id) ? 'config' : 'runtime',
      lifecycle,
      drain: o?.drain ?? null,
      health: this.control.healthOf(spec.id) ?? null,
      summary,
      weightCeiling: this.weightCeiling(spec.id),
    };
  }

  /**
   * The highest weight a mirror's provider may set: what staff set (`weightCeiling`), else the
   * weight of the config file, or the one the mirror was added with.
   */
  weightCeiling(id: string): number {
    const o = this.control.override(id);
    return o?.weightCeiling ?? this.control.configMirror(id)?.weight ?? this.control.mirrors().find((m) => m.id === id)?.weight ?? 100;
  }

  /**
   * Adds a mirror. By hand (API, CLI) it is `pending`: no downloads until a probe shows it up, and
   * one is started at once. From an accepted offer it is `syncing` until a scan shows it complete.
   */
  async addMirror(actor: string, spec: MirrorSpec, lifecycle: 'pending' | 'syncing' = 'pending'): Promise<MirrorView> {
    this.refusePrivateAddresses(spec);
    refuseHalfPosition(spec);
    const existing = this.control.override(spec.id);
    // A runtime mirror whose stored state was lost (unconfirmed, not listed) may be added again.
    if (this.control.mirrors().some((m) => m.id === spec.id) || (existing && !existing.deleted && !existing.unconfirmed)) {
      throw new ConflictError(`mirror "${spec.id}" already exists`);
    }
    // A config mirror's id stays the config file's after a delete: an override of it is laid over the config
    // entry (its lat/lon, sponsor, content.manifest and manifest inventory would come back, later edits of the
    // file too), so it could never be exactly the mirror added now.
    if (this.configMirrorIds.has(spec.id)) {
      throw new ConflictError(
        `mirror id "${spec.id}" belongs to a mirror of the config file that was removed; restore it (POST /admin/v1/mirrors/${spec.id}/restore, mirrorgate mirrors restore ${spec.id}) or choose another id`,
      );
    }
    const { id: _id, ...patch } = spec;
    const override: MirrorOverride = {
      patch,
      added: !this.configMirrorIds.has(spec.id),
      lifecycle,
      weightCeiling: spec.weight,
      updatedAt: this.clock(),
      updatedBy: actor,
    };
    await this.change(actor, 'mirror.add', spec.id, existing ?? null, override);
    if (lifecycle === 'pending' && spec.enabled) this.control.probeSoon(spec.id);
    // An accepted offer's mirror launches on a complete scan: the first one now, not at the next round (hours).
    if (lifecycle === 'syncing' && spec.enabled) this.control.scanSoon(spec.id);
    return this.getMirror(spec.id);
  }

  /**
   * Changes a mirror's settings. A sponsor is merged field by field (its logo stays); a change that
   * changes nothing is not written nor audited. The audit entry holds the changed fields only.
   */
  async patchMirror(actor: string, id: string, patch: MirrorPatchInput): Promise<MirrorView> {
    await this.fresh();
    this.refusePrivateAddresses(patch);
    const before = this.getMirror(id);
    const o = this.control.override(id);
    const { content, sponsor, weightCeiling, ...rest } = patch;
    const merged: MirrorPatch = { ...(o?.patch ?? {}), ...rest };
    if (content) merged.content = { ...before.spec.content, ...content };
    if (sponsor === null) merged.sponsor = null;
    else if (sponsor !== undefined) merged.sponsor = mergeSponsor(before.spec, sponsor);
    const next: MirrorOverride = {
      ...(o ?? { patch: {} }),
      patch: merged,
      ...(weightCeiling !== undefined ? { weightCeiling } : {}),
      updatedAt: this.clock(),
      updatedBy: actor,
    };
    // A PATCH confirms a mirror whose stored state was damaged (stateCheck.ts): it counts as a change.
    delete next.unconfirmed;
    const after = this.control.previewSpec(id, next) ?? before.spec;
    refuseHalfPosition(after);
    // A ceiling below the weight in force would leave the provider's limit and the mirror's share at odds.
    if (weightCeiling !== undefined && after.weight > weightCeiling) {
      throw new FieldsError('invalid body', {
        weightCeiling: `weightCeiling ${weightCeiling} is below the mirror's weight of ${after.weight}; lower the weight in the same change`,
      });
    }
    const diff = changedFields(before.spec, after);
    const ceilingChanged = weightCeiling !== undefined && weightCeiling !== before.weightCeiling;
    if (!diff && !ceilingChanged) return before;
    const audited = diff ?? { before: {}, after: {} };
    if (ceilingChanged) {
      audited.before.weightCeiling = before.weightCeiling;
      audited.after.weightCeiling = weightCeiling;
    }
    await this.change(actor, 'mirror.update', id, audited.before, next, audited.after);
    // A pending mirror switched on, or pointed elsewhere, is probed at once: it waits for that probe.
    if (next.lifecycle === 'pending' && after.enabled && (patch.enabled === true || patch.baseUrl !== undefined)) this.control.probeSoon(id);
    return this.getMirror(id);
  }

  /** A provider sets its own mirror's weight, up to the ceiling staff allow. */
  async setWeightAsProvider(actor: string, id: string, weight: number): Promise<MirrorView> {
    const ceiling = this.weightCeiling(id);
    if (weight > ceiling) {
      throw new InvalidStateError(`weight ${weight} is above this mirror's ceiling of ${ceiling}; ask the network's staff to raise it`);
    }
    return this.patchMirror(actor, id, { weight });
  }

  // ---- logos ----

  /**
   * Stores an uploaded sponsor logo (sanitised as config logos are) for every instance to serve,
   * and points the sponsor at it; a mirror without a sponsor gets one named after the mirror.
   */
  async setLogo(actor: string, id: string, bytes: Uint8Array, contentType: string): Promise<MirrorView> {
    await this.fresh();
    const before = this.getMirror(id);
    const prepared = prepareUpload(bytes, contentType);
    if (!prepared.ok) throw new InvalidLogoError(prepared.reason);
    const stored = storedLogoOf(prepared.logo, actor, this.clock());
    const previous = this.control.uploadedLogos.stored(id);
    const ref = uploadedLogoRef(stored.sha256);
    if (previous?.sha256 === stored.sha256 && before.spec.sponsor?.logo === ref) return before;
    await this.beforeWrite();
    await this.store.putLogo(id, stored);
    this.control.uploadedLogos.set(id, stored);
    await this.store.publish({ kind: 'logo', mirror: id });
    const o = this.control.override(id);
    const sponsor: Sponsor = { ...(before.spec.sponsor ?? { name: before.spec.name }), logo: ref };
    const next: MirrorOverride = { ...(o ?? { patch: {} }), patch: { ...(o?.patch ?? {}), sponsor }, updatedAt: this.clock(), updatedBy: actor };
    await this.change(actor, 'mirror.logo', id, { logo: before.spec.sponsor?.logo ?? null }, next, {
      logo: ref,
      contentType: stored.contentType,
      bytes: prepared.logo.body.byteLength,
      ...(prepared.removed.length ? { removed: prepared.removed } : {}),
    });
    return this.getMirror(id);
  }

  /** An uploaded logo, while the mirror's sponsor shows one (every instance holds them all). */
  logo(id: string): Logo | undefined {
    return this.control.logo(id);
  }

  /** The SHA-256 of a mirror's uploaded logo: its version, for ETags. */
  logoVersion(id: string): string | undefined {
    return this.control.uploadedLogos.stored(id)?.sha256;
  }

  // ---- tokens and sessions ----

  /** Who a presented bearer token is: a config token or a live runtime one. */
  authenticate(presented: string): Principal | undefined {
    return this.control.tokens.match(presented);
  }

  listTokens(): TokenView[] {
    return this.control.tokens.list();
  }

  /**
   * Issues a token. Only its SHA-256 is stored; the secret is returned here once and never again.
   * A provider token names its mirrors (runtime ones too); a staff token none.
   */
  async issueToken(actor: string, input: { name: string; role: string; mirrors?: string[]; offer?: string }): Promise<IssuedToken> {
    const role = input.role;
    if (!(RUNTIME_ROLES as readonly string[]).includes(role)) throw new InvalidStateError(`role must be one of ${RUNTIME_ROLES.join(', ')}`);
    const mirrors = [...new Set(input.mirrors ?? [])];
    if (role === 'provider' && mirrors.length === 0) throw new InvalidStateError('a provider token needs at least one mirror');
    if (role !== 'provider' && mirrors.length > 0) throw new InvalidStateError(`a ${role} token is not scoped to mirrors; do not list mirrors`);
    const known = new Set(this.control.mirrors().map((m) => m.id));
    const unknown = mirrors.filter((m) => !known.has(m));
    if (unknown.length) throw new NotFoundError(`no mirror ${unknown.map((m) => `"${m}"`).join(', ')}`);
    await this.beforeWrite();
    await this.refuseTakenName(input.name);
    const secret = newTokenSecret();
    const record: TokenRecord = {
      id: randomBytes(6).toString('hex'),
      name: input.name,
      role,
      mirrors,
      hash: sha256Hex(secret),
      createdAt: this.clock(),
      createdBy: actor,
      ...(input.offer ? { offer: input.offer } : {}),
    };
    await this.audit(actor, 'token.issue', `token:${record.id}`, undefined, {
      name: record.name,
      role,
      mirrors,
      ...(input.offer ? { offer: input.offer } : {}),
    });
    await this.store.putToken(record);
    this.control.tokens.setRuntime([...this.control.tokens.records(), record]);
    await this.store.publish({ kind: 'token', id: record.id });
    return { token: secret, id: record.id, name: record.name, role, mirrors };
  }

  /**
   * A token name is the actor in the audit log, so no two tokens in force share one: a config token's name,
   * or a live issued token's, is refused (409). A revoked token's name may be issued again (rotating
   * "ci-bot"): the audit log's times tell which token acted. The store's list counts too: a token another
   * instance issued a moment ago may not have reached this one yet.
   */
  private async refuseTakenName(name: string): Promise<void> {
    if (this.listTokens().some((t) => t.source === 'config' && t.name === name)) {
      throw new ConflictError(`a token named "${name}" already exists in the config file; names must be unique (they name the actor in the audit log)`);
    }
    const live = [...this.control.tokens.records(), ...(await this.store.getTokens())].some((r) => r.name === name && r.revokedAt === undefined);
    if (live) throw new ConflictError(`a token named "${name}" already exists; names must be unique (they name the actor in the audit log)`);
  }

  /** Revokes a runtime token by id or name: it stops working, and its console sessions end, on every instance. */
  async revokeToken(actor: string, idOrName: string): Promise<TokenView> {
    const records = this.control.tokens.records();
    // By name: the token in force, else (revoking again changes nothing) the one revoked last.
    const record =
      records.find((r) => r.id === idOrName) ??
      records.find((r) => r.name === idOrName && r.revokedAt === undefined) ??
      records.filter((r) => r.name === idOrName).sort((a, b) => (b.revokedAt ?? 0) - (a.revokedAt ?? 0))[0];
    if (!record) {
      if (this.listTokens().some((t) => t.source === 'config' && t.name === idOrName)) {
        throw new InvalidStateError(`token "${idOrName}" comes from the config file; remove it there and restart`);
      }
      throw new NotFoundError(`no token "${idOrName}"`);
    }
    if (record.revokedAt !== undefined) return this.listTokens().find((t) => t.id === record.id)!;
    await this.beforeWrite();
    const revoked: TokenRecord = { ...record, revokedAt: this.clock(), revokedBy: actor };
    await this.audit(
      actor,
      'token.revoke',
      `token:${record.id}`,
      { name: record.name, revokedAt: null },
      { revokedAt: new Date(revoked.revokedAt!).toISOString() },
    );
    await this.store.putToken(revoked);
    this.control.tokens.setRuntime(records.map((r) => (r.id === record.id ? revoked : r)));
    await this.store.publish({ kind: 'token', id: record.id });
    return this.listTokens().find((t) => t.id === record.id)!;
  }

  startSession(principal: Principal): Promise<{ id: string; expiresAt: number }> {
    return this.control.sessions.create(principal);
  }

  resolveSession(id: string): Promise<Principal | undefined> {
    return this.control.sessions.resolve(id);
  }

  endSession(id: string): Promise<void> {
    return this.control.sessions.end(id);
  }

  /** Whether changes can be saved now (the console shows itself read-only when not). */
  storeAvailable(): boolean {
    return this.store.status().available;
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
    // Its probe record goes too: a mirror added later under this id starts unprobed, never "up" on the old one's word.
    if (this.control.healthOf(id)) {
      const unprobed: HealthRecord = { health: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 };
      // Here at once (an add may follow before our own notice comes back), and in the store for every instance.
      this.control.state.keepHealth(id, unprobed);
      await this.store.putHealth(id, unprobed);
      await this.store.publish({ kind: 'health', mirror: id });
    }
    await this.releaseTokensOf(actor, id);
  }

  /**
   * A deleted mirror's provider tokens let go of it: a mirror added later under the same id (for another
   * operator) must not be run by the old one's token. A token left with no mirror is revoked; one that
   * names others keeps those (audited as token.scope).
   */
  private async releaseTokensOf(actor: string, mirror: string): Promise<void> {
    const holding = this.control.tokens.records().filter((r) => r.revokedAt === undefined && r.role === 'provider' && r.mirrors.includes(mirror));
    for (const record of holding) {
      const mirrors = record.mirrors.filter((m) => m !== mirror);
      if (mirrors.length === 0) {
        await this.revokeToken(actor, record.id);
        continue;
      }
      await this.audit(actor, 'token.scope', `token:${record.id}`, { name: record.name, mirrors: record.mirrors }, { mirrors });
      const narrowed: TokenRecord = { ...record, mirrors };
      await this.store.putToken(narrowed);
      this.control.tokens.setRuntime(this.control.tokens.records().map((r) => (r.id === record.id ? narrowed : r)));
      await this.store.publish({ kind: 'token', id: record.id });
    }
  }

  /**
   * Brings back a mirror of the config file that staff deleted (an override hides it), with the staff
   * changes it had; probed at once, since its probe record went with the delete. Tokens released at the
   * delete stay released.
   */
  async restoreMirror(actor: string, id: string): Promise<MirrorView> {
    await this.fresh();
    const o = this.control.override(id);
    if (!this.configMirrorIds.has(id) || !o?.deleted) {
      if (this.control.mirrors().some((m) => m.id === id)) throw new InvalidStateError(`mirror "${id}" is not deleted`);
      throw new NotFoundError(`no deleted mirror "${id}" of the config file (a mirror added at runtime is gone once deleted; add it again)`);
    }
    const { deleted: _deleted, ...rest } = o;
    const next: MirrorOverride = { ...rest, patch: rest.patch ?? {}, updatedAt: this.clock(), updatedBy: actor };
    await this.change(actor, 'mirror.restore', id, { deleted: true }, next, { deleted: false });
    this.control.probeSoon(id);
    return this.getMirror(id);
  }

  async drain(actor: string, id: string, overMs: number): Promise<MirrorView> {
    await this.fresh();
    const view = this.getMirror(id);
    const o = this.control.override(id);
    const now = this.clock();
    // A drain never raises a mirror's share: one under way that ends no later than this one would stays.
    if (o?.drain && o.drain.startMs + o.drain.overMs <= now + overMs) return view;
    const next: MirrorOverride = { ...(o ?? { patch: {} }), drain: { startMs: now, overMs }, updatedAt: now, updatedBy: actor };
    await this.change(actor, 'mirror.drain', id, { drain: o?.drain ?? null }, next, { overMs });
    return this.getMirror(id);
  }

  async undrain(actor: string, id: string): Promise<MirrorView> {
    await this.fresh();
    const view = this.getMirror(id);
    const o = this.control.override(id);
    if (!o?.drain) return view;
    const { drain: _drain, ...rest } = o ?? { patch: {} };
    const next: MirrorOverride = { ...rest, patch: rest.patch ?? {}, updatedAt: this.clock(), updatedBy: actor };
    await this.change(actor, 'mirror.undrain', id, { drain: o?.drain ?? null }, next, { drain: null });
    return this.getMirror(id);
  }

  /** Staff launch a syncing mirror by hand (otherwise a complete scan launches it). */
  async launch(actor: string, id: string): Promise<MirrorView> {
    await this.fresh();
    const view = this.getMirror(id);
    if (view.lifecycle === 'active') throw new InvalidStateError(`mirror "${id}" is already active`);
    const o = this.control.override(id)!;
    await this.change(
      actor,
      'mirror.launch',
      id,
      { lifecycle: view.lifecycle },
      { ...o, lifecycle: 'active', updatedAt: this.clock(), updatedBy: actor },
      { lifecycle: 'active' },
    );
    return this.getMirror(id);
  }

  async probe(actor: string, id: string): Promise<HealthRecord | undefined> {
    this.getMirror(id);
    const record = await this.control.probeOne(id);
    await this.audit(actor, 'mirror.probe', `mirror:${id}`, undefined, record);
    return record;
  }

  async scan(actor: string, id: string, onProgress?: (entries: number) => void): Promise<ScanResult['report']> {
    this.getMirror(id);
    const result = await this.control.scan(id, onProgress);
    await this.audit(actor, 'mirror.scan', `mirror:${id}`, undefined, result.report);
    return result.report;
  }

  /**
   * Records an offer. The provider gets a secret status key (in its status link); only the key's
   * SHA-256 is kept, so the link works for whoever holds it and nobody else.
   */
  async createOffer(input: NewOffer): Promise<{ offer: OfferView; statusKey: string }> {
    this.refusePrivateAddresses(input);
    await this.beforeWrite();
    const statusKey = randomBytes(24).toString('base64url');
    const offer: Offer = { id: randomUUID(), createdAt: this.clock(), status: 'offered', ...input, statusKeyHash: sha256Hex(statusKey) };
    // Write-ahead, as for mirrors: rolled forward without the status key's hash (its answer never went out).
    await this.audit(input.contact.email, 'offer.create', `offer:${offer.id}`, undefined, offerView(offer), { offer: offerView(offer) });
    await this.store.putOffer(offer);
    await this.store.publish({ kind: 'offer', id: offer.id });
    return { offer: offerView(offer), statusKey };
  }

  /** An offer for the holder of its status key (undefined for a wrong key, as for no offer: nothing is revealed). */
  async offerForKey(id: string, key: string): Promise<OfferView | undefined> {
    const offer = await this.store.getOffer(id);
    if (!offer?.statusKeyHash || key.length > 100 || sha256Hex(key) !== offer.statusKeyHash) return undefined;
    return offerView(offer);
  }

  async listOffers(): Promise<OfferView[]> {
    return (await this.store.getOffers()).map(offerView);
  }

  /** The offers, from the store, or this instance's last copy while the store is unreachable (`stale`). */
  async readOffers(): Promise<{ offers: OfferView[]; stale: boolean }> {
    try {
      return { offers: await this.listOffers(), stale: false };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      return { offers: this.control.cachedOffers().map(offerView), stale: true };
    }
  }

  /**
   * Accepting creates the mirror in "syncing": scanned and probed, not routed until launched. It
   * carries the offer's organisation as sponsor unless given another, and can get its provider
   * token now (shown in this answer only).
   */
  async acceptOffer(
    actor: string,
    id: string,
    given: Partial<OfferMirrorFields> = {},
    note?: string,
    options: { issueToken?: boolean } = {},
  ): Promise<{ offer: OfferView; mirror: MirrorView; token?: IssuedToken }> {
    const offer = await this.openOffer(id);
    // What staff gave, else the offer's own facts; FieldsError (422) names what the result lacks.
    const mirror = mirrorFromOffer(offer, given as Parameters<typeof mirrorFromOffer>[1]);
    if (options.issueToken && this.control.tokens.nameTaken(mirror.id)) {
      throw new ConflictError(`a token named "${mirror.id}" already exists; choose another mirror id`);
    }
    const spec: MirrorSpec = mirror.sponsor ? mirror : { ...mirror, sponsor: { name: offer.organisation } };
    const view = await this.addMirror(actor, spec, 'syncing');
    const decided: Offer = {
      ...offer,
      status: 'accepted',
      decidedAt: this.clock(),
      decidedBy: actor,
      mirrorId: mirror.id,
      ...(note ? { decisionNote: note } : {}),
    };
    await this.audit(
      actor,
      'offer.accept',
      `offer:${id}`,
      { status: offer.status },
      { status: 'accepted', mirrorId: mirror.id },
      { offer: offerView(decided) },
    );
    await this.store.putOffer(decided);
    await this.store.publish({ kind: 'offer', id });
    const token = options.issueToken ? await this.issueToken(actor, { name: mirror.id, role: 'provider', mirrors: [mirror.id], offer: id }) : undefined;
    return { offer: offerView(decided), mirror: view, ...(token ? { token } : {}) };
  }

  async rejectOffer(actor: string, id: string, note?: string): Promise<OfferView> {
    const offer = await this.openOffer(id);
    await this.beforeWrite();
    const decided: Offer = { ...offer, status: 'rejected', decidedAt: this.clock(), decidedBy: actor, ...(note ? { decisionNote: note } : {}) };
    await this.audit(actor, 'offer.reject', `offer:${id}`, { status: offer.status }, { status: 'rejected', note }, { offer: offerView(decided) });
    await this.store.putOffer(decided);
    await this.store.publish({ kind: 'offer', id });
    return offerView(decided);
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

  async audit(actor: string, action: string, target: string, before: unknown, after: unknown, applies?: AuditApplies): Promise<void> {
    const entry: AuditEntry = { id: randomUUID(), at: this.clock(), actor, action, target };
    if (before !== undefined) entry.before = before;
    if (after !== undefined) entry.after = after;
    if (applies !== undefined) entry.applies = applies;
    await this.store.appendAudit(entry);
    this.control.noteAudit(entry);
  }

  listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.store.listAudit(query);
  }

  /**
   * The audit log, from the store, or this instance's copy of its newest entries while the store
   * is unreachable (`stale`).
   */
  async readAudit(query: AuditQuery): Promise<{ entries: AuditEntry[]; stale: boolean }> {
    try {
      return { entries: await this.store.listAudit(query), stale: false };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const matches = (e: AuditEntry) =>
        (query.actor === undefined || e.actor === query.actor) &&
        (query.target === undefined || e.target === query.target) &&
        (query.targets === undefined || query.targets.includes(e.target)) &&
        (query.action === undefined || e.action === query.action) &&
        (query.since === undefined || e.at >= query.since) &&
        (query.until === undefined || e.at <= query.until);
      return {
        entries: this.control
          .keptAudit()
          .filter(matches)
          .slice(0, query.limit ?? Number.POSITIVE_INFINITY),
        stale: true,
      };
    }
  }

  /** Before any write: a store that lost its data gets back what this instance holds first. */
  private async beforeWrite(): Promise<void> {
    await this.control.ensureEpoch();
  }

  /**
   * Before a read-modify-write of a mirror's override: the store's copy, not this instance's (another
   * instance's change may not have reached us yet, and merging into a stale copy would undo it).
   */
  private async fresh(): Promise<void> {
    await this.beforeWrite();
    await this.control.reloadOverrides();
  }

  /** Mirror and offer URLs Mirrorgate would fetch may not point at this machine or metadata services (unless the config allows it). */
  private refusePrivateAddresses(m: Parameters<typeof privateAddressFields>[0]): void {
    if (this.control.allowsPrivateAddresses) return;
    const fields = privateAddressFields(m);
    if (Object.keys(fields).length > 0) throw new FieldsError('invalid body', fields);
  }

  /** One override write at a time on this instance, the prober's and scanner's included (ControlPlane.serially). */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    return this.control.serially(task);
  }

  /** One override write, its audit entry, and the notice every instance rebuilds on. */
  private async change(actor: string, action: string, id: string, before: unknown, next: MirrorOverride | null, after?: unknown): Promise<void> {
    await this.beforeWrite();
    // A staff change confirms a mirror whose stored state was damaged (stateCheck.ts).
    const written = next && { ...next };
    if (written) delete written.unconfirmed;
    // Write-ahead: the entry, holding the state it applies, is durable before the state is written, so
    // state ⊆ audit after any crash; reconcile.ts rolls an entry forward at start if the write was lost.
    // One change at a time on this instance, so the log's order is the order states were written in.
    await this.serially(async () => {
      await this.audit(actor, action, `mirror:${id}`, before, after ?? written, { override: written });
      await this.store.putOverride(id, written);
    });
    await this.store.publish({ kind: 'override', mirror: id });
    // Apply here at once rather than waiting for our own notice, so the caller reads its write.
    await this.control.reloadOverrides();
  }
}

/** A logo upload that is not an acceptable picture: the HTTP layer answers 422 (415 for a wrong type). */
export class InvalidLogoError extends Error {
  override readonly name = 'InvalidLogoError';
}

/** 422 for a position given by half (see halfPosition). */
function refuseHalfPosition(spec: Pick<MirrorSpec, 'lat' | 'lon'>): void {
  const half = halfPosition(spec.lat, spec.lon);
  if (half) throw new FieldsError('invalid body', { [half.field]: half.message });
}

/** The sponsor after a PATCH: given fields replace the current ones, the rest (the logo above all) stay. */
function mergeSponsor(spec: MirrorSpec, patch: SponsorPatch): Sponsor {
  const current = spec.sponsor;
  const name = patch.name ?? current?.name;
  if (name === undefined) throw new InvalidStateError('the mirror has no sponsor yet: give sponsor.name');
  const merged: Sponsor = { ...(current ?? {}), name };
  if (patch.url === null) delete merged.url;
  else if (patch.url !== undefined) merged.url = patch.url;
  return merged;
}
