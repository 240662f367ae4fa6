// Node only, cluster primary: answers the workers' IpcStore calls from the one store it owns, gives leases to
// one worker at a time (released when it dies), and tells every worker about each change and each availability change.
import { FORWARDED_METHODS, isStoreMessage, type StoreMessage } from '../store/ipcStore.js';
import type { Store } from '../store/store.js';

const ALLOWED = new Set<string>(FORWARDED_METHODS);

/** The primary's end of one worker's IPC channel: a node:cluster Worker is one. */
export interface WorkerEndpoint {
  send(message: StoreMessage): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: () => void): unknown;
  isConnected(): boolean;
}

export interface StoreHost {
  /** Starts answering a (new) worker. */
  attach(worker: WorkerEndpoint): void;
  close(): void;
}

export function hostStore(store: Store, clock: () => number = Date.now): StoreHost {
  const workers = new Set<WorkerEndpoint>();
  // The memory store grants every lease (one process); across workers one holder at a time, as Redis does.
  const leases = new Map<string, { holder: string; untilMs: number }>();
  const acquireLease = (name: string, holder: string, ttlMs: number): boolean => {
    const now = clock();
    const current = leases.get(name);
    if (current && current.holder !== holder && current.untilMs > now) return false;
    leases.set(name, { holder, untilMs: now + ttlMs });
    return true;
  };
  const broadcast = (message: StoreMessage) => {
    for (const w of workers) if (w.isConnected()) w.send(message);
  };
  const unsubscribe = store.subscribe((change) => broadcast({ mg: 'store-change', change }));
  const unstatus = store.onStatus((status) => broadcast({ mg: 'store-status', status }));

  return {
    attach(worker) {
      workers.add(worker);
      // The lease holder names this worker used: its leases die with it.
      const holders = new Set<string>();
      worker.on('exit', () => {
        workers.delete(worker);
        // Another worker takes over at its next tick, not when the lease would have run out (a scan lease lasts
        // the scan timeout plus the scan interval: hours).
        for (const [name, lease] of leases) if (holders.has(lease.holder)) leases.delete(name);
      });
      worker.on('message', (m: unknown) => {
        if (!isStoreMessage(m) || m.mg !== 'store-call') return;
        const reply = (message: StoreMessage) => {
          if (worker.isConnected()) worker.send(message);
        };
        if (!ALLOWED.has(m.method)) {
          return reply({ mg: 'store-result', id: m.id, ok: false, error: { name: 'Error', message: `no store method ${m.method}` } });
        }
        const run = async () => {
          if (m.method === 'acquireLease') {
            const [name, holder, ttlMs] = m.args as [string, string, number];
            holders.add(holder);
            return acquireLease(name, holder, ttlMs);
          }
          return (store[m.method as (typeof FORWARDED_METHODS)[number]] as (...a: unknown[]) => Promise<unknown>).apply(store, [...m.args]);
        };
        run().then(
          (value) => reply({ mg: 'store-result', id: m.id, ok: true, value }),
          (err: unknown) =>
            reply({
              mg: 'store-result',
              id: m.id,
              ok: false,
              error: { name: (err as Error)?.name ?? 'Error', message: (err as Error)?.message ?? String(err) },
            }),
        );
      });
    },
    close() {
      unsubscribe();
      unstatus();
    },
  };
}
