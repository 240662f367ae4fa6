// The rate limits' counters, in the shared store: every instance and cluster worker spends one budget per
// client. While the store is unreachable each instance counts for itself (a budget per instance, as
// without a shared store) rather than refusing everyone or letting everything through.
import { HitWindows, type HitCount, type HitDelta } from '../core/hitWindows.js';
import { StoreUnavailableError, type Store } from '../store/store.js';

export type CountHit = (key: string, windowMs: number, delta: HitDelta) => Promise<HitCount>;

export function sharedHitCounter(store: Store, clock: () => number = Date.now): CountHit {
  const local = new HitWindows(100_000);
  return async (key, windowMs, delta) => {
    try {
      return await store.countHit(key, windowMs, delta);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      return local.count(key, windowMs, delta, clock());
    }
  };
}
