// The control loops' schedule, driven by hand through injected timers: no wall-clock waiting.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scheduler, type Timers } from '../../src/control/scheduler.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { StoreUnavailableError } from '../../src/store/store.js';

/** Timers a test fires itself: each interval is a function to call. */
function manualTimers(): Timers & { fire(): void; live(): number } {
  const handles = new Map<number, () => void>();
  let next = 1;
  return {
    setInterval: (fn) => {
      handles.set(next, fn);
      return next++;
    },
    clearInterval: (h) => void handles.delete(h as number),
    fire: () => {
      for (const fn of handles.values()) fn();
    },
    live: () => handles.size,
  };
}

const quiet = { warn: () => undefined, error: () => undefined };
let dir: string;
let store: MemoryStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-scheduler-'));
  store = await MemoryStore.open({ dataDir: dir, log: quiet });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const settle = () => new Promise((r) => setImmediate(r));

describe('Scheduler', () => {
  it('runs a loop at start when asked, then on every tick, never two rounds at once; stop ends it', async () => {
    const timers = manualTimers();
    const s = new Scheduler({ store, holder: 'me', log: quiet, timers });
    let runs = 0;
    let release: () => void = () => undefined;
    s.every({ name: 'probe', everyMs: 1000, leaseMs: 2000, atStart: true, run: () => new Promise<void>((r) => ((runs += 1), (release = r))) });
    await settle();
    expect(runs).toBe(1);
    timers.fire(); // the first round is still running: not stacked
    await settle();
    expect(runs).toBe(1);
    release();
    await settle();
    timers.fire();
    await settle();
    expect(runs).toBe(2);
    release();
    s.stop();
    expect(timers.live()).toBe(0);
  });

  it('renews the lease on a tick that finds its round still running, so a long round keeps it', async () => {
    const timers = manualTimers();
    const calls: string[] = [];
    const acquire = store.acquireLease.bind(store);
    store.acquireLease = (name, holder, ttlMs) => (calls.push(`${name}:${holder}:${ttlMs}`), acquire(name, holder, ttlMs));
    const s = new Scheduler({ store, holder: 'me', log: quiet, timers });
    let release: () => void = () => undefined;
    let runs = 0;
    s.every({ name: 'probe', everyMs: 1000, leaseMs: 2000, atStart: true, run: () => new Promise<void>((r) => ((runs += 1), (release = r))) });
    await settle();
    timers.fire();
    timers.fire();
    await settle();
    expect(runs).toBe(1);
    expect(calls).toEqual(['probe:me:2000', 'probe:me:2000', 'probe:me:2000']);
    release();
    s.stop();
  });

  it('runs a loop of this instance alone without a lease, not stacked, a failure logged', async () => {
    const timers = manualTimers();
    const errors: string[] = [];
    const s = new Scheduler({ store, holder: 'me', log: { error: (_o, msg) => errors.push(msg ?? '') }, timers });
    await store.acquireLease('origin', 'someone else', 60_000);
    let runs = 0;
    let fail: (err: Error) => void = () => undefined;
    s.everyHere({ name: 'origin', everyMs: 5000, run: () => new Promise<void>((_r, reject) => ((runs += 1), (fail = reject))) });
    expect(runs).toBe(0); // not at start: the first look is a tick away
    timers.fire();
    timers.fire(); // still looking: not stacked
    await settle();
    expect(runs).toBe(1);
    fail(new Error('manifest unreadable'));
    await settle();
    expect(errors).toEqual(['control loop failed']);
    timers.fire();
    await settle();
    expect(runs).toBe(2);
    s.stop();
    expect(timers.live()).toBe(0);
  });

  it('a failing round is logged, not thrown into the timer', async () => {
    const errors: string[] = [];
    const s = new Scheduler({ store, holder: 'me', log: { error: (_o, msg) => errors.push(msg ?? '') }, timers: manualTimers() });
    await s.withLease('scan', 1000, async () => {
      throw new Error('rsync went away');
    });
    expect(errors).toEqual(['control loop failed']);
  });

  it('with the shared store away, every instance probes for itself but nobody scans', async () => {
    const away = Object.assign(Object.create(store) as MemoryStore, {
      acquireLease: async () => {
        throw new StoreUnavailableError();
      },
    });
    const s = new Scheduler({ store: away, holder: 'me', log: quiet, timers: manualTimers() });
    const ran: string[] = [];
    await s.withLease('probe', 1000, async () => void ran.push('probe'));
    await s.withLease('scan', 1000, async () => void ran.push('scan'));
    expect(ran).toEqual(['probe']);
  });
});
