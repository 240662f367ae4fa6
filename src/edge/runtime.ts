// The few Cloudflare Workers runtime shapes the edge code uses, declared here so the project needs no workers-types package.

import type { ExecutionContext } from 'hono';

/** The ExecutionContext handed to a module Worker's fetch (Hono declares the same shape). */
export type WorkerContext = ExecutionContext;

/** The part of a KV namespace binding the snapshot source reads. */
export interface KvNamespaceLike {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
}

/** A Request as Workers deliver it: request.cf carries Cloudflare's facts about the client. */
export type WorkerRequest = Request & { cf?: Record<string, unknown> };

/** The bindings wrangler.toml declares ([vars], secrets, an optional KV namespace). */
export interface WorkerEnv {
  /** Base URL of a Mirrorgate Node instance running the control plane, e.g. https://control.example.org */
  CONTROL_URL?: string;
  /** Staff token the Worker presents to GET /admin/v1/snapshot (secret). */
  SNAPSHOT_TOKEN?: string;
  /** Staff token accepted for ?fromip= at the edge (secret). */
  STAFF_TOKEN?: string;
  /** Seconds a snapshot is served before a background check for a newer one; default 10. */
  SNAPSHOT_TTL_SECONDS?: string;
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
}
