// What the staff and provider API (/admin/v1) answers, as zod schemas with their types: admin.ts types its answers with them, the CLI checks what it receives against them.
//
// Plain data only (no transforms, no defaults), so an answer that passes is used exactly as it was sent:
// the CLI's --json prints it whole. Fields a schema does not name are let through, not refused, so an
// older CLI still reads a newer server's answer; admin.ts checks with `satisfies` that what it sends fits.
import { z } from 'zod';
import type { HealthRecord } from '../../core/model.js';

/** The body of every error answer (app.ts): a message, and for a refused body or query each field's reason. */
export const problemAnswer = z.object({
  error: z.string(),
  fields: z.record(z.string(), z.string()).optional(),
});
export type ProblemAnswer = z.infer<typeof problemAnswer>;

// ---- mirrors ----

export const healthRecord = z.object({
  health: z.enum(['up', 'down', 'unknown']),
  reason: z.string().optional(),
  consecutiveFailures: z.number(),
  consecutiveSuccesses: z.number(),
  latencyMs: z.number().optional(),
  checkedAt: z.number().optional(),
  lastSync: z.number().optional(),
  lagSeconds: z.number().optional(),
  missing: z.array(z.string()).optional(),
});
// The wire form of core's HealthRecord: this fails to compile when the two drift apart.
const _healthRecordIsCores: z.ZodType<HealthRecord> = healthRecord;
void _healthRecordIsCores;

export const mirrorSpec = z.object({
  id: z.string(),
  name: z.string(),
  baseUrl: z.string(),
  rsyncUrl: z.string().optional(),
  trace: z.string().optional(),
  country: z.string(),
  lat: z.number().optional(),
  lon: z.number().optional(),
  asn: z.array(z.number()),
  weight: z.number(),
  bandwidthMbps: z.number().optional(),
  countryOnly: z.boolean(),
  enabled: z.boolean(),
  sponsor: z.object({ name: z.string(), url: z.string().optional(), logo: z.string().optional() }).optional(),
  content: z.object({ include: z.array(z.string()), exclude: z.array(z.string()), manifest: z.string().optional() }),
});

/** The public summary of a mirror in the current snapshot (core/mirrorStatus.ts), as /admin/v1/mirrors carries it. */
export const mirrorSummary = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  country: z.string(),
  continent: z.string().nullable(),
  status: z.enum(['up', 'down', 'draining', 'syncing', 'disabled', 'unknown', 'pending']),
  reason: z.string().nullable(),
  weight: z.number(),
  bandwidthMbps: z.number().nullable(),
  countryOnly: z.boolean(),
  sponsor: z.object({ name: z.string(), url: z.string().nullable(), logo: z.string().nullable() }).nullable(),
  lastSync: z.string().nullable(),
  lagSeconds: z.number().nullable(),
  lag: z.union([z.number(), z.literal('unknown')]).optional(),
  latencyMs: z.number().nullable(),
  share: z.number(),
  files: z.number(),
});

/** A mirror as staff see it: GET, POST and PATCH of a mirror, drain, undrain, launch and logo answer with one. */
export const mirrorView = z.object({
  spec: mirrorSpec,
  source: z.enum(['config', 'runtime']),
  lifecycle: z.enum(['pending', 'syncing', 'active']),
  drain: z.object({ startMs: z.number(), overMs: z.number() }).nullable(),
  health: healthRecord.nullable(),
  summary: mirrorSummary.nullable(),
  weightCeiling: z.number(),
});
export type MirrorView = z.infer<typeof mirrorView>;

export const mirrorListAnswer = z.object({ mirrors: z.array(mirrorView) });
export type MirrorListAnswer = z.infer<typeof mirrorListAnswer>;

/** DELETE of a mirror: 204, no body. */
export const noContent = z.undefined();

/** POST /admin/v1/mirrors/{id}/probe. */
export const probeAnswer = z.object({
  mirror: z.string(),
  /** This probe reached the mirror (its health changes only after several probes in a row); older servers left it out. */
  ok: z.boolean().optional(),
  health: healthRecord.nullable(),
});
export type ProbeAnswer = z.infer<typeof probeAnswer>;

export const scanReport = z.object({
  entries: z.number(),
  expected: z.number(),
  current: z.number(),
  missing: z.number(),
  stale: z.number(),
  completion: z.number(),
  missingSample: z.array(z.string()),
  staleSample: z.array(z.string()),
  foreign: z.number(),
  unparsed: z.number(),
});
export type ScanReport = z.infer<typeof scanReport>;

