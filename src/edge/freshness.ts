// When an edge snapshot is fresh enough to answer from, and how long a request waits for a refresh when it is not.

export interface FreshnessOptions {
  /** A snapshot confirmed longer ago than this is not used while a refresh answers within `waitMs`. */
  ttlMs: number;
  /** How long a request waits for a refresh of a snapshot older than the TTL; past it, the old one answers. */
  waitMs: number;
  /** Share of the TTL after which a request starts a refresh in the background (steady traffic then never waits). */
  aheadRatio?: number;
  /** Longest pause between attempts while the source keeps failing (the pause doubles from the TTL up to this). */
  maxBackoffMs?: number;
  clock: () => number;
}

export interface FreshnessStatus {
  /** When the check that confirmed the held snapshot was sent: what it says was true then, or later. */
  confirmedAtMs: number | undefined;
  /** Requests answered from a snapshot older than the TTL because no refresh answered within the wait. */
  staleAnswers: number;
  /** Requests that waited for a refresh, and how long the last one did. */
  waits: number;
  lastWaitMs: number | undefined;
  failures: number;
}

export const DEFAULT_WAIT_MS = 300;
const DEFAULT_AHEAD_RATIO = 0.75;
const DEFAULT_MAX_BACKOFF_MS = 10_000;

/**
 * One per snapshot source. A check's time is when it was sent, not when it answered: a drain
 * applied on the control plane before that moment is in what it returns. So a request at time t
 * that uses a snapshot confirmed at or after t − TTL honours every change made before t − TTL.
 *
 * - age < aheadRatio·TTL: answer, nothing else.
 * - aheadRatio·TTL ≤ age < TTL: answer now, refresh in the background (busy isolates never wait).
 * - age ≥ TTL (an isolate after an idle spell): refresh and wait for it until the attempt is `waitMs`
 *   old; answer from the new snapshot if it came, else from the old one (counted in staleAnswers).
 *
 * A failing source is retried after TTL, 2·TTL, 4·TTL … up to maxBackoffMs; each attempt is
 * waited for at most `waitMs` from its start, however many requests arrive meanwhile.
 */
export class Freshness {
  private inFlight: Promise<void> | undefined;
  private attemptAtMs = Number.NEGATIVE_INFINITY;
  private confirmedAtMs: number | undefined;
  private failures = 0;
  private staleAnswers = 0;
  private waits = 0;
  private lastWaitMs: number | undefined;
  private readonly aheadRatio: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly opts: FreshnessOptions) {
    this.aheadRatio = opts.aheadRatio ?? DEFAULT_AHEAD_RATIO;
    this.maxBackoffMs = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  }

  get ttlMs(): number {
    return this.opts.ttlMs;
  }

  get waitMs(): number {
    return this.opts.waitMs;
  }

  /** The running check, if any. */
  running(): Promise<void> | undefined {
    return this.inFlight;
  }

  /** When the last attempt (successful or not) was sent. */
  lastAttemptMs(): number {
    return this.attemptAtMs;
  }

  /** Milliseconds since the held snapshot was confirmed; undefined before the first success. */
  ageMs(): number | undefined {
    return this.confirmedAtMs === undefined ? undefined : this.opts.clock() - this.confirmedAtMs;
  }

  status(): FreshnessStatus {
    return { confirmedAtMs: this.confirmedAtMs, staleAnswers: this.staleAnswers, waits: this.waits, lastWaitMs: this.lastWaitMs, failures: this.failures };
  }

  /**
   * Runs `check` unless one is running (then returns that one). Never rejects: `check` reports its
   * own failure by throwing, which is handed to `onError`.
   */
  run(check: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const sentAt = this.opts.clock();
    this.attemptAtMs = sentAt;
    this.inFlight = check()
      .then(() => {
        this.failures = 0;
        // Another check sent later may have finished first (it cannot: one at a time), so plain assignment.
        this.confirmedAtMs = sentAt;
      })
      .catch((err: unknown) => {
        this.failures++;
        onError(err);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /**
   * Before answering from a held snapshot: starts a refresh when one is due (handing it to
   * `background`, i.e. ctx.waitUntil), and waits for it while the snapshot is past its TTL.
   */
  async beforeAnswer(check: () => Promise<void>, onError: (err: unknown) => void, background: (p: Promise<unknown>) => void): Promise<void> {
    const now = this.opts.clock();
    const age = this.confirmedAtMs === undefined ? Number.POSITIVE_INFINITY : now - this.confirmedAtMs;
    if (!this.inFlight && age >= this.aheadRatio * this.opts.ttlMs && now - this.attemptAtMs >= this.retryPauseMs()) {
      background(this.run(check, onError));
    }
    if (age < this.opts.ttlMs) return;
    const deadline = now + this.opts.waitMs;
    let waited = false;
    // A check that was sent more than a TTL before this request can answer with data too old for it:
    // then another is sent, within the same budget.
    for (;;) {
      const ageNow = this.ageMs();
      if (ageNow !== undefined && ageNow < this.opts.ttlMs) break;
      if (!this.inFlight) {
        if (this.opts.clock() - this.attemptAtMs < this.retryPauseMs()) break;
        background(this.run(check, onError));
      }
      const running = this.inFlight;
      // Never past this request's budget, nor past the attempt's own: requests arriving while a slow
      // check is out do not each wait a whole budget for it.
      const left = Math.min(deadline, this.attemptAtMs + this.opts.waitMs) - this.opts.clock();
      if (!running || left <= 0) break;
      if (!waited) {
        waited = true;
        this.waits++;
      }
      const started = this.opts.clock();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut = false;
      await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(() => ((timedOut = true), resolve()), left)))]);
      clearTimeout(timer);
      this.lastWaitMs = this.opts.clock() - started;
      if (timedOut) break;
    }
    const after = this.ageMs();
    if (after === undefined || after >= this.opts.ttlMs) this.staleAnswers++;
  }

  /** TTL after a success; doubling from the TTL while attempts fail. */
  private retryPauseMs(): number {
    if (this.failures === 0) return 0;
    return Math.min(this.maxBackoffMs, this.opts.ttlMs * 2 ** Math.min(this.failures - 1, 20));
  }
}
