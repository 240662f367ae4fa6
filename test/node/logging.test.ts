import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { RequestLine } from '../../src/core/logger.js';
import { nodeLogger } from '../../src/node/logging.js';

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
});
