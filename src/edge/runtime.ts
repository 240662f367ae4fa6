// The few Cloudflare Workers runtime shapes the edge code uses, declared here so the project needs no workers-types package.

import type { ExecutionContext } from 'hono';

/** The ExecutionContext handed to a module Worker's fetch (Hono declares the same shape). */
export type WorkerContext = ExecutionContext;

/** The part of a KV namespace binding the edge reads (snapshot, shards, logos). */
export interface KvNamespaceLike {
  /** cacheTtl: seconds the location may keep the value (KV's own edge cache; at least 60). */
  get(key: string, options: { type: 'arrayBuffer'; cacheTtl?: number }): Promise<ArrayBuffer | null>;
  /** For values published with metadata (a logo's content type); optional so older stand-ins still fit. */
  getWithMetadata?<M = unknown>(key: string, options: { type: 'arrayBuffer'; cacheTtl?: number }): Promise<{ value: ArrayBuffer | null; metadata: M | null }>;
}

/** The part of the Workers Cache API (caches.default) the edge uses: shared by the isolates of one location. */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

/** A Workers Analytics Engine dataset binding. */
export interface AnalyticsEngineLike {
  writeDataPoint(point: { blobs?: string[]; doubles?: number[]; indexes?: string[] }): void;
}

/** A Request as Workers deliver it: request.cf carries Cloudflare's facts about the client. */
export type WorkerRequest = Request & { cf?: Record<string, unknown> };

/** The bindings wrangler.toml declares ([vars], secrets, an optional KV namespace). */
export interface WorkerEnv {
  /** Base URL of a Mirrorgate Node instance running the control plane, e.g. https://control.example.org */
  CONTROL_URL?: string;
  /** Token the Worker presents to the control plane (secret): role `edge` (or staff) reads snapshots and posts download counts. */
  SNAPSHOT_TOKEN?: string;
  /** Staff token accepted for ?fromip= at the edge (secret). */
  STAFF_TOKEN?: string;
  /**
   * A snapshot confirmed longer ago than this is not used while a refresh answers within
   * SNAPSHOT_WAIT_MS; default 1 (SPEC: a drain holds on every instance within one second).
   */
  SNAPSHOT_TTL_SECONDS?: string;
  /** Milliseconds a request waits for that refresh before answering from the old snapshot; default 300. */
  SNAPSHOT_WAIT_MS?: string;
  /** /readyz answers 503 once the snapshot is older than this (the edge keeps answering from it); default 60. */
  SNAPSHOT_STALE_LIMIT_SECONDS?: string;
  /** on (default): keep shards in the Cache API (caches.default) by content hash; off: only in the isolate. */
  SHARD_SHARED_CACHE?: string;
  /** Seconds an isolate gathers download counts before posting them to the control plane; default 5. */
  STATS_FLUSH_SECONDS?: string;
  /** on (default, with CONTROL_URL): /admin, /login, /logout, /staff, /provider, /offer and offers go to the control plane. */
  FORWARD_CONTROL_PATHS?: string;
  /** How clients reach the Worker (absolute links in headers); default: the first request's origin. */
  PUBLIC_URL?: string;
  /** debug | info | warn | error | silent; default warn. */
  LOG_LEVEL?: string;
  /**
   * auto (default): use the control plane's (or KV's) sharded snapshot when it has one, else the whole
   * snapshot; single: always the whole snapshot; sharded: always the core and file shards.
   */
  SNAPSHOT_MODE?: string;
  /** Megabytes of decoded file shards an isolate keeps in sharded mode; default 32. */
  SHARD_CACHE_MB?: string;
  /**
   * Optional KV namespace: the encoded snapshot under the key "snapshot", or (sharded) the core
   * under "core" and shard k under "shard/k".
   */
  SNAPSHOT?: KvNamespaceLike;
  /** Optional Workers Analytics Engine dataset: every counted download is also written there. */
  DOWNLOADS?: AnalyticsEngineLike;
}
