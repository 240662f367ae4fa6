// The rate limits' hit counter: the shared store's answer when it gives one in time; this instance's own
// count while the store is away or slow, so a page never waits on Redis and a limit still holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { sharedHitCounter } from '../../src/control/hitCounter.js';
import type { HitCount } from '../../src/core/hitWindows.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';

/** A store that answers countHit as told (the rest of the port is not used here). */
function storeAnswering(countHit: () => Promise<HitCount>): Store {
  return { countHit } as unknown as Store;
}

describe('sharedHitCounter', () => {
  it("answers with the store's count", async () => {
    const count = sharedHitCounter(storeAnswering(async () => ({ hits: 41, resetAtMs: 5_000 })));
    expect(await count('api:192.0.2.1', 60_000, 1)).toEqual({ hits: 41, resetAtMs: 5_000 });
  });

  it('counts here while the store is unavailable', async () => {
    const count = sharedHitCounter(
      storeAnswering(async () => {
        throw new StoreUnavailableError('Redis at redis://127.0.0.1:6379: connection refused');
      }),
      { clock: () => 1_000 },
    );
    expect(await count('api:192.0.2.1', 60_000, 1)).toEqual({ hits: 1, resetAtMs: 61_000 });
    expect(await count('api:192.0.2.1', 60_000, 1)).toEqual({ hits: 2, resetAtMs: 61_000 });
    expect(await count('api:192.0.2.1', 60_000, 0)).toEqual({ hits: 2, resetAtMs: 61_000 });
  });

  it('counts here when the store does not answer within the deadline', async () => {
    const count = sharedHitCounter(
      storeAnswering(() => new Promise(() => undefined)),
      { clock: () => 1_000, deadlineMs: 20 },
    );
    expect(await count('api:192.0.2.1', 60_000, 1)).toEqual({ hits: 1, resetAtMs: 61_000 });
  });

  it('asks the embedded store directly: it answers in this process, with no deadline to race', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mg-hitcounter-'));
    try {
      const store = await MemoryStore.open({ dataDir, log: { warn: () => undefined, error: () => undefined } });
      const count = sharedHitCounter(store);
      const timers = vi.spyOn(globalThis, 'setTimeout');
      expect((await count('api:192.0.2.1', 60_000, 1)).hits).toBe(1);
      expect((await count('api:192.0.2.1', 60_000, 1)).hits).toBe(2);
      expect(timers).not.toHaveBeenCalled();
      timers.mockRestore();
      expect((await store.countHit('api:192.0.2.1', 60_000, 0)).hits).toBe(2);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('lets any other failure through: a bug is not a reason to count elsewhere', async () => {
    const count = sharedHitCounter(
      storeAnswering(async () => {
        throw new TypeError('not a store problem');
      }),
    );
    await expect(count('api:192.0.2.1', 60_000, 1)).rejects.toThrow('not a store problem');
  });
});
