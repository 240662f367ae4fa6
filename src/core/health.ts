// The probe state machine: folds one probe outcome into a mirror's health record, with hysteresis so mirrors do not flap.
import type { HealthRecord } from '../store/store.js';

/** What one probe of one mirror found. */
export interface ProbeOutcome {
  /** The mirror answered and its trace file was readable. */
  ok: boolean;
  /**
   * On a failed probe, why (e.g. "connection refused", "HTTP 503"). On an ok probe, set only
   * when sample files were missing, listing those problems ("sample missing: a; size mismatch: b …").
   */
  reason?: string;
  /** Time to the trace response's headers, on ok probes. */
  latencyMs?: number;
  /** Epoch ms when the probe started. */
  at: number;
  /** Epoch seconds of the mirror's copy of the trace file. */
  traceTime?: number;
  /** Sample files found missing or with the wrong size: take them off the mirror at once. */
  missing?: string[];
}

export interface HealthThresholds {
  failuresToDown: number;
  successesToUp: number;
  /** Epoch seconds of the origin's trace file, when known: the reference for lag. */
  originTraceTime?: number;
}

/** Weight of the newest sample in the latency moving average. */
export const LATENCY_EMA_ALPHA = 0.3;

/** Health of a mirror never probed. */
export function initialHealth(): HealthRecord {
  return { health: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 };
}

/**
 * The record after one more probe. A mirror goes down on its `failuresToDown`-th failure in a
 * row and comes back up on its `successesToUp`-th success in a row; an unknown mirror is up at
 * its first success (nothing speaks against it). Anything in between keeps the health it had.
 */
export function nextHealth(prev: HealthRecord | undefined, outcome: ProbeOutcome, cfg: HealthThresholds): HealthRecord {
  const base = prev ?? initialHealth();
  const next: HealthRecord = {
    health: base.health,
    consecutiveFailures: outcome.ok ? 0 : base.consecutiveFailures + 1,
    consecutiveSuccesses: outcome.ok ? base.consecutiveSuccesses + 1 : 0,
    checkedAt: outcome.at,
  };

  if (outcome.ok) {
    if (base.health === 'unknown' || next.consecutiveSuccesses >= cfg.successesToUp) next.health = 'up';
  } else if (next.consecutiveFailures >= cfg.failuresToDown) {
    next.health = 'down';
  }

  // A down mirror keeps saying why until it is up again; an up mirror's last blip is kept until the next success.
  if (!outcome.ok) next.reason = outcome.reason ?? 'probe failed';
  else if (next.health !== 'up' && base.reason !== undefined) next.reason = base.reason;

  const latency =
    outcome.ok && outcome.latencyMs !== undefined && Number.isFinite(outcome.latencyMs)
      ? base.latencyMs === undefined
        ? outcome.latencyMs
        : LATENCY_EMA_ALPHA * outcome.latencyMs + (1 - LATENCY_EMA_ALPHA) * base.latencyMs
      : base.latencyMs;
  if (latency !== undefined) next.latencyMs = latency;

  // A failed probe says nothing about the mirror's copy: its last known sync stands, and its lag
  // keeps growing as the origin moves on.
  const lastSync = outcome.traceTime ?? base.lastSync;
  if (lastSync !== undefined) next.lastSync = lastSync;
  const lag =
    lastSync !== undefined && cfg.originTraceTime !== undefined
      ? Math.max(0, cfg.originTraceTime - lastSync)
      : base.lagSeconds;
  if (lag !== undefined) next.lagSeconds = lag;

  return next;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

// RFC 3339 / ISO 8601 with optional seconds, fraction and zone; a date alone is midnight UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?)?$/i;
// `date -u` as Debian's ftpsync writes it ("Sat Nov 22 10:00:01 UTC 2026", %e pads the day with a space).
const UNIX_DATE = /^(?:[a-z]{3},?\s+)?([a-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(UTC|GMT|Z|[+-]\d{4})\s+(\d{4})$/i;
// RFC 2822 / HTTP-date ("Sat, 22 Nov 2026 10:00:01 GMT").
const RFC2822 = /^(?:[a-z]{3},?\s+)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(UTC|GMT|Z|[+-]\d{4})$/i;

/** Minutes east of UTC for a zone token; undefined for zone names we cannot place (CET is ambiguous about DST). */
function zoneOffsetMinutes(zone: string | undefined): number | undefined {
  if (zone === undefined) return 0;
  const z = zone.toUpperCase();
  if (z === 'Z' || z === 'UTC' || z === 'GMT') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(z);
  if (!m) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? '0');
  return m[1] === '-' ? -minutes : minutes;
}

function utcSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  zone: string | undefined,
): number | undefined {
  const offset = zoneOffsetMinutes(zone);
  if (offset === undefined) return undefined;
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls Feb 31 over into March; a trace saying so is corrupt, not a date.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return Math.floor(ms / 1000) - offset * 60;
}

/**
 * Epoch seconds from the first line of a trace/timestamp file: an integer (or decimal) of epoch
 * seconds, an RFC 3339 / ISO 8601 date, a `date -u` line as Debian's ftpsync writes, or an
 * RFC 2822 date. Undefined when the line is none of these.
 */
export function parseTraceTime(text: string): number | undefined {
  const newline = text.search(/\r?\n/);
  const line = (newline >= 0 ? text.slice(0, newline) : text).replace(/^\uFEFF/, '').trim();
  if (line === '') return undefined;

  // At least 9 digits (1973 on): a bare year or a counter is not a time.
  if (/^\d{9,16}(?:\.\d+)?$/.test(line)) {
    const n = Number(line);
    // 12 digits and up is epoch milliseconds (seconds would be past the year 5000).
    return Math.floor(n >= 1e11 ? n / 1000 : n);
  }

  let m = ISO.exec(line);
  if (m) {
    return utcSeconds(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), m[8]);
  }
  m = UNIX_DATE.exec(line);
  if (m) {
    const month = MONTHS[m[1]!.toLowerCase()];
    if (month === undefined) return undefined;
    return utcSeconds(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), m[6]);
  }
  m = RFC2822.exec(line);
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month === undefined) return undefined;
    return utcSeconds(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), m[7]);
  }
  return undefined;
}
