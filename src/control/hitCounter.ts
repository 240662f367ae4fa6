// The rate limits' counters, in the shared store: every instance and cluster worker spends one budget per
// client. While the store is unreachable, or slow to answer, each instance counts for itself (a budget per
// instance, as without a shared store) rather than refusing everyone, letting everything through, or making
// a page wait on Redis.
import { HitWindows, type HitCount, type HitDelta } from '../core/hitWindows.js';
import { StoreUnavailableError, type Store } from '../store/store.js';

export type CountHit = (key: string, windowMs: number, delta: HitDelta) => Promise<HitCount>;

/** How long a count may wait for the store before this instance counts it itself. */
export const HIT_DEADLINE_MS = 250;

export function sharedHitCounter(store: Store, opts: { clock?: () => number; deadlineMs?: number } = {}): CountHit {
  const clock = opts.clock ?? Date.now;
  const deadlineMs = opts.deadlineMs ?? HIT_DEADLINE_MS;
  // The embedded store counts in this process: nothing to wait for, no deadline timer per count.
  if (store.kind === 'memory') return (key, windowMs, delta) => store.countHit(key, windowMs, delta);
  const local = new HitWindows(100_000);
  return async (key, windowMs, delta) => {
    let giveUp: (value: undefined) => void = () => undefined;
    const late = new Promise<undefined>((resolve) => (giveUp = resolve));
    const timer = setTimeout(() => giveUp(undefined), deadlineMs);
    try {
      const shared = await Promise.race([store.countHit(key, windowMs, delta), late]);
      if (shared) return shared;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    } finally {
      clearTimeout(timer);
    }
    return local.count(key, windowMs, delta, clock());
  };
}
