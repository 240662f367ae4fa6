// Downloads counted once per client and file per window: the recorder's local sightings (numbers for IPv4
// clients and numbered files, text otherwise) and the store's claim behind them, on a real MemoryStore.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DownloadEvent } from '../../src/core/model.js';
import { StatsRecorder } from '../../src/control/statsRecorder.js';
import { MemoryStore } from '../../src/store/memoryStore.js';

const quiet = { warn: () => undefined, error: () => undefined };
const DAY = '2026-12-06';
const AT = Date.parse(`${DAY}T12:00:00Z`);

describe('StatsRecorder', () => {
  let dataDir: string;
  let store: MemoryStore;
  let stats: StatsRecorder;
  // The store's claims expire by its own clock.
  let now = AT;
  beforeEach(async () => {
    now = AT;
    dataDir = await mkdtemp(join(tmpdir(), 'mirrorgate-stats-'));
    store = await MemoryStore.open({ dataDir, log: quiet, clock: () => now });
    stats = new StatsRecorder({ store, flushEveryMs: 3_600_000, dedupeWindowMs: 600_000 });
  });
  afterEach(async () => {
    await stats.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const totals = async () => (await store.queryStats({ from: DAY, to: DAY })).totals.downloads;
  const topFiles = async () => (await store.queryStats({ from: DAY, to: DAY })).topFiles;
  const event = (ip: string, path: string, file: number | undefined, fileIndex: object | undefined, atMs = AT): DownloadEvent => ({
    ip,
    path,
    mirror: 'm1',
    country: 'DE',
    size: 100,
    atMs,
    file,
    fileIndex,
  });

  it('counts a client and file once in the window, by number or by text, and a new window again', async () => {
    const index = {};
    const clients = ['192.0.2.10', '198.51.100.7', '2001:db8::/64'];
    for (let round = 0; round < 3; round++) {
      for (const ip of clients) {
        stats.download(event(ip, 'a/one.iso', 0, index, AT + round));
        stats.download(event(ip, 'a/two.iso', 1, index, AT + round));
        // A file beyond what a number can hold with the address, and one from a caller without numbers.
        stats.download(event(ip, 'a/far.iso', 2 ** 21, index, AT + round));
        stats.download(event(ip, 'a/loose.iso', undefined, undefined, AT + round));
      }
    }
    await stats.flush();
    expect(await totals()).toBe(clients.length * 4);
    now = AT + 600_001;
    stats.download(event('192.0.2.10', 'a/one.iso', 0, index, now));
    await stats.flush();
    expect(await totals()).toBe(clients.length * 4 + 1);
  });

  it('never takes one file for another: numbers differ where paths do, and a new index starts over', async () => {
    const first = {};
    // Same address, numbers one apart; and the same numbers on two addresses.
    stats.download(event('192.0.2.10', 'x/1', 1, first));
    stats.download(event('192.0.2.10', 'x/2', 2, first));
    stats.download(event('192.0.2.11', 'x/1', 1, first));
    // A new index numbers its files anew: number 1 is now another path, and still counts.
    const second = {};
    stats.download(event('192.0.2.10', 'x/renumbered', 1, second));
    // The pair seen under the old index is a repeat, told by the store's claim.
    stats.download(event('192.0.2.10', 'x/2', 5, second));
    await stats.flush();
    expect(await totals()).toBe(4);
    expect(Object.fromEntries((await topFiles()).map((f) => [f.path, f.downloads]))).toEqual({ 'x/1': 2, 'x/2': 1, 'x/renumbered': 1 });
  });
});
