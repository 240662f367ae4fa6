// The chaos soak (scripts/soak.ts), short: ~20 s of load on two instances and one Redis while mirrors
// die, stall and come back, one serves stale copies, an origin file changes and Redis is restarted.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatTally, runSoak, type SoakTally } from '../../scripts/soak.js';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
const skip = !haveRedis && process.env.CI !== 'true';
if (skip) console.warn('[soak] skipped: redis-server is not on PATH');

let tally: SoakTally;

describe.skipIf(skip)('chaos soak (short)', () => {
  beforeAll(async () => {
    // A lighter load than `npm run soak`: the rest of the suite runs alongside on two workers.
    tally = await runSoak({ seconds: 20, rate: 60, concurrency: 3, log: () => undefined });
    console.log(formatTally(tally));
  }, 90_000);

  it('really ran: load, mirror outages, a Redis outage with refused admin changes, an origin change', () => {
    expect(tally.requests).toBeGreaterThan(600);
    expect(tally.mirrorOutages).toBeGreaterThanOrEqual(5);
    expect(tally.redisOutageMs).toBeGreaterThan(2_000);
    expect(tally.adminAccepted).toBeGreaterThan(10);
    expect(tally.adminRefused).toBeGreaterThan(0);
    // The changed file went to the origin until a mirror had it.
    expect(tally.toOrigin).toBeGreaterThan(0);
  });

  it('no 5xx, no failed request, no Location outside the mirrors and the origin, no other status than 302', () => {
    expect(
      { fiveXX: tally.fiveXX, failedRequests: tally.failedRequests, foreignLocations: tally.foreignLocations, unexpectedStatuses: tally.unexpectedStatuses },
      tally.samples.join('\n'),
    ).toEqual({
      fiveXX: 0,
      failedRequests: 0,
      foreignLocations: 0,
      unexpectedStatuses: 0,
    });
  });

  it('no redirect to a mirror lacking the current file (stale copies, a file changed at the origin)', () => {
    expect(tally.redirectsLackingFile, tally.samples.join('\n')).toBe(0);
  });

  it('no redirect to a mirror known down beyond the detection window, while Redis is up', () => {
    expect(tally.redirectsToKnownDown - tally.knownDownDuringRedisOutage, tally.samples.join('\n')).toBe(0);
  });

  it('no redirect to a mirror known down beyond the detection window, Redis outage included', () => {
    // While Redis is away every instance probes for itself and routes by what it learns.
    expect(tally.redirectsToKnownDown, tally.samples.join('\n')).toBe(0);
  });

  it('no download lost from the stats, no accepted change missing from the audit log, clean exits', () => {
    expect(tally.statsLost, `counted ${tally.downloadsCounted} of ${tally.downloadsExpected}`).toBe(0);
    expect(tally.statsExtra).toBe(0);
    expect(tally.auditLost, tally.samples.join('\n')).toBe(0);
    expect(tally.uncleanExits, tally.samples.join('\n')).toBe(0);
  });
});