/** POST /admin/v1/mirrors/{id}/scan as JSON; the last line of its NDJSON stream when the scan ran. */
export const scanAnswer = z.object({ mirror: z.string(), report: scanReport });
export type ScanAnswer = z.infer<typeof scanAnswer>;

/**
 * One line of the scan's NDJSON stream (Accept: application/x-ndjson): `{"entries":n}` while the
 * listing runs, then the report, or why the scan failed.
 */
export const scanStreamLine = z.union([z.object({ entries: z.number() }), scanAnswer, z.object({ mirror: z.string(), error: z.string() })]);
export type ScanStreamLine = z.infer<typeof scanStreamLine>;

// ---- offers ----

export const offerView = z.object({
  id: z.string(),
  createdAt: z.number(),
  status: z.enum(['offered', 'accepted', 'rejected']),
  contact: z.object({ name: z.string(), email: z.string() }),
  organisation: z.string(),
  location: z.object({ country: z.string(), city: z.string().optional() }),
  peerings: z.string().optional(),
  storageTB: z.number(),
  bandwidthMbps: z.number(),
  baseUrl: z.string().optional(),
  rsyncUrl: z.string().optional(),
  note: z.string().optional(),
  decidedAt: z.number().optional(),
  decidedBy: z.string().optional(),
  decisionNote: z.string().optional(),
  mirrorId: z.string().optional(),
  network: z.string().optional(),
});
export type OfferView = z.infer<typeof offerView>;

/** GET /admin/v1/offers; `stale` while the shared store is unreachable (the instance's last copy). */
export const offerListAnswer = z.object({ offers: z.array(offerView), stale: z.boolean().optional() });
export type OfferListAnswer = z.infer<typeof offerListAnswer>;

/** A token issued now: the secret is in this answer and nowhere else, ever. */
export const issuedToken = z.object({ token: z.string(), id: z.string(), name: z.string(), role: z.string(), mirrors: z.array(z.string()) });
export type IssuedToken = z.infer<typeof issuedToken>;

/** POST /admin/v1/offers/{id}/accept: the decided offer, its new mirror, and the provider's token when asked for. */
export const offerAcceptAnswer = z.object({ offer: offerView, mirror: mirrorView, token: issuedToken.optional() });
export type OfferAcceptAnswer = z.infer<typeof offerAcceptAnswer>;

export const offerRejectAnswer = z.object({ offer: offerView });
export type OfferRejectAnswer = z.infer<typeof offerRejectAnswer>;

// ---- stats and audit ----

/** GET /admin/v1/stats: the days and mirrors asked about (null: all), and the counts. */
export const statsAnswer = z.object({
  from: z.string(),
  to: z.string(),
  mirrors: z.array(z.string()).nullable(),
  byDay: z.array(z.object({ day: z.string(), downloads: z.number(), bytes: z.number(), impressions: z.number() })),
  byMirror: z.array(z.object({ mirror: z.string(), downloads: z.number(), bytes: z.number(), impressions: z.number() })),
  byCountry: z.array(z.object({ country: z.string(), downloads: z.number(), bytes: z.number() })),
  topFiles: z.array(z.object({ path: z.string(), downloads: z.number() })),
  totals: z.object({ downloads: z.number(), bytes: z.number(), impressions: z.number() }),
});
export type StatsAnswer = z.infer<typeof statsAnswer>;

export const auditEntry = z.object({
  id: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  /** The state the change wrote (store.ts); opaque to readers of the log. */
  applies: z.unknown().optional(),
});
/** An audit entry as the API shows it (core/records.ts AuditEntry, its `applies` opaque here). */
export type AuditEntryView = z.infer<typeof auditEntry>;

/** GET /admin/v1/audit, newest first; `stale` while the shared store is unreachable. */
export const auditAnswer = z.object({ entries: z.array(auditEntry), stale: z.boolean().optional() });
export type AuditAnswer = z.infer<typeof auditAnswer>;

// ---- tokens ----

/** A token as staff see it in a list (and as a revoke answers): never the secret, never its hash. */
export const tokenView = z.object({
  id: z.string().nullable(),
  name: z.string(),
  role: z.string(),
  mirrors: z.array(z.string()),
  source: z.enum(['config', 'runtime']),
  createdAt: z.string().nullable(),
  createdBy: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  offer: z.string().nullable(),
});
export type TokenView = z.infer<typeof tokenView>;

export const tokenListAnswer = z.object({ tokens: z.array(tokenView) });
export type TokenListAnswer = z.infer<typeof tokenListAnswer>;
