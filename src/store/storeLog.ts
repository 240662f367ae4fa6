// The slice of a logger the stores need (pino fits it), and a stand-in so a store never logs into the void.

export interface StoreLog {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const consoleStoreLog: StoreLog = {
  warn: (obj, msg) => console.warn(msg ?? '', obj),
  error: (obj, msg) => console.error(msg ?? '', obj),
};
