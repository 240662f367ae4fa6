// Picks the store a deployment asked for: "memory" (persisted under dataDir) or a redis:// / rediss:// URL.
import { MemoryStore } from './memoryStore.js';
import { RedisStore } from './redisStore.js';
import type { Store } from './store.js';
import type { StoreLog } from './storeLog.js';

export interface OpenStoreOptions {
  /** 'memory' or a Redis URL (config `store`, or REDIS_URL). */
  store: string;
  dataDir: string;
  clock?: () => number;
  log?: StoreLog;
  /** Redis key prefix (default 'mirrorgate:'). */
  redisPrefix?: string;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { store, dataDir, clock, log } = options;
  if (store === 'memory') {
    // One process per dataDir: a second would silently lose the first one's writes (Redis is for several).
    return MemoryStore.open({ dataDir, lockDataDir: true, ...(clock && { clock }), ...(log && { log }) });
  }
  if (/^rediss?:\/\//i.test(store)) {
    return RedisStore.connect({
      url: store,
      ...(options.redisPrefix !== undefined && { prefix: options.redisPrefix }),
      ...(clock && { clock }),
      ...(log && { log }),
    });
  }
  throw new Error(`store: ${storeUrlProblem(store)}`);
}

/** Why `store` (config `store`, or REDIS_URL) names no store, or undefined when it names one. */
export function storeUrlProblem(store: string): string | undefined {
  if (store === 'memory' || /^rediss?:\/\//i.test(store)) return undefined;
  // Redacted: a mistyped URL may still carry a password, and one mistyped enough ("redis:/user:pw@host") has no
  // parsed password for redactRedisUrl (redisStore.ts) to hide: everything before the last "@" goes.
  const shown = store.includes('@') ? `***${store.slice(store.lastIndexOf('@'))}` : store;
  return `must be "memory" or a redis:// or rediss:// URL, got ${JSON.stringify(shown)}`;
}
