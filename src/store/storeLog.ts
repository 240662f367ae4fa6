// The slice of a logger the stores need (pino fits it), and a stand-in so a store never logs into the void.
import type { Logger } from '../core/logger.js';

export type StoreLog = Pick<Logger, 'warn' | 'error'>;

export const consoleStoreLog: StoreLog = {
  warn: (obj, msg) => console.warn(msg ?? '', obj),
  error: (obj, msg) => console.error(msg ?? '', obj),
};
