// A scan and the probes around it: a finished scan supersedes what probes found missing before its listing,
// never what a probe found while the listing was being read (that is newer than the listing).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { ScanRuns, type ScanRunsOptions } from '../../src/control/scanRuns.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { HealthRecord, MirrorSpec } from '../../src/core/model.js';
import type { Snapshot } from '../../src/core/snapshot.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { mirrorSpec } from '../support/specs.js';

const MTIME = 1_767_225_600;
const FILES = FileIndex.from([
  { path: 'pub/a.iso', size: 100, mtime: MTIME },
  { path: 'pub/b.iso', size: 200, mtime: MTIME },
  { path: 'pub/c.iso', size: 300, mtime: MTIME },
]);

let server: Server;
let release: () => void = () => undefined;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-scanruns-'));
  // The mirror's manifest lists all three files; its answer waits until the test lets it go.
  server = createServer((_req, res) => {
    const body = FILES.paths.map((p, i) => JSON.stringify({ path: p, size: FILES.size(i), mtime: MTIME })).join('\n');
    new Promise<void>((resolve) => (release = resolve)).then(() => res.end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a scan and probe findings', () => {
  it('drops the marks probes left before the listing, keeps one a probe made while it ran', async () => {
    const port = (server.address() as AddressInfo).port;
    const mirror: MirrorSpec = mirrorSpec('m', { content: { include: ['**'], exclude: [], manifest: `http://127.0.0.1:${port}/inv.jsonl` } });
    const health = new Map<string, HealthRecord>([['m', { health: 'up', consecutiveFailures: 0, consecutiveSuccesses: 3, missing: ['pub/a.iso'] }]]);
    const store = await MemoryStore.open({ dataDir: dir });
    const runs = new ScanRuns({
      config: { scan: { timeoutMs: 10_000 }, allowPrivateMirrorAddresses: true } as unknown as Config,
      snapshot: () => ({ files: FILES }) as unknown as Snapshot,
      state: {
        mirrors: () => [mirror],
        healthOf: (id: string) => health.get(id),
        keepHealth: (id: string, h: HealthRecord) => void health.set(id, h),
        setInventory: () => undefined,
      } as unknown as ScanRunsOptions['state'],
      lifecycle: { launchIfReady: async () => undefined },
      store,
      log: { info() {}, warn() {}, error() {}, debug() {} } as unknown as ScanRunsOptions['log'],
    });
    const scan = runs.scan('m');
    // While the listing is read, a probe finds b missing.
    await new Promise((r) => setTimeout(r, 100));
    health.set('m', { ...health.get('m')!, missing: ['pub/a.iso', 'pub/b.iso'] });
    release();
    const result = await scan;
    expect(result.report).toMatchObject({ current: 3 });
    expect(health.get('m')!.missing).toEqual(['pub/b.iso']);
    await store.close();
  });
});
