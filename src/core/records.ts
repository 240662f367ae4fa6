// What staff, providers, probes and scans leave behind about mirrors: overrides, inventories, offers,
// audit entries, uploaded logos. The store keeps them, the control plane writes them, pages and the API
// show them; they are defined here so every layer speaks of them in one vocabulary.
import type { InventoryEntry, MirrorSpec } from './model.js';

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
