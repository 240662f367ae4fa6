// Zod schemas for every payload a store reads back (state files, Redis values), so a bad byte on disk or in Redis is caught at the edge.
import { z } from 'zod';
import { fields } from '../config/fields.js';
import { isRelativeTracePath } from '../core/health.js';
import type { HealthRecord, InventoryEntry } from '../core/model.js';
import type { Change, SessionRecord, StatsBatch, TokenRecord } from './store.js';
import type { AuditApplies, AuditEntry, InventoryRecord, MirrorOverride, Offer, StoredLogo } from '../core/records.js';

const health = z.enum(['up', 'down', 'unknown']);

export const healthRecordSchema: z.ZodType<HealthRecord> = z.object({
  health,
  reason: z.string().optional(),
  consecutiveFailures: z.number().int().nonnegative(),
  consecutiveSuccesses: z.number().int().nonnegative(),
  latencyMs: z.number().optional(),
  checkedAt: z.number().optional(),
  lastSync: z.number().optional(),
  lagSeconds: z.number().optional(),
  missing: z.array(z.string()).optional(),
});

const sponsor = z.object({ name: z.string().min(1), url: fields.linkUrl.optional(), logo: z.string().optional() });

// A patch is partial by nature; each present field must pass the rules the config and the admin API
// apply to it (fields.ts), so a tampered file or Redis value (a javascript: baseUrl, a glob outside
// the dialect) is refused on read, not used.
const mirrorPatch = z
  .object({
    name: z.string().min(1),
    baseUrl: fields.baseUrl(),
    // null clears an optional field the config file sets (e.g. a sponsor removed at runtime).
    rsyncUrl: fields.rsyncUrl.nullable(),
    trace: z.string().refine(isRelativeTracePath).nullable(),
    country: fields.countryCode(),
    lat: z.number().min(-90).max(90).nullable(),
    lon: z.number().min(-180).max(180).nullable(),
    asn: z.array(z.int().min(1).max(4_294_967_295)),
    weight: z.int().min(0),
    bandwidthMbps: z.number().positive().nullable(),
    countryOnly: z.boolean(),
    enabled: z.boolean(),
    sponsor: sponsor.nullable(),
    content: z.object({
      include: fields.globList(),
      exclude: fields.globList(),
      manifest: z.string().optional(),
    }),
  })
  .partial();

export const mirrorOverrideSchema: z.ZodType<MirrorOverride> = z.object({
  patch: mirrorPatch,
  added: z.boolean().optional(),
  deleted: z.boolean().optional(),
  drain: z.object({ startMs: z.number(), overMs: z.number() }).optional(),
  lifecycle: z.enum(['pending', 'syncing', 'active', 'retired']).optional(),
  weightCeiling: z.number().optional(),
  unconfirmed: z.string().optional(),
  updatedAt: z.number(),
  updatedBy: z.string(),
});

export const offerSchema: z.ZodType<Offer> = z.object({
  id: z.string(),
  createdAt: z.number(),
  status: z.enum(['offered', 'accepted', 'rejected']),
  contact: z.object({ name: z.string(), email: z.string() }),
  organisation: z.string(),
  location: z.object({ country: z.string(), city: z.string().optional() }),
  peerings: z.string().optional(),
  storageTB: z.number(),
  bandwidthMbps: z.number(),
  // The URLs staff see as links and may turn into a mirror: held to the API's rules when read back.
  baseUrl: fields.baseUrl().optional(),
  rsyncUrl: fields.rsyncUrl.optional(),
  note: z.string().optional(),
  decidedAt: z.number().optional(),
  decidedBy: z.string().optional(),
  decisionNote: z.string().optional(),
  mirrorId: z.string().optional(),
  statusKeyHash: z.string().optional(),
  network: z.string().max(64).optional(),
});

