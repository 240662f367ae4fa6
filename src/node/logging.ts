// Node only: the process's pino logger, with the access log written as one preformatted line per request (or per N 302s, sampled), in batches.
import pino from 'pino';
import type { Logger, RequestLine } from '../core/logger.js';

/**
 * MIRRORGATE_ACCESS_LOG_SAMPLE: a whole number N ≥ 1, one access-log line per N plain redirects (default 1,
 * every one). For networks where the access log costs more than it tells; metrics still count them all.
 */
export function redirectSample(env: Record<string, string | undefined>): number {
  const raw = env.MIRRORGATE_ACCESS_LOG_SAMPLE;
  if (raw === undefined || raw.trim() === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new Error(`MIRRORGATE_ACCESS_LOG_SAMPLE: expected a whole number from 1 to 1000000 (one line per that many redirects), got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** pino's number for `info`, the access log's level. */
const INFO = 30;

export type NodeLogger = pino.Logger & Required<Pick<Logger, 'request'>>;

/** Any pino destination; sonic-boom's (pino.destination) has flush and flushSync. */
type Destination = pino.DestinationStream & { flush?(cb?: (err?: Error) => void): void; flushSync?(): void };

/**
 * Access-log lines of one event-loop turn, written to the destination as one string. sonic-boom measures
 * its pending buffer on every write, so a write per line under load costs more than the line itself.
 * Every other log line drains the batch before it is written: lines keep their order.
 */
class LineBatch {
  private pending: string[] = [];
  private scheduled = false;
  constructor(private readonly destination: Destination) {}

  add(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      unwritten.add(this);
      setImmediate(this.drain);
    }
  }

  readonly drain = (): void => {
    this.scheduled = false;
    unwritten.delete(this);
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.destination.write(text);
  };
}

/** Batches with lines not yet written: drained when the process exits (process.exit, a crash) before the destination's own exit flush. */
const unwritten = new Set<LineBatch>();
process.once('exit', () => {
  for (const batch of unwritten) batch.drain();
});

/**
 * pino on `destination` (default: stdout, written synchronously, pino's own default: with the access
 * log's lines written once per event-loop turn, a write(2) per turn costs a download less than handing
 * each turn's lines to libuv's thread pool, which an asynchronous destination does).
 * `request()` writes the line pino's `info(line, 'request')` would, byte for byte in the same key
 * order, without pino's generic serialiser: on a plain 302 that serialiser cost as much as the
 * decision.
 */
export function nodeLogger(
  level: string,
  base: Record<string, string | number>,
  destination: Destination = pino.destination({ dest: 1, sync: true }),
  opts: { redirectSample?: number } = {},
): NodeLogger {
  const batch = new LineBatch(destination);
  const ordered: Destination = {
    write(text: string) {
      batch.drain();
      return destination.write(text);
    },
    flush: destination.flush ? (cb) => (batch.drain(), destination.flush!(cb)) : undefined,
    flushSync: destination.flushSync ? () => (batch.drain(), destination.flushSync!()) : undefined,
  };
  const logger = pino({ level, base }, ordered);
  const bindings = Object.keys(base).length > 0 ? `,${JSON.stringify(base).slice(1, -1)}` : '';
  // One in `sample` plain redirects gets a line, marked with the sample so a reader can scale counts;
  // every other answer always does. Metrics count every request either way.
  const sample = opts.redirectSample ?? 1;
  let redirects = 0;
  const request = (l: RequestLine): void => {
    if (!logger.isLevelEnabled('info')) return;
    if (sample > 1 && l.status === 302 && redirects++ % sample !== 0) return;
    let line = `{"level":${INFO},"time":${Date.now()}${bindings}`;
    if (l.reqId !== undefined) line += `,"reqId":${jsonString(l.reqId)}`;
    line += `,"method":${jsonString(l.method)},"path":${jsonString(l.path)},"status":${l.status}`;
    if (l.mirror !== undefined) line += `,"mirror":${jsonString(l.mirror)}`;
    if (sample > 1 && l.status === 302) line += `,"sample":${sample}`;
    batch.add(`${line},"ms":${jsonMs(l.ms)},"msg":"request"}\n`);
  };
  return Object.assign(logger, { request });
}

/** `s` as JSON.stringify writes it; without calling it when nothing needs escaping (ids, methods, most paths). */
function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Controls, quote and backslash are escaped; surrogates may be (a lone one is): JSON.stringify decides.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * A duration in ms as JSON writes it, from whole hundredths when it is one (logRequest rounds to them):
 * printing a fraction is V8's shortest-decimal search, which cost more than the rest of the line.
 */
function jsonMs(ms: number): string {
  const h = Math.round(ms * 100);
  if (h / 100 !== ms || h < 0 || h > 1e9) return JSON.stringify(ms);
  const whole = Math.floor(h / 100);
  const frac = h - whole * 100;
  if (frac === 0) return `${whole}`;
  if (frac % 10 === 0) return `${whole}.${frac / 10}`;
  return `${whole}.${frac < 10 ? '0' : ''}${frac}`;
}
