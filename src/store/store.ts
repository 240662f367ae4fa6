// The shared-state port: one contract, implemented in memory (persisted to dataDir) and on Redis.
import type { HealthRecord, InventoryEntry, MirrorSpec } from '../core/model.js';

export type { HealthRecord };

/** What probes learn about a mirror; owned by the prober (one writer per mirror at a time). */

/** The fields of a mirror staff may change at runtime; null clears an optional one. */
export type MirrorPatch = { [K in keyof Omit<MirrorSpec, 'id'>]?: MirrorSpec[K] | (undefined extends MirrorSpec[K] ? null : never) };

/**
 * Where a mirror is in the join process of the network: `pending` (added by hand, no downloads
 * until a probe shows it up), `syncing` (accepted from an offer, until a scan shows it complete),
 * `active`, `retired`.
 */
export type Lifecycle = 'pending' | 'syncing' | 'active' | 'retired';

/**
 * Staff changes to one mirror, overlaid on the config file's mirror of the same id.
 * A mirror added at runtime has `added: true` and a patch holding its whole spec.
 */
export interface MirrorOverride {
  patch: MirrorPatch;
  added?: boolean;
  deleted?: boolean;
  /** Draining from startMs, share ramping to zero over overMs (0 = at once). */
  drain?: { startMs: number; overMs: number };
  lifecycle?: Lifecycle;
  /** The highest weight the mirror's provider may set (staff set it); see AdminService.weightCeiling. */
  weightCeiling?: number;
  /**
   * Set on read, never written by staff: the stored state of this mirror was damaged or failed
   * validation (the reason), so it gets no downloads until a staff change confirms it.
   */
  unconfirmed?: string;
  updatedAt: number;
  updatedBy: string;
}

/** A mirror's real file list as of one scan. */
export interface InventoryRecord {
  scannedAt: number;
  source: 'rsync' | 'http-manifest' | 'config-manifest' | 'probe';
  entries: InventoryEntry[];
}

export type OfferStatus = 'offered' | 'accepted' | 'rejected';

export interface Offer {
  id: string;
  createdAt: number;
  status: OfferStatus;
  contact: { name: string; email: string };
  organisation: string;
  location: { country: string; city?: string };
  peerings?: string;
  storageTB: number;
  bandwidthMbps: number;
  baseUrl?: string;
  rsyncUrl?: string;
  note?: string;
  decidedAt?: number;
  decidedBy?: string;
  decisionNote?: string;
  /** The mirror created on acceptance. */
  mirrorId?: string;
  /** SHA-256 (hex) of the secret in the provider's status link; the secret itself is never stored. */
  statusKeyHash?: string;
  /** The sender's network (IPv4 address or IPv6 /64), for the per-network cap on pending offers. */
  network?: string;
}

/** Counters added in one batch; keys are the dimensions, values increments. */
export interface StatsBatch {
  /** One row per (day, mirror, country): downloads and bytes sent on. */
  downloads: { day: string; mirror: string; country: string; count: number; bytes: number }[];
  /**
   * Downloads per file per day, for top files. `mirror` (the one that served it) lets a
   * provider's query see only its own files; rows without it count only in unscoped queries.
   */
  files: { day: string; path: string; count: number; mirror?: string }[];
  /** Interstitial pages shown with a mirror's logo. */
  impressions: { day: string; mirror: string; count: number }[];
}

export interface StatsQuery {
  /** Inclusive ISO days (YYYY-MM-DD). */
  from: string;
  to: string;
  /** Only these mirrors (a provider's scope); all when undefined. */
  mirrors?: readonly string[];
}

export interface StatsResult {
  byDay: { day: string; downloads: number; bytes: number; impressions: number }[];
  byMirror: { mirror: string; downloads: number; bytes: number; impressions: number }[];
  byCountry: { country: string; downloads: number; bytes: number }[];
  topFiles: { path: string; downloads: number }[];
  totals: { downloads: number; bytes: number; impressions: number };
}

export interface AuditEntry {
  id: string;
  at: number;
  /** The token's name. */
  actor: string;
  action: string;
  /** e.g. "mirror:acme-de", "offer:3f2a". */
  target: string;
  before?: unknown;
  after?: unknown;
  /**
   * The state the change writes, recorded before it is written (write-ahead): a crash between the
   * two is rolled forward at start (control/reconcile.ts), and a damaged overrides file is rebuilt
   * from these. An offer's is without its status key's hash.
   */
  applies?: AuditApplies;
}

export type AuditApplies = { override: MirrorOverride | null } | { offer: Offer };

export interface AuditQuery {
  actor?: string;
  target?: string;
  /** Any of these targets (a provider's mirrors); combined with `target` when both are given. */
  targets?: readonly string[];
  action?: string;
  since?: number;
  until?: number;
  limit?: number;
}

