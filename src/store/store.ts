// The shared-state port: one contract, implemented in memory (persisted to dataDir) and on Redis.
import type { ArrivalRecord } from '../core/arrivals.js';
import type { HitCount, HitDelta } from '../core/hitWindows.js';
import type { HealthRecord } from '../core/model.js';
import type { AuditEntry, InventoryRecord, MirrorOverride, Offer, StoredLogo } from '../core/records.js';

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
  | { kind: 'logo'; mirror: string }
  /** An instance saw the origin change: the others look at it now rather than at their next refresh. */
  | { kind: 'origin'; from: string };

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
  /**
   * Adds `delta` (1; a negative number takes hits back; 0 only reads) to `key`'s count in a fixed window of `windowMs`
   * that starts with the key's first hit, and answers the count and when the window ends (epoch ms).
   * Rate limits rest on it, so every instance (and cluster worker) spends one budget per client.
   */
  countHit(key: string, windowMs: number, delta: HitDelta): Promise<HitCount>;
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

  /**
   * Notes when origin file versions arrived (core/arrivals.ts), keeping per path the earlier sighting of
   * one version (keptArrival); resolves to what is kept for each record, in order, so instances agree.
   */
  noteArrivals(records: readonly ArrivalRecord[]): Promise<ArrivalRecord[]>;
  /** The arrivals kept, after forgetting those before `forgetBefore` (epoch seconds). */
  getArrivals(forgetBefore: number): Promise<ArrivalRecord[]>;

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
