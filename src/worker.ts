// Workers entry: the same createApp as Node, wired for Cloudflare by edge/edgeApp.ts; one Edge per isolate.
import { createEdge, type Edge } from './edge/edgeApp.js';
import type { WorkerContext, WorkerEnv, WorkerRequest } from './edge/runtime.js';

// Module scope lives as long as the isolate: the decoded snapshot (or, for large file sets, the core and an LRU of
// file shards: edge/shardedSource.ts), logos, download counts on their way and rate-limit counters are kept between
// requests. Edge.fetch freshens the snapshot and loads what a request needs (its file's shard, a logo) before the app
// runs, so the app's hot path stays synchronous; it builds the app on the first request that needs it.
let edge: Edge | undefined;

export default {
  fetch(request: WorkerRequest, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
    edge ??= createEdge(env);
    return edge.fetch(request, ctx);
  },
};
