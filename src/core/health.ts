// The probe state machine: folds one probe outcome into a mirror's health record, with hysteresis so mirrors do not flap.
import type { HealthRecord } from './model.js';

/** What one probe of one mirror found. */
export interface ProbeOutcome {
  /**
   * The mirror answered: its trace file was readable, or (trace files are optional) it has none
   * but its sample files, or its base URL when there are no samples, answered.
   */
  ok: boolean;
  /**
   * On a failed probe, why (e.g. "connection refused", "HTTP 503"). On an ok probe, set only
   * when sample files were missing, listing those problems ("sample missing: a; size mismatch: b …").
   */
  reason?: string;
  /** Time to the first response's headers (the trace request), on ok probes. */
  latencyMs?: number;
  /** Epoch ms when the probe started. */
  at: number;
  /** Epoch seconds of the mirror's copy of the trace file; absent on an ok probe of a mirror without one (lag unknown). */
  traceTime?: number;
  /** On an ok probe without traceTime: why there is none ("no trace file (HTTP 404)", "trace file unreadable"). */
  traceProblem?: string;
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

  if (outcome.ok && outcome.traceTime === undefined) {
    // The mirror serves but publishes no readable trace: when it last synced, and so its lag, are
    // unknown. Not kept from an earlier trace either: an old lastSync would hold back every newer
    // file for good, and a lag grown from it would park the mirror as syncing for want of a file.
    return next;
  }
  // A failed probe says nothing about the mirror's copy: its last known sync stands, and its lag
  // keeps growing as the origin moves on.
  const lastSync = outcome.traceTime ?? base.lastSync;
  if (lastSync !== undefined) next.lastSync = lastSync;
  const lag = lastSync !== undefined && cfg.originTraceTime !== undefined ? Math.max(0, cfg.originTraceTime - lastSync) : base.lagSeconds;
  if (lag !== undefined) next.lagSeconds = lag;

  return next;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAY = /^(?:mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?$/i;

// RFC 3339 / ISO 8601 with optional seconds, fraction and zone; a date alone is midnight UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?$/;
const ZONE = /^(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$/i;

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

function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string | undefined): number | undefined {
  const offset = zoneOffsetMinutes(zone);
  if (offset === undefined) return undefined;
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC rolls Feb 31 over into March; a trace saying so is corrupt, not a date.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return Math.floor(ms / 1000) - offset * 60;
}

function monthOf(token: string): number | undefined {
  const t = token.toLowerCase().replace(/\.$/, '');
  const i = t.length === 3 ? MONTHS.indexOf(t) : MONTH_NAMES.indexOf(t);
  return i >= 0 ? i : undefined;
}

/**
 * A written-out date in any field order, as `date` prints it in the C locale ("Sat Nov 22 10:00:01
 * UTC 2026", ftpsync's first line), in glibc's en_US one ("Sat 22 Nov 2026 10:00:01 AM UTC"), or as
 * RFC 2822 / HTTP dates ("Sat, 22 Nov 2026 10:00:01 GMT"). Every word must be a weekday, month,
 * day, year, clock time, AM/PM or zone, each at most once; no zone means UTC.
 */
function writtenDate(line: string): number | undefined {
  let year: number | undefined;
  let month: number | undefined;
  let day: number | undefined;
  let clock: RegExpExecArray | undefined;
  let meridiem: string | undefined;
  let zone: string | undefined;
  let weekday = false;
  for (const token of line.split(/[\s,]+/)) {
    if (token === '') continue;
    const t = CLOCK.exec(token);
    const m = monthOf(token);
    if (t && !clock) clock = t;
    else if (/^\d{4}$/.test(token) && year === undefined) year = Number(token);
    else if (/^\d{1,2}$/.test(token) && day === undefined) day = Number(token);
    else if (m !== undefined && month === undefined) month = m;
    else if (/^[ap]m$/i.test(token) && meridiem === undefined) meridiem = token.toLowerCase();
    else if (ZONE.test(token) && zone === undefined) zone = token;
    else if (WEEKDAY.test(token) && !weekday) weekday = true;
    else return undefined;
  }
  if (year === undefined || month === undefined || day === undefined || !clock) return undefined;
  let hour = Number(clock[1]);
  if (meridiem) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  return utcSeconds(year, month, day, hour, Number(clock[2]), Number(clock[3] ?? 0), zone);
}

/** Epoch seconds from one line holding nothing but a time; undefined when it is not one. */
function lineTime(line: string): number | undefined {
  if (line === '') return undefined;
  // At least 9 digits (1973 on): a bare year or a counter is not a time.
  if (/^\d{9,16}(?:\.\d+)?$/.test(line)) {
    const n = Number(line);
    // 12 digits and up is epoch milliseconds (seconds would be past the year 5000).
    return Math.floor(n >= 1e11 ? n / 1000 : n);
  }
  const m = ISO.exec(line);
  if (m) {
    return utcSeconds(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), m[8]);
  }
  return writtenDate(line);
}

/**
 * Epoch seconds from a trace/timestamp file, or undefined when it holds none we can read.
 * The first line decides when it is a time: epoch seconds (Arch's `lastsync`, CentOS's `TIME`)
 * or milliseconds, an RFC 3339 / ISO 8601 date, a `date` line (Debian ftpsync's first line) or an
 * RFC 2822 date. Otherwise, ftpsync's key lines: `Date: <RFC 2822>`, else `Archive serial:
 * YYYYMMDDNN` (midnight UTC of that day: it names no time).
 */
export function parseTraceTime(text: string): number | undefined {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/, 200);
  const first = lineTime(lines[0]!.trim());
  if (first !== undefined) return first;
  let serial: number | undefined;
  for (const raw of lines) {
    const key = /^([A-Za-z][A-Za-z -]*):\s*(.*)$/.exec(raw.trim());
    if (!key) continue;
    const name = key[1]!.toLowerCase();
    if (name === 'date') {
      const time = lineTime(key[2]!);
      if (time !== undefined) return time;
    } else if (name === 'archive serial' && serial === undefined) {
      const s = /^(\d{4})(\d{2})(\d{2})\d{0,4}$/.exec(key[2]!);
      if (s) serial = utcSeconds(Number(s[1]), Number(s[2]) - 1, Number(s[3]), 0, 0, 0, undefined);
    }
  }
  return serial;
}

/** A trace path as config and API take it: relative to a base URL, no query, no way out of it. */
export function isRelativeTracePath(p: string): boolean {
  return (
    p.length > 0 &&
    p.length <= 1024 &&
    !p.startsWith('/') &&
    // eslint-disable-next-line no-control-regex
    !/[?#\\\u0000-\u001f\u007f]/.test(p) &&
    !p.includes('://') &&
    !p.split('/').includes('..')
  );
}
