import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialHealth, nextHealth, parseTraceTime, type ProbeOutcome } from '../../src/core/health.js';
import type { HealthRecord } from '../../src/store/store.js';

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
    expect(records.map((r) => r.reason)).toEqual([
      'connection refused',
      'HTTP 503',
      'timeout after 5000 ms',
      'timeout after 5000 ms',
      undefined,
    ]);
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
        const down = run(Array.from({ length: t.failuresToDown }, () => fail()), t).at(-1)!;
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

  it('keeps lag non-negative and lastSync at the latest trace seen, latency within what was measured', () => {
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
          if (o.ok) {
            lo = Math.min(lo, o.latencyMs);
            hi = Math.max(hi, o.latencyMs);
          }
          expect(rec.lastSync).toBe(lastTrace);
          if (rec.lagSeconds !== undefined) expect(rec.lagSeconds).toBeGreaterThanOrEqual(0);
          if (lastTrace !== undefined && o.origin !== undefined) expect(rec.lagSeconds).toBe(Math.max(0, o.origin - lastTrace));
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
  ])('rejects %s', (_name, text) => {
    expect(parseTraceTime(text)).toBeUndefined();
  });
});