/** A change another instance must apply; instances reload the named piece and rebuild. */
export type Change =
  | { kind: 'override'; mirror: string }
  | { kind: 'health'; mirror: string }
  | { kind: 'inventory'; mirror: string }
  | { kind: 'offer'; id: string }
  | { kind: 'token'; id: string }
  | { kind: 'logo'; mirror: string };

/**
 * A bearer token issued at runtime. Only the SHA-256 of the token is kept; revoked tokens stay
 * listed (with revokedAt) so the audit trail can name them.
 */
export interface TokenRecord {
  /** Short random id, for listing and revoking; not secret. */
  id: string;
  /** The actor name audit entries carry. */
  name: string;
  role: string;
  /** A provider token's mirrors; empty for staff. */
  mirrors: string[];
  /** SHA-256 of the token, lower-case hex. */
  hash: string;
  createdAt: number;
  createdBy: string;
  revokedAt?: number;
  revokedBy?: string;
  /** The offer whose acceptance issued it. */
  offer?: string;
}

/** A console session: the cookie holds a random id; the store keeps this under the id's SHA-256. */
export interface SessionRecord {
  /** Whose session: "config:<token name>" or "runtime:<token id>"; resolved on every request. */
  tokenRef: string;
  createdAt: number;
  /** Absolute: the session ends then, however active it was. */
  expiresAt: number;
}

/** A sponsor logo uploaded at runtime, already sanitised: every instance (and the edge) serves these bytes. */
export interface StoredLogo {
  contentType: string;
  /** The bytes, base64. */
  body: string;
  /** SHA-256 (hex) of the bytes: the logo's version. */
  sha256: string;
  updatedAt: number;
  updatedBy: string;
}

export interface StoreStatus {
  /** False while the backing service is unreachable: reads serve the last known state, writes fail. */
  available: boolean;
  detail?: string;
}

/** Thrown by writes while the store is unavailable; the HTTP layer answers 503. */
export class StoreUnavailableError extends Error {
  constructor(message = 'the shared store is unavailable') {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export interface Store {
  /** 'cluster': a worker's view of the store its cluster primary holds (src/store/ipcStore.ts). */
  readonly kind: 'memory' | 'redis' | 'cluster';

  getOverrides(): Promise<Map<string, MirrorOverride>>;
  /** null removes the override (the config's mirror shows through again). */
  putOverride(mirror: string, override: MirrorOverride | null): Promise<void>;

  getHealth(): Promise<Map<string, HealthRecord>>;
  putHealth(mirror: string, record: HealthRecord): Promise<void>;

  getInventory(mirror: string): Promise<InventoryRecord | undefined>;
  putInventory(mirror: string, record: InventoryRecord): Promise<void>;
  deleteInventory(mirror: string): Promise<void>;
  /** Mirror ids with a stored inventory. */
  listInventories(): Promise<string[]>;

  getOffers(): Promise<Offer[]>;
  getOffer(id: string): Promise<Offer | undefined>;
  putOffer(offer: Offer): Promise<void>;

  /**
   * Claims each key for ttlMs on every instance: true where this call was first. Counting a
   * download once per client and file across instances rests on it (one call per batch).
   */
  claimOnce(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  addStats(batch: StatsBatch): Promise<void>;
  queryStats(query: StatsQuery): Promise<StatsResult>;

  /** Append-only: there is no way to change or delete an entry. */
  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;

  getTokens(): Promise<TokenRecord[]>;
  /** Adds or replaces by id (revoking is a put with revokedAt). */
  putToken(token: TokenRecord): Promise<void>;

  /** Sessions are kept under a key (the SHA-256 of the cookie's id); an expired one reads as absent. */
  getSession(key: string): Promise<SessionRecord | undefined>;
  /** null ends the session. */
  putSession(key: string, session: SessionRecord | null): Promise<void>;

  getLogos(): Promise<Map<string, StoredLogo>>;
  /** null removes the uploaded logo. */
  putLogo(mirror: string, logo: StoredLogo | null): Promise<void>;

  /**
   * An id of the store's current data, created with it: a different answer than before means the
   * data was lost (Redis restarted empty or was flushed) and instances should write back what they hold.
   */
  epoch(): Promise<string>;
  /** Adds the entries whose id the log lacks, keeping the log in time order; resolves to how many were added. */
  mergeAudit(entries: readonly AuditEntry[]): Promise<number>;

  /** Tell every instance (this one included) about a change. */
  publish(change: Change): Promise<void>;
  subscribe(listener: (change: Change) => void): () => void;

  /**
   * A lease so that one instance runs a control loop (probes, scans) at a time; renew by
   * calling again before ttl ends. Always granted by the memory store.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;

  status(): StoreStatus;
  /** Notified when availability changes (Redis lost / back). */
  onStatus(listener: (status: StoreStatus) => void): () => void;

  /** Flush pending writes and release connections. */
  close(): Promise<void>;
}