export const tokenRecordSchema: z.ZodType<TokenRecord> = z.object({
  id: z.string(),
  name: z.string(),
  role: z.string(),
  mirrors: z.array(z.string()),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number(),
  createdBy: z.string(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
  offer: z.string().optional(),
});

export const sessionRecordSchema: z.ZodType<SessionRecord> = z.object({
  tokenRef: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
});

export const storedLogoSchema: z.ZodType<StoredLogo> = z.object({
  contentType: z.string(),
  body: z.string(),
  sha256: z.string(),
  updatedAt: z.number(),
  updatedBy: z.string(),
});

export const auditEntrySchema: z.ZodType<AuditEntry> = z.object({
  id: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  // Kept loose here, so an entry is never dropped from the log for it; checked when it is applied.
  applies: z.custom<AuditApplies>((v) => typeof v === 'object' && v !== null).optional(),
});

// A change notice only names what to read again (and what is read is checked); its names are checked too.
const noticeMirror = fields.mirrorId;
const noticeId = z.string().min(1).max(100);
export const changeSchema: z.ZodType<Change> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('override'), mirror: noticeMirror }),
  z.object({ kind: z.literal('health'), mirror: noticeMirror }),
  z.object({ kind: z.literal('inventory'), mirror: noticeMirror }),
  z.object({ kind: z.literal('offer'), id: noticeId }),
  z.object({ kind: z.literal('token'), id: noticeId }),
  z.object({ kind: z.literal('logo'), mirror: noticeMirror }),
  z.object({ kind: z.literal('origin'), from: noticeId }),
]);

/** The first line of a stored inventory: everything but the entries. */
export const inventoryHeaderSchema: z.ZodType<Omit<InventoryRecord, 'entries'>> = z.object({
  scannedAt: z.number(),
  source: z.enum(['rsync', 'http-manifest', 'config-manifest', 'probe']),
});

export const inventoryEntrySchema: z.ZodType<InventoryEntry> = z.object({
  path: z.string(),
  size: z.number().nonnegative(),
  mtime: z.number().optional(),
});

const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be an ISO day (YYYY-MM-DD)');
const count = z.number().int().nonnegative();

/** Checked on write too: a bad day or a negative count would poison every later query. */
export const statsBatchSchema: z.ZodType<StatsBatch> = z.object({
  downloads: z.array(z.object({ day: isoDay, mirror: z.string(), country: z.string(), count, bytes: z.number().nonnegative() })),
  files: z.array(z.object({ day: isoDay, path: z.string(), count, mirror: z.string().optional() })),
  impressions: z.array(z.object({ day: isoDay, mirror: z.string(), count })),
});

/**
 * One day of counters as both stores keep them: downloads keyed `<mirror>|<country>` as
 * [count, bytes], files keyed `<mirror>|<path>` (empty mirror when unknown), impressions by mirror.
 */
export const statsDaySchema = z.object({
  downloads: z.record(z.string(), z.tuple([z.number(), z.number()])),
  files: z.record(z.string(), z.number()),
  impressions: z.record(z.string(), z.number()),
});
export type StatsDay = z.infer<typeof statsDaySchema>;

// The memory store's snapshot files; `version` lets a later layout migrate instead of guessing.
// Each override is checked on its own (stateCheck.ts), so one bad record does not discard the others.
export const overridesFileSchema = z.object({
  version: z.literal(1),
  overrides: z.record(z.string(), z.unknown()),
});
export const healthFileSchema = z.object({
  version: z.literal(1),
  health: z.record(z.string(), healthRecordSchema),
});
export const offersFileSchema = z.object({ version: z.literal(1), offers: z.array(offerSchema) });
export const tokensFileSchema = z.object({ version: z.literal(1), tokens: z.array(tokenRecordSchema) });
export const sessionsFileSchema = z.object({ version: z.literal(1), sessions: z.record(z.string(), sessionRecordSchema) });
export const arrivalRecordSchema = z.object({
  path: z.string().min(1),
  size: z.number().nonnegative(),
  mtime: z.number().nullable(),
  sha256: z.string().nullable(),
  at: z.number(),
  isNew: z.boolean(),
  gone: z.boolean().optional(),
});
export const arrivalsFileSchema = z.object({ version: z.literal(1), arrivals: z.array(arrivalRecordSchema) });
export const logosFileSchema = z.object({ version: z.literal(1), logos: z.record(z.string(), storedLogoSchema) });
export const statsFileSchema = z.object({
  version: z.literal(1),
  days: z.record(isoDay, statsDaySchema),
});
