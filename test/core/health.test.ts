import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialHealth, isRelativeTracePath, nextHealth, parseTraceTime, type ProbeOutcome } from '../../src/core/health.js';
import type { HealthRecord } from '../../src/core/model.js';

const cfg = { failuresToDown: 3, successesToUp: 2 };
const ok = (at = 0, extra: Partial<ProbeOutcome> = {}): ProbeOutcome => ({ ok: true, at, ...extra });
const fail = (reason = 'HTTP 503', at = 0): ProbeOutcome => ({ ok: false, reason, at });

function run(outcomes: ProbeOutcome[], thresholds = cfg, start?: HealthRecord): HealthRecord[] {
  const records: HealthRecord[] = [];
  let rec = start;
  for (const o of outcomes) {
    rec = nextHealth(rec, o, thresholds);
    records.push(rec);
  }
  return records;
}

const healthOf = (records: HealthRecord[]) => records.map((r) => r.health);

describe('nextHealth: the state machine', () => {
  it('starts unknown', () => {
    expect(initialHealth()).toEqual({ health: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });
  });

  it.each([
    { name: 'unknown → up on the first success', seq: 'S', want: ['up'] },
    { name: 'unknown → down on the failuresToDown-th failure', seq: 'FFF', want: ['unknown', 'unknown', 'down'] },
    { name: 'up survives fewer failures than the threshold', seq: 'SFFSFF', want: ['up', 'up', 'up', 'up', 'up', 'up'] },
    { name: 'up → down after three failures in a row', seq: 'SFFF', want: ['up', 'up', 'up', 'down'] },
    { name: 'down needs two successes in a row', seq: 'FFFSFSS', want: ['unknown', 'unknown', 'down', 'down', 'down', 'down', 'up'] },
    { name: 'a failure during recovery restarts the count', seq: 'FFFSFFS', want: ['unknown', 'unknown', 'down', 'down', 'down', 'down', 'down'] },
    { name: 'more failures keep it down', seq: 'FFFFFF', want: ['unknown', 'unknown', 'down', 'down', 'down', 'down'] },
  ])('$name', ({ seq, want }) => {
    const outcomes = [...seq].map((c) => (c === 'S' ? ok() : fail()));
    expect(healthOf(run(outcomes))).toEqual(want);
  });

  it('counts consecutive failures and successes', () => {
    const records = run([ok(), ok(), fail(), fail(), ok()]);
    expect(records.map((r) => [r.consecutiveSuccesses, r.consecutiveFailures])).toEqual([
      [1, 0],
      [2, 0],
      [0, 1],
      [0, 2],
      [1, 0],
    ]);
  });

  it('keeps the reason of the last failure until the mirror is up again', () => {
    const records = run([fail('connection refused'), fail('HTTP 503'), fail('timeout after 5000 ms'), ok(), ok()]);
    expect(records.map((r) => r.reason)).toEqual(['connection refused', 'HTTP 503', 'timeout after 5000 ms', 'timeout after 5000 ms', undefined]);
    expect(records[4]).not.toHaveProperty('reason');
  });

  it('records a blip on an up mirror and clears it at the next success', () => {
    const records = run([ok(), fail('connection reset'), ok()]);
    expect(records[1]).toMatchObject({ health: 'up', reason: 'connection reset' });
    expect(records[2]).not.toHaveProperty('reason');
  });

  it('gives a reason even when the probe did not', () => {
    expect(nextHealth(undefined, { ok: false, at: 1 }, cfg).reason).toBe('probe failed');
  });

  it('records when it was checked', () => {
    expect(nextHealth(undefined, ok(1234), cfg).checkedAt).toBe(1234);
  });

  it('averages latency of successful probes (EMA, alpha 0.3)', () => {
    const records = run([ok(0, { latencyMs: 100 }), ok(0, { latencyMs: 200 }), fail(), ok(0, { latencyMs: 50 })]);
    expect(records[0]!.latencyMs).toBe(100);
    expect(records[1]!.latencyMs).toBeCloseTo(130);
    expect(records[2]!.latencyMs).toBeCloseTo(130); // failures do not move it
    expect(records[3]!.latencyMs).toBeCloseTo(0.3 * 50 + 0.7 * 130);
  });

  it('takes lastSync from the trace and lag against the origin trace', () => {
    const rec = nextHealth(undefined, ok(0, { traceTime: 1_000 }), { ...cfg, originTraceTime: 4_600 });
    expect(rec).toMatchObject({ lastSync: 1_000, lagSeconds: 3_600 });
  });

  it('never reports a negative lag (mirror ahead of what we read at the origin)', () => {
    const rec = nextHealth(undefined, ok(0, { traceTime: 5_000 }), { ...cfg, originTraceTime: 4_600 });
    expect(rec.lagSeconds).toBe(0);
  });

  it('keeps lastSync on failures while the lag grows with the origin', () => {
    const first = nextHealth(undefined, ok(0, { traceTime: 1_000 }), { ...cfg, originTraceTime: 1_000 });
    const second = nextHealth(first, fail(), { ...cfg, originTraceTime: 8_200 });
    expect(second).toMatchObject({ lastSync: 1_000, lagSeconds: 7_200 });
  });

  it('keeps the previous lag when the origin trace is unknown this round', () => {
    const first = nextHealth(undefined, ok(0, { traceTime: 1_000 }), { ...cfg, originTraceTime: 1_600 });
    const second = nextHealth(first, ok(0, { traceTime: 1_000 }), cfg);
    expect(second.lagSeconds).toBe(600);
  });

  it('an ok probe without a trace is up with lag and last sync unknown, even after a trace was read before', () => {
    const noTrace = ok(0, { traceProblem: 'no trace file (HTTP 404)' });
    expect(nextHealth(undefined, noTrace, { ...cfg, originTraceTime: 4_600 })).toMatchObject({ health: 'up' });
    const withTrace = nextHealth(undefined, ok(0, { traceTime: 1_000 }), { ...cfg, originTraceTime: 4_600 });
    const after = nextHealth(withTrace, noTrace, { ...cfg, originTraceTime: 90_000 });
    expect(after.health).toBe('up');
    expect(after).not.toHaveProperty('lastSync');
    expect(after).not.toHaveProperty('lagSeconds');
    // A failure then keeps it unknown: there is no last sync to grow a lag from.
    expect(nextHealth(after, fail(), { ...cfg, originTraceTime: 99_000 })).not.toHaveProperty('lagSeconds');
  });

  it('a mirror without a trace goes down only on failures, never for the missing trace', () => {
    const noTrace = ok(0, { traceProblem: 'no trace file (HTTP 404)' });
    expect(healthOf(run([noTrace, noTrace, noTrace, noTrace, noTrace], { ...cfg, successesToUp: 2 }))).toEqual(['up', 'up', 'up', 'up', 'up']);
    expect(healthOf(run([noTrace, fail(), fail(), fail(), noTrace, noTrace]))).toEqual(['up', 'up', 'up', 'down', 'down', 'up']);
  });

  it('leaves lag and lastSync unset when nothing is known', () => {
    const rec = nextHealth(undefined, ok(), cfg);
    expect(rec).not.toHaveProperty('lastSync');
    expect(rec).not.toHaveProperty('lagSeconds');
    expect(rec).not.toHaveProperty('latencyMs');
  });

  it('does not mutate the previous record', () => {
    const prev = nextHealth(undefined, ok(), cfg);
    const copy = structuredClone(prev);
    nextHealth(prev, fail(), cfg);
    expect(prev).toEqual(copy);
  });
});

