// Long pure computations written as generators: each `yield` marks a point where the caller may let other
// work run. Run to the end at once (tests, the edge), or cooperatively, so a server splitting a million-file
// snapshot keeps answering downloads and probing mirrors meanwhile. Timers stay with the caller: core has none.

/** A computation in steps; `yield` between units of work, `return` the result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs every step at once. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export interface Cooperation {
  /** Lets other work run, e.g. () => new Promise((r) => setTimeout(r, 0)). */
  pause(): Promise<void>;
  /** A clock in ms (performance.now). */
  now(): number;
  /** How long to run between two pauses; default 10 ms. */
  sliceMs?: number;
}

/** Runs the steps, pausing whenever a slice of time has passed since the last pause (not at every step). */
export async function runCooperatively<T>(steps: Steps<T>, how: Cooperation): Promise<T> {
  const slice = how.sliceMs ?? 10;
  let since = how.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (how.now() - since >= slice) {
      await how.pause();
      since = how.now();
    }
  }
}
