// The control plane's loops on hand-fired timers: a probe round at start and on every health tick, a scan on the
// scan tick, the origin index re-read on its tick, all stopped by stop(). Real loopback HTTP, no wall-clock waiting.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config/load.js';
import { ControlPlane } from '../../src/control/controlPlane.js';
import { loadOriginIndex } from '../../src/control/origin.js';
import type { Timers } from '../../src/control/scheduler.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import type { MirrorSpec } from '../../src/core/model.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import type { Change } from '../../src/store/store.js';

/** Timers a test fires itself, by their interval. */
function manualTimers(): Timers & { fire(everyMs: number): void; intervals(): number[] } {
  const handles = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    setInterval: (fn, ms) => {
      handles.set(next, { fn, ms });
      return next++;
    },
    clearInterval: (h) => void handles.delete(h as number),
    fire: (everyMs) => {
      for (const { fn, ms } of handles.values()) if (ms === everyMs) fn();
    },
    intervals: () => [...handles.values()].map((h) => h.ms).sort((a, b) => a - b),
  };
}

const MTIME = 1_767_225_600;
const FILES = [
  { path: 'pub/a.iso', size: 100, mtime: MTIME },
  { path: 'pub/b.iso', size: 200, mtime: MTIME },
];
const quiet = { info: () => undefined, debug: () => undefined, warn: () => undefined, error: () => undefined, fatal: () => undefined, trace: () => undefined };

describe('the control loops, driven by their timers', () => {
  let dir: string;
  let manifest: string;
  let http: Server;
  let store: MemoryStore;
  let builder: SnapshotBuilder;
  let control: ControlPlane;
  let config: Config;
  const timers = manualTimers();
  const probed: string[] = [];
  let onProbe: (() => void) | undefined;

  /** Resolves on the next probe result. */
  const nextProbe = () => new Promise<void>((resolve) => (onProbe = resolve));
  /** Resolves on the next change notice of this kind. */
  const nextChange = (kind: Change['kind']) =>
    new Promise<void>((resolve) => {
      const off = store.subscribe((c) => {
        if (c.kind !== kind) return;
        off();
        resolve();
      });
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mg-control-loops-'));
    manifest = path.join(dir, 'origin.jsonl');
    await writeFile(manifest, `${JSON.stringify(FILES[0])}\n`);
    // The origin and the one mirror on one loopback server: a trace, the files, and the mirror's inventory.
    http = createServer((req, res) => {
      const target = req.url ?? '/';
      if (target === '/TIME') return void res.end(`${MTIME + 60}\n`);
      if (target === '/inventory.jsonl') return void res.end(FILES.map((f) => JSON.stringify(f)).join('\n'));
      const file = FILES.find((f) => `/${f.path}` === target);
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Length': String(file.size) });
      res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(file.size));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    config = parseConfig(
      `publicUrl: https://downloads.example.org
dataDir: ${dir}
allowPrivateMirrorAddresses: true
origin: { baseUrl: "${base}", manifest: "${manifest}" }
health: { failuresToDown: 2, successesToUp: 2 }
mirrors:
  - { id: m1, name: M1, baseUrl: "${base}", country: DE, content: { manifest: "${base}inventory.jsonl" } }
`,
      { env: {} },
    );
    const mirrors: MirrorSpec[] = config.mirrors.map((m) => ({ ...m, asn: [...m.asn], content: { ...m.content } }));
    store = await MemoryStore.open({ dataDir: dir, log: quiet });
    builder = new SnapshotBuilder({
      mirrors,
      files: await loadOriginIndex(config.origin, dir, quiet),
      originBaseUrl: config.origin.baseUrl,
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
    });
    control = new ControlPlane({
      config,
      configMirrors: mirrors,
      configInventories: new Map(),
      store,
      builder,
      log: quiet as never,
      timers,
      onProbe: (mirror) => {
        probed.push(mirror);
        onProbe?.();
      },
    });
    const first = nextProbe();
    await control.start();
    await first;
  });
  afterAll(async () => {
    await control?.stop();
    await store?.close();
    await new Promise((resolve) => http?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('has a probe, a scan and an origin-refresh loop on the memory store (no epoch check: the store is its own)', () => {
    expect(timers.intervals()).toEqual([5_000, config.health.intervalMs, config.scan.intervalMs].sort((a, b) => a - b));
  });

  it('probes once at start, and again on each health tick', async () => {
    expect(probed).toEqual(['m1']);
    expect(control.healthOf('m1')).toMatchObject({ health: 'up', consecutiveSuccesses: 1 });
    const second = nextProbe();
    timers.fire(config.health.intervalMs);
    await second;
    expect(probed).toEqual(['m1', 'm1']);
    expect(control.healthOf('m1')).toMatchObject({ health: 'up', consecutiveSuccesses: 2 });
  });

  it('scans a mirror with an http(s) manifest on the scan tick, not before', async () => {
    expect(await store.getInventory('m1')).toBeUndefined();
    const scanned = nextChange('inventory');
    timers.fire(config.scan.intervalMs);
    await scanned;
    // b.iso is not in the origin index yet: kept, so the index that brings it (next test) can match it.
    expect((await store.getInventory('m1'))?.entries.map((e) => e.path)).toEqual(['pub/a.iso', 'pub/b.iso']);
  });

  it('swaps in a changed origin manifest on the origin tick', async () => {
    await writeFile(manifest, FILES.map((f) => `${JSON.stringify(f)}\n`).join(''));
    expect(builder.current().files.lookup('pub/b.iso')).toBe(-1);
    // Other changes (a probe round's health) may come first: wait for the one that brings the file.
    const swapped = new Promise<void>((resolve) => {
      const off = builder.onChange(() => {
        if (builder.current().files.lookup('pub/b.iso') < 0) return;
        off();
        resolve();
      });
    });
    timers.fire(5_000);
    await swapped;
    expect(builder.current().files.lookup('pub/b.iso')).toBeGreaterThanOrEqual(0);
  });

  it('stop() ends every loop', async () => {
    await control.stop();
    expect(timers.intervals()).toEqual([]);
  });
});
