// Logs for the edge: one JSON line per entry on console (Workers Logs and `wrangler tail` read these), pino-shaped.
import type { LogLike } from '../http/services.js';
import type { LogLevel } from './config.js';

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Number.POSITIVE_INFINITY };

export function consoleLog(level: LogLevel, base: Record<string, unknown> = { service: 'mirrorgate-edge' }): LogLike {
  const at = RANK[level];
  const write = (rank: number, obj: object, msg?: string) => {
    if (rank < at) return;
    const line = JSON.stringify({ level: rank, time: Date.now(), ...base, ...serializable(obj), msg }, replacer);
    if (rank >= RANK.error) console.error(line);
    else console.log(line);
  };
  return {
    info: (obj, msg) => write(RANK.info, obj, msg),
    warn: (obj, msg) => write(RANK.warn, obj, msg),
    error: (obj, msg) => write(RANK.error, obj, msg),
  };
}

/** Errors have no enumerable fields; log their message and stack as pino does. */
function serializable(obj: object): object {
  const err = (obj as { err?: unknown }).err;
  return err instanceof Error ? { ...obj, err: { type: err.name, message: err.message, stack: err.stack } } : obj;
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