describe('nextHealth: properties', () => {
  const thresholds = fc.record({ failuresToDown: fc.integer({ min: 1, max: 6 }), successesToUp: fc.integer({ min: 1, max: 6 }) });
  const sequence = fc.array(fc.boolean(), { maxLength: 80 });

  it('changes health only at the thresholds', () => {
    fc.assert(
      fc.property(thresholds, sequence, (t, seq) => {
        let prev: HealthRecord | undefined;
        let failRun = 0;
        let okRun = 0;
        for (const success of seq) {
          failRun = success ? 0 : failRun + 1;
          okRun = success ? okRun + 1 : 0;
          const next = nextHealth(prev, success ? ok() : fail(), t);
          const before = prev?.health ?? 'unknown';
          expect(next.consecutiveFailures).toBe(failRun);
          expect(next.consecutiveSuccesses).toBe(okRun);
          if (before !== 'unknown') expect(next.health).not.toBe('unknown');
          if (next.health !== before) {
            if (next.health === 'down') {
              expect(success).toBe(false);
              expect(failRun).toBe(t.failuresToDown);
            } else {
              expect(next.health).toBe('up');
              expect(success).toBe(true);
              expect(before === 'unknown' || okRun === t.successesToUp).toBe(true);
            }
          }
          // The thresholds force the change: nobody stays up through failuresToDown failures, or down through successesToUp successes.
          if (failRun >= t.failuresToDown) expect(next.health).toBe('down');
          if (okRun >= t.successesToUp) expect(next.health).toBe('up');
          prev = next;
        }
      }),
    );
  });

  it('does not flap: after a change, the next one takes at least the threshold of probes', () => {
    fc.assert(
      fc.property(thresholds, sequence, (t, seq) => {
        const records = run(
          seq.map((s) => (s ? ok() : fail())),
          t,
        );
        let lastChange: number | undefined;
        let health = 'unknown';
        records.forEach((r, i) => {
          if (r.health === health) return;
          if (lastChange !== undefined) {
            const needed = r.health === 'down' ? t.failuresToDown : t.successesToUp;
            expect(i - lastChange).toBeGreaterThanOrEqual(needed);
          }
          lastChange = i;
          health = r.health;
        });
      }),
    );
  });

  it('a down mirror needs successesToUp successes in a row', () => {
    fc.assert(
      fc.property(thresholds, sequence, (t, seq) => {
        const down = run(
          Array.from({ length: t.failuresToDown }, () => fail()),
          t,
        ).at(-1)!;
        expect(down.health).toBe('down');
        let rec = down;
        let okRun = 0;
        for (const success of seq) {
          okRun = success ? okRun + 1 : 0;
          rec = nextHealth(rec, success ? ok() : fail(), t);
          if (rec.health === 'up') {
            expect(okRun).toBeGreaterThanOrEqual(t.successesToUp);
            return;
          }
        }
      }),
    );
  });

  it('keeps lag non-negative and lastSync at the latest trace seen (unknown after an ok probe without one), latency within what was measured', () => {
    const outcome = fc.record({
      ok: fc.boolean(),
      traceTime: fc.option(fc.integer({ min: 0, max: 2_000_000_000 }), { nil: undefined }),
      latencyMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
      origin: fc.option(fc.integer({ min: 0, max: 2_000_000_000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 40 }), (outcomes) => {
        let rec: HealthRecord | undefined;
        let lastTrace: number | undefined;
        let lo = Infinity;
        let hi = -Infinity;
        for (const o of outcomes) {
          const probe: ProbeOutcome = o.ok ? { ok: true, at: 0, latencyMs: o.latencyMs } : { ok: false, at: 0, reason: 'x' };
          if (o.ok && o.traceTime !== undefined) probe.traceTime = o.traceTime;
          rec = nextHealth(rec, probe, { ...cfg, ...(o.origin === undefined ? {} : { originTraceTime: o.origin }) });
          if (probe.traceTime !== undefined) lastTrace = probe.traceTime;
          else if (o.ok) lastTrace = undefined;
          if (o.ok) {
            lo = Math.min(lo, o.latencyMs);
            hi = Math.max(hi, o.latencyMs);
          }
          expect(rec.lastSync).toBe(lastTrace);
          if (rec.lagSeconds !== undefined) expect(rec.lagSeconds).toBeGreaterThanOrEqual(0);
          if (lastTrace !== undefined && o.origin !== undefined) expect(rec.lagSeconds).toBe(Math.max(0, o.origin - lastTrace));
          if (lastTrace === undefined) expect(rec.lagSeconds).toBeUndefined();
          if (rec.latencyMs !== undefined) {
            expect(rec.latencyMs).toBeGreaterThanOrEqual(lo - 1e-9);
            expect(rec.latencyMs).toBeLessThanOrEqual(hi + 1e-9);
          }
        }
      }),
    );
  });
});

describe('parseTraceTime', () => {
  const t = Date.UTC(2026, 10, 22, 10, 0, 1) / 1000; // Sat Nov 22 10:00:01 UTC 2026

  it.each([
    ['epoch seconds', `${t}\n`, t],
    ['epoch seconds with CRLF and more lines', `${t}\r\nsomething else\n`, t],
    ['epoch seconds with a fraction', `${t}.75`, t],
    ['epoch milliseconds', `${t * 1000}`, t],
    ['RFC 3339 UTC', '2026-11-22T10:00:01Z', t],
    ['RFC 3339 with fraction', '2026-11-22T10:00:01.123Z', t],
    ['RFC 3339 with offset', '2026-11-22T11:00:01+01:00', t],
    ['ISO with a space and no zone (UTC)', '2026-11-22 10:00:01', t],
    ['ISO date only', '2026-11-22', Date.UTC(2026, 10, 22) / 1000],
    ['Debian ftpsync trace', 'Sat Nov 22 10:00:01 UTC 2026\nDate: whatever\nUsed ftpsync version: 20180513\n', t],
    ['Debian trace with a padded day', 'Mon Nov  2 10:00:01 UTC 2026', Date.UTC(2026, 10, 2, 10, 0, 1) / 1000],
    ['Debian trace with a numeric zone', 'Sat Nov 22 12:00:01 +0200 2026', t],
    ['RFC 2822', 'Sat, 22 Nov 2026 10:00:01 GMT', t],
    ['a BOM and blanks', '\uFEFF  2026-11-22T10:00:01Z  \n', t],
    ['Arch lastsync (epoch seconds)', `${t}\n`, t],
    ['date in glibc en_US (12-hour clock)', 'Sun 22 Nov 2026 10:00:01 AM UTC', t],
    ['date in glibc en_US, afternoon', 'Sun 22 Nov 2026 10:00:01 PM UTC', t + 12 * 3_600],
    ['date in glibc en_US, just past midnight', 'Sun 22 Nov 2026 12:00:01 AM UTC', t - 10 * 3_600],
    ['date in en_GB order', 'Sun 22 Nov 10:00:01 UTC 2026', t],
    ['a full month name', '22 November 2026 10:00:01 UTC', t],
    [
      'ftpsync trace with key lines only',
      'Date: Sun, 22 Nov 2026 10:00:01 +0000\nDate-Started: Sun, 22 Nov 2026 09:50:00 +0000\nArchive serial: 2026112201\n',
      t,
    ],
    ['ftpsync trace whose first line is not a date', 'ftpsync trace\nArchive serial: 2026112201\nDate: Sun, 22 Nov 2026 10:00:01 +0000\n', t],
    [
      'ftpsync trace with only an archive serial (midnight of its day)',
      'Archive serial: 2026112203\nUsed ftpsync version: 20180513\n',
      Date.UTC(2026, 10, 22) / 1000,
    ],
  ])('reads %s', (_name, text, want) => {
    expect(parseTraceTime(text)).toBe(want);
  });

  it.each([
    ['empty', ''],
    ['blank first line', '\n1767225600'],
    ['html', '<html><body>Not Found</body></html>'],
    ['a bare year', '2026'],
    ['an impossible date', '2026-02-31T00:00:00Z'],
    ['an unknown zone', 'Sat Nov 22 10:00:01 CET 2026'],
    ['an unknown month', 'Sat Foo 22 10:00:01 UTC 2026'],
    ['hour 25', '2026-11-22T25:00:00Z'],
    ['a date without a year', 'Sat Nov 22 10:00:01 UTC'],
    ['a date without a time', 'Sat Nov 22 2026'],
    ['two years', 'Sat Nov 22 10:00:01 UTC 2026 2027'],
    ['13 PM', 'Sat 22 Nov 2026 13:00:01 PM UTC'],
    ['an unreadable Date key and no serial', 'ftpsync\nDate: yesterday\n'],
    ['an archive serial that is no day', 'Archive serial: 2026139901'],
  ])('rejects %s', (_name, text) => {
    expect(parseTraceTime(text)).toBeUndefined();
  });
});

describe('parseTraceTime: every format reads back the time written', () => {
  const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  // 2001-09-09 (the first 10-digit second) to 2096: every trace a mirror of ours could hold.
  const epoch = fc.integer({ min: 1_000_000_000, max: 4_000_000_000 });
  const parts = (t: number) => {
    const d = new Date(t * 1000);
    return {
      wd: WEEKDAYS[d.getUTCDay()]!,
      mon: MONTHS[d.getUTCMonth()]!,
      day: d.getUTCDate(),
      year: d.getUTCFullYear(),
      h: d.getUTCHours(),
      clock: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`,
      rest: `${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`,
    };
  };
  /** `date -u` in the C locale, as ftpsync's first line: %e pads the day with a space. */
  const dateC = (t: number) => {
    const p = parts(t);
    return `${p.wd} ${p.mon} ${String(p.day).padStart(2, ' ')} ${p.clock} UTC ${p.year}`;
  };
  /** `date -u` in glibc's en_US locale: 12-hour clock. */
  const dateUs = (t: number) => {
    const p = parts(t);
    return `${p.wd} ${two(p.day)} ${p.mon} ${p.year} ${two(p.h % 12 === 0 ? 12 : p.h % 12)}:${p.rest} ${p.h < 12 ? 'AM' : 'PM'} UTC`;
  };
  const rfc2822 = (t: number) => new Date(t * 1000).toUTCString().replace('GMT', '+0000');
  /** RFC 3339 in another zone, offset in minutes east. */
  const rfc3339At = (t: number, offset: number) => {
    const local = new Date((t + offset * 60) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    return `${local}${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
  };

  const formats: [string, (t: number) => string][] = [
    ['epoch seconds (TIME, Arch lastsync)', (t) => `${t}\n`],
    ['epoch milliseconds', (t) => `${t * 1000}`],
    ['RFC 3339 UTC with milliseconds', (t) => new Date(t * 1000).toISOString()],
    ['date -u (C locale)', (t) => `${dateC(t)}\n`],
    ['date -u (en_US locale)', dateUs],
    ['RFC 2822 / HTTP date', (t) => new Date(t * 1000).toUTCString()],
    ['Debian ftpsync trace', (t) => `${dateC(t)}\nDate: ${rfc2822(t)}\nArchive serial: 2001010101\nUsed ftpsync version: 20180513\n`],
    ['ftpsync key lines only', (t) => `Date: ${rfc2822(t)}\nDate-Started: ${rfc2822(t - 600)}\nRunning on host: ftp.example.org\n`],
  ];

  it.each(formats)('%s', (_name, format) => {
    fc.assert(fc.property(epoch, (t) => parseTraceTime(format(t)) === t));
  });

  it('RFC 3339 in any whole-quarter-hour zone', () => {
    fc.assert(fc.property(epoch, fc.integer({ min: -48, max: 56 }), (t, quarters) => parseTraceTime(rfc3339At(t, quarters * 15)) === t));
  });

  it('an archive serial alone gives midnight UTC of its day', () => {
    fc.assert(
      fc.property(epoch, fc.integer({ min: 0, max: 99 }), (t, n) => {
        const d = new Date(t * 1000);
        const serial = `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(n)}`;
        return parseTraceTime(`Archive serial: ${serial}\n`) === Math.floor(t / 86_400) * 86_400;
      }),
    );
  });

  it('never throws, and gives a whole number of seconds or nothing, whatever the file holds', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.array(fc.string(), { maxLength: 6 }).map((l) => l.join('\n')),
        ),
        (text) => {
          const time = parseTraceTime(text);
          return time === undefined || Number.isInteger(time);
        },
      ),
    );
  });
});

describe('isRelativeTracePath', () => {
  it.each(['TIME', 'lastsync', 'project/trace/ftp.example.org', 'debian/project/trace/master'])('takes %s', (p) => {
    expect(isRelativeTracePath(p)).toBe(true);
  });
  it.each(['', '/TIME', '../TIME', 'a/../../b', 'TIME?x=1', 'TIME#top', 'https://elsewhere.example/TIME', 'a\\b', 'a\nb'])('refuses %j', (p) => {
    expect(isRelativeTracePath(p)).toBe(false);
  });
});
