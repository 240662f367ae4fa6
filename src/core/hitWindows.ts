// Fixed-window hit counters in one process's memory, bounded: the embedded store's rate-limit counts, and
// each instance's own while the shared store is unreachable. Pure: the caller gives the time.

/** A rate-limit counter: hits in the current window, and when that window ends (epoch ms). */
export interface HitCount {
  hits: number;
  resetAtMs: number;
}

/** A whole number: 1 counts a hit, a negative one takes hits back (never below zero), 0 only reads. */
export type HitDelta = number;

export class HitWindows {
  /** key → its window; in insertion order, so past the bound the oldest windows are forgotten first. */
  private readonly windows = new Map<string, HitCount>();
  /** Ended windows are let go by a sweep of the whole Map at most this often (and at the bound). */
  private sweepAt = 0;

  constructor(private readonly maxKeys = 500_000) {}

  /** Applies `delta` to `key`'s window of `windowMs`, which starts with the key's first hit. */
  count(key: string, windowMs: number, delta: HitDelta, nowMs: number): HitCount {
    // Sweeps are whole walks of the Map: once in a while, never per request (a Map that stayed at a
    // sweep size, or a walk from its start past the holes deletions leave, cost a request milliseconds).
    if (nowMs >= this.sweepAt && this.windows.size > SWEEP_ABOVE) this.sweep(nowMs);
    let window = this.windows.get(key);
    if (window && window.resetAtMs <= nowMs) {
      this.windows.delete(key);
      window = undefined;
    }
    if (!window) {
      // Nothing to read or take back: no window is opened for it.
      if (delta <= 0) return { hits: 0, resetAtMs: nowMs };
      if (this.windows.size >= this.maxKeys) this.sweep(nowMs);
      window = { hits: 0, resetAtMs: nowMs + windowMs };
      this.windows.set(key, window);
    }
    window.hits = Math.max(0, window.hits + delta);
    return { ...window };
  }

  get size(): number {
    return this.windows.size;
  }

  /** Lets ended windows go; past the bound, the oldest too, down to a sixteenth under it, so the next sweep is far. */
  private sweep(nowMs: number): void {
    this.sweepAt = nowMs + SWEEP_EVERY_MS;
    for (const [key, window] of this.windows) if (window.resetAtMs <= nowMs) this.windows.delete(key);
    const keep = this.maxKeys - Math.ceil(this.maxKeys / 16);
    if (this.windows.size <= keep) return;
    for (const key of this.windows.keys()) {
      this.windows.delete(key);
      if (this.windows.size <= keep) return;
    }
  }
}

const SWEEP_ABOVE = 10_000;
const SWEEP_EVERY_MS = 10_000;
