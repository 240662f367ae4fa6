// The one way tests wait for something to become true: poll, and say how long it took (or that it never did).

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` every `everyMs` until it holds; returns ms elapsed since `since` (performance.now()
 * of the event), or undefined when `timeoutMs` passed first. A check that throws counts as not yet.
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  opts: { since?: number; timeoutMs?: number; everyMs?: number } = {},
): Promise<number | undefined> {
  const since = opts.since ?? performance.now();
  const timeoutMs = opts.timeoutMs ?? 5_000;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return performance.now() - since;
    if (performance.now() - since > timeoutMs) return undefined;
    await sleep(opts.everyMs ?? 10);
  }
}

/** waitFor that fails the test, naming what it waited for, when the time runs out. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<number> {
  const took = await waitFor(check, { timeoutMs, everyMs });
  if (took === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return took;
}
