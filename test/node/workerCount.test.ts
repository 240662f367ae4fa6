// `--workers N|auto` and MIRRORGATE_WORKERS: only a plain whole number (or "auto") starts a cluster; anything else
// is refused naming where it came from, never read as some other number ("1e1" is not ten workers).
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { WorkerCountError, workerCount } from '../../src/node/cluster.js';

describe('workerCount', () => {
  it('one worker, or none asked for, is the single process', () => {
    expect(workerCount(undefined)).toBeUndefined();
    expect(workerCount('')).toBeUndefined();
    expect(workerCount('1')).toBeUndefined();
  });

  it('a whole number from 2 to 256, or auto', () => {
    expect(workerCount('2')).toBe(2);
    expect(workerCount('256')).toBe(256);
    expect(workerCount(' 4 ')).toBe(4);
    const cores = availableParallelism();
    expect(workerCount('auto')).toBe(cores === 1 ? undefined : cores);
  });

  it.each(['0', '-1', '257', 'abc', '1.5', '2.0', '1e1', '0x2', '+2', '0b11', 'Infinity', '2 workers'])('refuses %j', (value) => {
    expect(() => workerCount(value, 'MIRRORGATE_WORKERS')).toThrow(WorkerCountError);
    expect(() => workerCount(value, 'MIRRORGATE_WORKERS')).toThrow(
      `MIRRORGATE_WORKERS: expected a whole number from 1 to 256 or "auto", got ${JSON.stringify(value)}`,
    );
  });
});
