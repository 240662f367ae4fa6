// Workers entry: the same createApp as Node, wired for Cloudflare by edge/edgeApp.ts; one Edge per isolate.
import { createEdge, type Edge } from './edge/edgeApp.js';
import type { WorkerContext, WorkerEnv, WorkerRequest } from './edge/runtime.js';

// Module scope lives as long as the isolate: the decoded snapshot, logos and rate-limit counters are kept between requests.
let edge: Edge | undefined;

export default {
  fetch(request: WorkerRequest, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
    edge ??= createEdge(env);
    return edge.fetch(request, ctx);
  },
};
