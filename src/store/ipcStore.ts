// The Store of a cluster worker in memory mode: every call goes to the primary, which owns the one MemoryStore
// (src/node/storeHost.ts), as Redis would own it; changes come back to every worker the same way.
import { StoreUnavailableError, type Change, type Store, type StoreStatus } from './store.js';
import type { StoreLog } from './storeLog.js';

/** Messages between a worker's IpcStore and the primary's store host. */
export type StoreMessage =
  | { readonly mg: 'store-call'; readonly id: number; readonly method: string; readonly args: readonly unknown[] }
  | { readonly mg: 'store-result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly mg: 'store-result'; readonly id: number; readonly ok: false; readonly error: { name: string; message: string } }
  | { readonly mg: 'store-change'; readonly change: Change }
  | { readonly mg: 'store-status'; readonly status: StoreStatus };

/** One end of the IPC channel (process.send / process.on('message') in a worker). */
export interface StoreChannel {
  send(message: StoreMessage): void;
  onMessage(listener: (message: unknown) => void): () => void;
}

/** The Store methods that are plain async calls, forwarded as they are. */
export const FORWARDED_METHODS = [
  'getOverrides',
  'putOverride',
  'getHealth',
  'putHealth',
  'getInventory',
  'putInventory',
  'deleteInventory',
  'listInventories',
  'getOffers',
  'getOffer',
  'putOffer',
  'claimOnce',
  'countHit',
  'addStats',
  'queryStats',
  'appendAudit',
  'listAudit',
  'getTokens',
  'putToken',
  'getSession',
  'putSession',
  'getLogos',
  'putLogo',
  'noteArrivals',
  'getArrivals',
  'epoch',
  'mergeAudit',
  'publish',
  'acquireLease',
] as const satisfies readonly (keyof Store)[];

export function isStoreMessage(m: unknown): m is StoreMessage {
  return typeof m === 'object' && m !== null && typeof (m as { mg?: unknown }).mg === 'string' && (m as { mg: string }).mg.startsWith('store-');
}

/**
 * A Store whose every method is answered by the primary. Built as a Proxy over FORWARDED_METHODS so a
 * method added to the Store interface (and to that list) needs no code here.
 */
export function ipcStore(channel: StoreChannel, log: StoreLog = { warn: () => undefined, error: () => undefined }): Store {
  let next = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const changeListeners = new Set<(c: Change) => void>();
  const statusListeners = new Set<(s: StoreStatus) => void>();
  let status: StoreStatus = { available: true };
  let closed = false;

  const off = channel.onMessage((m) => {
    if (!isStoreMessage(m)) return;
    if (m.mg === 'store-result') {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      // The one error the HTTP layer maps by type (503) comes back as that type.
      else
        p.reject(
          m.error.name === 'StoreUnavailableError'
            ? new StoreUnavailableError(m.error.message)
            : Object.assign(new Error(m.error.message), { name: m.error.name }),
        );
    } else if (m.mg === 'store-change') {
      for (const l of [...changeListeners]) {
        try {
          l(structuredClone(m.change));
        } catch (err) {
          log.error({ change: m.change, err: (err as Error).message }, 'change listener failed');
        }
      }
    } else if (m.mg === 'store-status') {
      status = m.status;
      for (const l of statusListeners) l(m.status);
    }
  });

  const call = (method: string, args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      if (closed) return reject(new Error('the store is closed'));
      const id = next++;
      pending.set(id, { resolve, reject });
      channel.send({ mg: 'store-call', id, method, args });
    });

  const store: Partial<Store> & { kind: Store['kind'] } = {
    kind: 'cluster',
    subscribe(listener) {
      // Wrapped so the same function subscribed twice is two subscriptions, as with the other stores.
      const wrapped = (c: Change) => listener(c);
      changeListeners.add(wrapped);
      return () => changeListeners.delete(wrapped);
    },
    status: () => status,
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    async close() {
      closed = true;
      off();
      for (const p of pending.values()) p.reject(new Error('the store is closed'));
      pending.clear();
    },
  };
  for (const method of FORWARDED_METHODS) {
    (store as Record<string, unknown>)[method] = (...args: unknown[]) => call(method, args);
  }
  return store as Store;
}
