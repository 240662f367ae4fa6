// A second stop signal told from the first one delivered twice (src/node/server.ts StopSignals): a process group's
// SIGTERM and a wrapper's relay of it (npm, tsx) are one stop; an operator's signal a moment later stops at once.
import { describe, expect, it } from 'vitest';
import { SAME_STOP_MS, StopSignals } from '../../src/node/server.js';

describe('StopSignals', () => {
  it('takes the first signal, and a repeat within SAME_STOP_MS, as one stop', () => {
    const s = new StopSignals();
    expect(s.again(10_000)).toBe(false);
    expect(s.again(10_000)).toBe(false);
    expect(s.again(10_000 + SAME_STOP_MS - 1)).toBe(false);
  });

  it('takes a signal SAME_STOP_MS or more after the first as the second: stop at once', () => {
    const s = new StopSignals();
    expect(s.again(10_000)).toBe(false);
    expect(s.again(10_000 + SAME_STOP_MS)).toBe(true);
    expect(s.again(10_000 + 60_000)).toBe(true);
  });
});
