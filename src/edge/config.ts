// The Worker's env parsed once with zod: every problem named by its binding, so a misconfigured deploy fails loudly.
import { z } from 'zod';
import type { AnalyticsEngineLike, KvNamespaceLike, WorkerEnv } from './runtime.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface EdgeConfig {
  /** Control plane base URL without a trailing slash. */
  controlUrl?: string;
  snapshotToken?: string;
  staffToken?: string;
  ttlMs: number;
  /** How long a request waits for a refresh of a snapshot older than the TTL. */
  waitMs: number;
  /** /readyz turns 503 once the snapshot is older than this. */
  staleLimitMs: number;
  publicUrl?: string;
  logLevel: LogLevel;
  kv?: KvNamespaceLike;
  /** single: one whole snapshot; sharded: a core plus file shards on demand; auto: sharded when the source has a core. */
  snapshotMode: SnapshotMode;
  /** Bytes of decoded file shards an isolate keeps (sharded mode). */
  shardCacheBytes: number;
  /** Keep shards in the Workers Cache API by content hash. */
  shardSharedCache: boolean;
  /** How long an isolate gathers download counts before posting them. */
  statsFlushMs: number;
  /** Forward the control plane's own paths (console, admin API, offers) to CONTROL_URL. */
  forwardControlPaths: boolean;
  downloadsDataset?: AnalyticsEngineLike;
}

export const SNAPSHOT_MODES = ['auto', 'single', 'sharded'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));
const secret = z.string().trim().min(1);

const envSchema = z
  .object({
    CONTROL_URL: httpUrl.optional(),
    SNAPSHOT_TOKEN: secret.optional(),
    STAFF_TOKEN: secret.optional(),
    SNAPSHOT_TTL_SECONDS: z.coerce.number().positive().max(86_400).default(1),
    SNAPSHOT_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(300),
    SNAPSHOT_STALE_LIMIT_SECONDS: z.coerce
      .number()
      .positive()
      .max(30 * 86_400)
      .default(60),
    SHARD_SHARED_CACHE: z.enum(['on', 'off']).default('on'),
    STATS_FLUSH_SECONDS: z.coerce.number().min(0).max(25).default(5),
    FORWARD_CONTROL_PATHS: z.enum(['on', 'off']).default('on'),
    PUBLIC_URL: httpUrl.optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('warn'),
    SNAPSHOT_MODE: z.enum(SNAPSHOT_MODES).default('auto'),
    SHARD_CACHE_MB: z.coerce.number().positive().max(96).default(32),
    SNAPSHOT: z.custom<KvNamespaceLike>((v) => typeof (v as KvNamespaceLike | undefined)?.get === 'function', 'not a KV namespace binding').optional(),
    DOWNLOADS: z
      .custom<AnalyticsEngineLike>(
        (v) => typeof (v as AnalyticsEngineLike | undefined)?.writeDataPoint === 'function',
        'not an Analytics Engine dataset binding',
      )
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.SNAPSHOT && !env.CONTROL_URL) {
      ctx.addIssue({ code: 'custom', path: ['CONTROL_URL'], message: 'required unless a SNAPSHOT KV namespace is bound' });
    }
    if (!env.SNAPSHOT && env.CONTROL_URL && !env.SNAPSHOT_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['SNAPSHOT_TOKEN'], message: 'required to fetch the snapshot from CONTROL_URL (an edge or staff token)' });
    }
  });

export type EdgeConfigResult = { ok: true; config: EdgeConfig } | { ok: false; problems: string[] };

export function parseEdgeEnv(env: WorkerEnv): EdgeConfigResult {
  // Empty strings are how wrangler shows an unset var; treat them as absent.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '' && v !== undefined));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`) };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      controlUrl: e.CONTROL_URL,
      snapshotToken: e.SNAPSHOT_TOKEN,
      staffToken: e.STAFF_TOKEN,
      ttlMs: e.SNAPSHOT_TTL_SECONDS * 1000,
      waitMs: e.SNAPSHOT_WAIT_MS,
      staleLimitMs: e.SNAPSHOT_STALE_LIMIT_SECONDS * 1000,
      publicUrl: e.PUBLIC_URL,
      logLevel: e.LOG_LEVEL,
      kv: e.SNAPSHOT,
      snapshotMode: e.SNAPSHOT_MODE,
      shardCacheBytes: Math.round(e.SHARD_CACHE_MB * 1024 * 1024),
      shardSharedCache: e.SHARD_SHARED_CACHE === 'on',
      statsFlushMs: e.STATS_FLUSH_SECONDS * 1000,
      forwardControlPaths: e.FORWARD_CONTROL_PATHS === 'on',
      downloadsDataset: e.DOWNLOADS,
    },
  };
}
