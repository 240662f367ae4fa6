// When the control loops run: a probe round every health.interval and a scan round every scan.interval, each on
// one instance at a time (a lease in the store), and the loops every instance runs for itself (the store's epoch
// check, the origin refresh). Timers are injected, so a test can drive the loops itself.
import { StoreUnavailableError } from './errors.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../store/store.js';

/** The timer functions the loops use (the global ones by default; fake ones in tests). */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const realTimers: Timers = {
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    // The loops never keep a process alive on their own.
    t.unref();
    return t;
  },
  clearInterval: (t) => clearInterval(t as ReturnType<typeof setInterval>),
};

export interface Loop {
  /** The lease's name ("probe", "scan"): one instance at a time runs it. */
  name: string;
  everyMs: number;
  /** How long the lease holds: past it, another instance may take over. */
  leaseMs: number;
  /** Run at once on start too, not only after the first interval. */
  atStart: boolean;
  run(): Promise<unknown>;
}

/** A loop every instance runs for itself: no lease. */
export interface LocalLoop {
  /** For the log ("epoch", "origin"). */
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export class Scheduler {
  private handles: unknown[] = [];
  private readonly timers: Timers;

  constructor(
    private readonly opts: {
      store: Store;
      /** This instance's lease holder name. */
      holder: string;
      log: Pick<Logger, 'error'>;
      timers?: Timers;
    },
  ) {
    this.timers = opts.timers ?? realTimers;
  }

  /**
   * Starts a loop. A round that outlasts its interval (a stalled origin) is not stacked on by the next tick;
   * that tick renews the lease instead, so a long round is not taken over mid-way by another instance.
   */
  every(loop: Loop): void {
    let running = false;
    const tick = () => {
      if (running) {
        void this.renew(loop.name, loop.leaseMs);
        return;
      }
      running = true;
      void this.withLease(loop.name, loop.leaseMs, loop.run).finally(() => (running = false));
    };
    if (loop.atStart) tick();
    this.handles.push(this.timers.setInterval(tick, loop.everyMs));
  }

  /** Starts a loop on this instance alone (no lease); as with `every`, a slow round is not stacked on. */
  everyHere(loop: LocalLoop): void {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      void loop
        .run()
        .catch((err: unknown) => this.opts.log.error({ err: (err as Error).message, loop: loop.name }, 'control loop failed'))
        .finally(() => (running = false));
    };
    this.handles.push(this.timers.setInterval(tick, loop.everyMs));
  }

  stop(): void {
    for (const h of this.handles) this.timers.clearInterval(h);
    this.handles = [];
  }

  /** Extends this instance's lease while its round runs on (the same call that took it); an unavailable store is the round's concern. */
  private async renew(name: string, ttlMs: number): Promise<void> {
    try {
      await this.opts.store.acquireLease(name, this.opts.holder, ttlMs);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) this.opts.log.error({ err: (err as Error).message, loop: name }, 'lease renewal failed');
    }
  }

  /** Runs `job` when this instance holds the lease; a failure is logged, never thrown into a timer. */
  async withLease(name: string, ttlMs: number, job: () => Promise<unknown>): Promise<void> {
    try {
      let leader: boolean;
      try {
        leader = await this.opts.store.acquireLease(name, this.opts.holder, ttlMs);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // With the shared store away nobody can hold the lease, and results cannot be shared:
        // every instance probes for itself so dead mirrors still leave its snapshot in time.
        leader = name === 'probe';
      }
      if (leader) await job();
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, loop: name }, 'control loop failed');
    }
  }
}
