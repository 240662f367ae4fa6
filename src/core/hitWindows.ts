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
  /** key → its window; in insertion order, so past the bound the oldest window is forgotten first. */
  private readonly windows = new Map<string, HitCount>();

  constructor(private readonly maxKeys = 500_000) {}

  /** Applies `delta` to `key`'s window of `windowMs`, which starts with the key's first hit. */
  count(key: string, windowMs: number, delta: HitDelta, nowMs: number): HitCount {
    if (this.windows.size > 100_000 && this.windows.size % 1024 === 0) this.sweep(nowMs);
    let window = this.windows.get(key);
    if (window && window.resetAtMs <= nowMs) {
      this.windows.delete(key);
      window = undefined;
    }
    if (!window) {
      // Nothing to read or take back: no window is opened for it.
      if (delta <= 0) return { hits: 0, resetAtMs: nowMs };
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      window = { hits: 0, resetAtMs: nowMs + windowMs };
      this.windows.set(key, window);
    }
    window.hits = Math.max(0, window.hits + delta);
    return { ...window };
  }

  private sweep(nowMs: number): void {
    for (const [key, window] of this.windows) if (window.resetAtMs <= nowMs) this.windows.delete(key);
  }
}
