// When the origin is looked at besides the timer: instances that each watch it (a cluster's workers, instances
// sharing Redis) hear from the one that saw it change first and look at once; a download of a path the index
// lacks looks only when the manifest changed since it was read, so a 404 does not wait for a look.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { StateSync } from '../../src/control/stateSync.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { Logger } from '../../src/core/logger.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { waitFor } from '../support/wait.js';

const quiet: Logger = { info() {}, warn() {}, error() {} };
const line = (p: string, size: number) => `${JSON.stringify({ path: p, size, mtime: 1_767_225_600 })}\n`;

describe('an origin change seen by one instance', () => {
  let dir: string;
  let store: MemoryStore;
  const instances: { builder: SnapshotBuilder; sync: StateSync }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mg-origin-notice-'));
    await writeFile(path.join(dir, 'origin.jsonl'), line('pub/a.iso', 100));
    await writeFile(
      path.join(dir, 'mirrorgate.yaml'),
      'publicUrl: http://127.0.0.1\ndataDir: ./var\norigin: { baseUrl: "https://origin.example/", manifest: origin.jsonl }\nhealth: { enabled: false }\nmirrors: []\n',
    );
    const config = await loadConfig(path.join(dir, 'mirrorgate.yaml'), {});
    store = await MemoryStore.open({ dataDir: config.dataDir, log: { warn: () => undefined, error: () => undefined } });
    for (let i = 0; i < 2; i++) {
      const builder = new SnapshotBuilder({
        mirrors: [],
        files: FileIndex.from([{ path: 'pub/a.iso', size: 100, mtime: 1_767_225_600 }]),
        originBaseUrl: config.origin.baseUrl,
        routing: { ...config.routing, maxLagSeconds: 3600 },
      });
      const sync = new StateSync({ config, configMirrors: [], configInventories: new Map(), store, builder, log: quiet, clock: Date.now });
      await sync.start();
      instances.push({ builder, sync });
    }
  });
  afterAll(async () => {
    for (const i of instances) i.sync.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is looked at by the other instances at once; the one that saw it does not look again', async () => {
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const looksOfA = vi.spyOn(a.sync, 'refreshOrigin');
    await appendFile(path.join(dir, 'origin.jsonl'), line('pub/b.iso', 200));
    // Only a looks (no timers run here): b has the file from a's notice alone.
    await a.sync.refreshOrigin();
    expect(a.builder.current().files.lookup('pub/b.iso')).toBeGreaterThanOrEqual(0);
    expect(await waitFor(() => b.builder.current().files.lookup('pub/b.iso') >= 0, { timeoutMs: 5_000 })).toBeDefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(looksOfA).toHaveBeenCalledTimes(1);
  });

  it('answers a path the index lacks without a look while the manifest stands as read, and looks once it changed', async () => {
    const [a] = instances as [(typeof instances)[0]];
    const looks = vi.spyOn(a.sync, 'refreshOrigin');
    looks.mockClear();
    const misses = await Promise.all(Array.from({ length: 20 }, (_, i) => a.sync.lookForOriginFile(`pub/none-${i}.iso`)));
    expect(misses.every((m) => m === false)).toBe(true);
    expect(looks).not.toHaveBeenCalled();
    await appendFile(path.join(dir, 'origin.jsonl'), line('pub/c.iso', 300));
    expect(await a.sync.lookForOriginFile('pub/c.iso')).toBe(true);
    expect(looks).toHaveBeenCalledTimes(1);
  });
});
