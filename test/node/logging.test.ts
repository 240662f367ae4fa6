import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { RequestLine } from '../../src/core/logger.js';
import { nodeLogger, redirectSample } from '../../src/node/logging.js';

/** A destination that keeps what is written, line by line. */
function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) } };
}

const cases: RequestLine[] = [
  { reqId: 'abc-123', method: 'GET', path: '/download/debian/pool/main/a/apt/apt_2.6.1_amd64.deb', status: 302, mirror: 'mirror-de', ms: 0.12 },
  { reqId: undefined, method: 'HEAD', path: '/download/"quoted"\\back\tslash/ünïcode/日本', status: 404, mirror: undefined, ms: 3 },
  { reqId: 'x', method: 'POST', path: '/admin/api/v1/mirrors', status: 201, mirror: undefined, ms: 12.5 },
];

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('the Node access log', () => {
  it.each(cases)('writes what pino.info(line, "request") writes: %j', async (line) => {
    const base = { service: 'mirrorgate', worker: 2 };
    const ours = capture();
    const theirs = capture();
    nodeLogger('info', base, ours.stream).request(line);
    pino({ level: 'info', base }, theirs.stream).info({ ...line }, 'request');
    // Access lines are written once per event-loop turn.
    expect(ours.lines).toEqual([]);
    await nextTurn();
    const [a, b] = [JSON.parse(ours.lines[0]!), JSON.parse(theirs.lines[0]!)];
    expect(Math.abs(a.time - b.time)).toBeLessThan(1_000);
    // Same keys in the same order, same values but the time.
    expect(ours.lines[0]!.replace(/"time":\d+/, '')).toBe(theirs.lines[0]!.replace(/"time":\d+/, ''));
  });

  it('writes every duration and every text as pino does', async () => {
    const base = { service: 'mirrorgate' };
    const ours = capture();
    const theirs = capture();
    const log = nodeLogger('info', base, ours.stream);
    const reference = pino({ level: 'info', base }, theirs.stream);
    const durations = [0, -0, 0.01, 0.07, 0.1, 0.29, 1, 1.005, 9.99, 10.1, 123.45, 1e7 + 0.01, 1e12 + 0.5, 1e-7, 0.123456, NaN, Infinity];
    for (let h = 0; h < 3000; h += 7) durations.push(h / 100, Math.round(Math.random() * 1e6) / 100);
    const texts = ['plain', 'a"b', 'back\\slash', 'tab\there', 'ünïcode 日本', 'pair 😀', 'del \u007f', 'nul \u0000'];
    for (const [i, ms] of durations.entries()) {
      const line = {
        reqId: texts[i % texts.length],
        method: 'GET',
        path: `/download/${texts[(i + 3) % texts.length]}`,
        status: 302,
        mirror: texts[(i + 5) % texts.length],
        ms,
      };
      log.request(line);
      reference.info({ ...line }, 'request');
    }
    await nextTurn();
    expect(ours.lines.map((l) => l.replace(/"time":\d+/, ''))).toEqual(theirs.lines.map((l) => l.replace(/"time":\d+/, '')));
    // Where pino writes a lone surrogate raw (invalid UTF-8 on the way out), ours escapes it, as JSON.stringify does.
    log.request({ ...cases[0]!, path: '/download/lone \ud800' });
    await nextTurn();
    expect(ours.lines.at(-1)).toContain('"path":"/download/lone \\ud800"');
  });

  it('writes nothing below its level, and keeps lines in order with other log lines', async () => {
    const quiet = capture();
    nodeLogger('warn', { service: 'mirrorgate' }, quiet.stream).request(cases[0]!);
    await nextTurn();
    expect(quiet.lines).toEqual([]);

    const out = capture();
    const log = nodeLogger('info', { service: 'mirrorgate' }, out.stream);
    log.info({ n: 1 }, 'first');
    log.request(cases[0]!);
    log.request(cases[1]!);
    log.warn({ n: 2 }, 'last');
    log.request(cases[2]!);
    await nextTurn();
    expect(out.lines.map((l) => JSON.parse(l).msg)).toEqual(['first', 'request', 'request', 'last', 'request']);
  });

  it('with MIRRORGATE_ACCESS_LOG_SAMPLE=N writes one line per N redirects, marked, and every other answer', async () => {
    const out = capture();
    const log = nodeLogger('info', { service: 'mirrorgate' }, out.stream, { redirectSample: redirectSample({ MIRRORGATE_ACCESS_LOG_SAMPLE: '3' }) });
    for (let i = 1; i <= 7; i++) log.request({ ...cases[0]!, reqId: `r${i}` });
    log.request(cases[1]!);
    log.request(cases[2]!);
    await nextTurn();
    const lines = out.lines.map((l) => JSON.parse(l) as { reqId?: string; status: number; sample?: number });
    expect(lines.map((l) => [l.reqId ?? null, l.status, l.sample ?? null])).toEqual([
      ['r1', 302, 3],
      ['r4', 302, 3],
      ['r7', 302, 3],
      [null, 404, null],
      ['x', 201, null],
    ]);
  });

  it('reads the sample from the environment: unset or empty is every line; anything but a whole number from 1 is refused', () => {
    expect(redirectSample({})).toBe(1);
    expect(redirectSample({ MIRRORGATE_ACCESS_LOG_SAMPLE: ' ' })).toBe(1);
    expect(redirectSample({ MIRRORGATE_ACCESS_LOG_SAMPLE: '100' })).toBe(100);
    for (const bad of ['0', '-2', '1.5', 'ten', '1e9']) {
      expect(() => redirectSample({ MIRRORGATE_ACCESS_LOG_SAMPLE: bad }), bad).toThrow(
        /^MIRRORGATE_ACCESS_LOG_SAMPLE: expected a whole number from 1 to 1000000/,
      );
    }
  });
});
