// The store of a cluster worker in memory mode (IpcStore → the primary's store host → MemoryStore) keeps the whole
// Store contract, over an in-process channel that copies every message as node:cluster's advanced serialization does.
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostStore, type WorkerEndpoint } from '../../src/node/storeHost.js';
import { ipcStore, type StoreChannel, type StoreMessage } from '../../src/store/ipcStore.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import { storeContract } from './contract.js';

const quiet = { warn: () => undefined, error: () => undefined };

/** Both ends of one worker's channel; each message is structured-cloned and delivered on a later turn. */
function channelPair(): { worker: StoreChannel; primary: WorkerEndpoint & { exit(): void } } {
  const toWorker = new EventEmitter();
  const toPrimary = new EventEmitter();
  const deliver = (to: EventEmitter, m: unknown) => setImmediate(() => to.emit('message', structuredClone(m)));
  return {
    worker: {
      send: (m: StoreMessage) => deliver(toPrimary, m),
      onMessage: (l) => {
        toWorker.on('message', l);
        return () => toWorker.off('message', l);
      },
    },
    primary: {
      send: (m: StoreMessage) => deliver(toWorker, m),
      on: (event: 'message' | 'exit', l: (m: unknown) => void) => toPrimary.on(event, l),
      isConnected: () => true,
      exit: () => toPrimary.emit('exit'),
    } as WorkerEndpoint & { exit(): void },
  };
}

async function workerOnHost(dataDir: string): Promise<{ store: Store; close(): Promise<void>; memory: MemoryStore }> {
  const memory = await MemoryStore.open({ dataDir, log: quiet });
  const host = hostStore(memory);
  const pair = channelPair();
  host.attach(pair.primary);
  const store = ipcStore(pair.worker);
  return {
    store,
    memory,
    close: async () => {
      await store.close();
      host.close();
      await memory.close();
    },
  };
}

storeContract('IpcStore (a cluster worker of a memory-mode cluster)', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mg-ipcstore-'));
  const opened: { close(): Promise<void> }[] = [];
  const open = async () => {
    const w = await workerOnHost(dataDir);
    opened.push(w);
    return w.store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const w of opened) await w.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

/** A primary's store host with two workers attached over channel pairs; `body` runs, and everything is closed after. */
async function onePrimaryTwoWorkers(
  body: (w: { a: ReturnType<typeof channelPair>; wa: ReturnType<typeof ipcStore>; wb: ReturnType<typeof ipcStore> }) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mg-ipcstore-'));
  const memory = await MemoryStore.open({ dataDir, log: quiet });
  const host = hostStore(memory);
  const [a, b] = [channelPair(), channelPair()];
  host.attach(a.primary);
  host.attach(b.primary);
  const [wa, wb] = [ipcStore(a.worker), ipcStore(b.worker)];
  try {
    await body({ a, wa, wb });
  } finally {
    await wa.close();
    await wb.close();
    host.close();
    await memory.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('the primary across workers', () => {
  it('grants a lease to one worker at a time, and tells every worker of a change', () =>
    onePrimaryTwoWorkers(async ({ wa, wb }) => {
      expect(await wa.acquireLease('probes', 'worker-a', 10_000)).toBe(true);
      expect(await wb.acquireLease('probes', 'worker-b', 10_000)).toBe(false);
      expect(await wa.acquireLease('probes', 'worker-a', 10_000)).toBe(true);
      const seen: string[] = [];
      wb.subscribe((c) => seen.push(c.kind));
      await wa.publish({ kind: 'override', mirror: 'm1' });
      await expect.poll(() => seen).toEqual(['override']);
      // A download claimed by one worker is not claimed again by the other.
      expect(await wa.claimOnce(['ip|file'], 60_000)).toEqual([true]);
      expect(await wb.claimOnce(['ip|file'], 60_000)).toEqual([false]);
    }));

  it('a worker that dies gives up its leases at once: another probes and scans from its next tick, not hours later', () =>
    onePrimaryTwoWorkers(async ({ a, wa, wb }) => {
      // A scan lease runs for the scan timeout plus the scan interval: 6.5 hours by default.
      expect(await wa.acquireLease('scan', 'worker-a', 6.5 * 3_600_000)).toBe(true);
      expect(await wa.acquireLease('probe', 'worker-a', 60_000)).toBe(true);
      expect(await wb.acquireLease('scan', 'worker-b', 6.5 * 3_600_000)).toBe(false);
      a.primary.exit();
      expect(await wb.acquireLease('scan', 'worker-b', 6.5 * 3_600_000)).toBe(true);
      expect(await wb.acquireLease('probe', 'worker-b', 60_000)).toBe(true);
    }));

  it('a write refused by the store reaches the worker as StoreUnavailableError (the HTTP layer answers 503)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mg-ipcstore-'));
    const w = await workerOnHost(dataDir);
    try {
      const failing = w.memory as unknown as { putOffer: () => Promise<void> };
      failing.putOffer = async () => {
        throw new StoreUnavailableError('disk full');
      };
      await expect(w.store.putOffer({} as never)).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await w.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
