// Tells a first sighting from a repeat within a time window, in bounded memory: how downloads are counted
// once per client and file (a segmented download is dozens of requests). It runs on every download.

export class FirstSightings<K extends string | number = string | number> {
  /** key → epoch ms first seen; a Map keeps insertion order, so the oldest come first. */
  private readonly seen = new Map<K, number>();
  /** No sweep before this: the oldest key's window has ended, and a sixteenth of a window more. */
  private sweepAt = Infinity;
  /**
   * Sweeps go by sixteenths: keys over `max`, and time past the oldest key's window, before one. Forgetting
   * one key per sighting walks the Map from its start every time, past the holes its deletions leave
   * until V8 compacts it (~20–120 µs a sighting in a big Map); a sixteenth at once walks it once.
   */
  private readonly slack: number;
  private readonly lagMs: number;

  /** `max`: how many keys are remembered (a sixteenth more between sweeps); the oldest are forgotten first. */
  constructor(
    private readonly windowMs: number,
    private readonly max: number,
  ) {
    this.slack = Math.floor(max / 16);
    this.lagMs = windowMs / 16;
  }

  /** Whether `key` was not seen within the window before `atMs`; remembers it when so. */
  first(key: K, atMs: number): boolean {
    const seenAt = this.seen.get(key);
    if (seenAt !== undefined) {
      if (atMs - seenAt < this.windowMs) return false;
      this.seen.delete(key);
    }
    this.seen.set(key, atMs);
    if (this.seen.size > this.max + this.slack || atMs >= this.sweepAt) this.forgetOld(atMs);
    else if (this.sweepAt === Infinity) this.sweepAt = atMs + this.windowMs + this.lagMs;
    return true;
  }

  /** Forgets every key. */
  clear(): void {
    this.seen.clear();
    this.sweepAt = Infinity;
  }

  get size(): number {
    return this.seen.size;
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.seen) {
      if (now - at < this.windowMs && this.seen.size <= this.max) {
        this.sweepAt = at + this.windowMs + this.lagMs;
        return;
      }
      this.seen.delete(key);
    }
    this.sweepAt = Infinity;
  }
}
