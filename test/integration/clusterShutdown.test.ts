// Stopping a `--workers` cluster as operators do: systemd's default KillMode=control-group (and Ctrl-C in a terminal)
// signals every process of the tree, the primary and each worker, at once; a worker may be wedged and never exit;
// an impatient operator signals twice. A worker already finishing its requests is not cut short by the primary's
// own stop, a wedged worker does not keep the cluster (and its dataDir) forever, and a second signal stops it now.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killClusters, startCluster, type Cluster } from '../support/cluster.js';
import { LoopbackFileServer } from '../support/network.js';
import { put } from '../support/packageRepos.js';
import { openSlow } from '../reliability/support.js';
import { SAME_STOP_MS } from '../../src/node/server.js';

const FILE = 'pub/app-1.0.tar.gz';
let dir: string;
let configPath: string;
let dataDir: string;
const servers: LoopbackFileServer[] = [];

/** Resolves with the exit, or undefined if the cluster is still running after `ms`. */
function exitWithin(c: Cluster, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  return Promise.race([c.exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-cluster-stop-'));
  const originRoot = path.join(dir, 'origin');
  await put(originRoot, FILE, Buffer.alloc(5_000, 7), 1_767_225_600);
  const origin = new LoopbackFileServer('origin', originRoot);
  await origin.start();
  servers.push(origin);
  await writeFile(path.join(dir, 'origin.jsonl'), `${JSON.stringify({ path: FILE, size: 5_000, mtime: 1_767_225_600 })}\n`);
  configPath = path.join(dir, 'mirrorgate.yaml');
  dataDir = path.join(dir, 'var');
  await writeFile(
    configPath,
    stringify({
      publicUrl: 'http://127.0.0.1:8080',
      dataDir,
      origin: { baseUrl: origin.baseUrl, manifest: path.join(dir, 'origin.jsonl') },
      health: { enabled: false },
      allowPrivateMirrorAddresses: true,
      mirrors: [{ id: 'de-a', name: 'Mirror A', baseUrl: origin.baseUrl, country: 'DE' }],
    }),
  );
}, 60_000);

afterEach(killClusters);

afterAll(async () => {
  for (const s of servers) await s.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const OFFER = JSON.stringify({
  contact: { name: 'Wanjiru Kamau', email: 'noc@savanna.example' },
  organisation: 'Savanna Networks',
  location: { country: 'KE' },
  storageTB: 12,
  bandwidthMbps: 1000,
});

describe('a --workers cluster being stopped', () => {
  it('every process signalled at once (systemd, Ctrl-C): a worker finishing a request is not cut short by the primary', async () => {
    const c = await startCluster(configPath);
    // A request in flight on one of the workers: its body is half sent.
    const slow = await openSlow(c.port);
    await slow.write(
      `POST /api/v1/offers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(OFFER)}\r\n` +
        `X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n${OFFER.slice(0, 20)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    // systemd signals the whole control group; each worker may handle its own signal before the primary's stop reaches it.
    for (const pid of c.workerPids()) process.kill(pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    c.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await slow.write(OFFER.slice(20));
    const reply = await slow.reply;
    expect(reply.status, c.output().slice(-3000)).toBe(201);
    const exit = await exitWithin(c, 20_000);
    expect(exit, c.output().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(c.output()).not.toMatch(/second signal/);
    expect(existsSync(path.join(dataDir, 'mirrorgate.lock'))).toBe(false);
  }, 60_000);

  it('a worker that does not stop is killed after the grace period, and the primary exits 1, releasing dataDir', async () => {
    const c = await startCluster(configPath, { env: { MIRRORGATE_SHUTDOWN_GRACE_MS: '200' } });
    const [wedged] = c.workerPids();
    process.kill(wedged!, 'SIGSTOP');
    c.proc.kill('SIGTERM');
    const exit = await exitWithin(c, 25_000);
    expect(exit, c.output().slice(-3000)).toEqual({ code: 1, signal: null });
    expect(c.output()).toMatch(/did not stop in time/);
    expect(c.workerPids()).toEqual([]);
    expect(existsSync(path.join(dataDir, 'mirrorgate.lock'))).toBe(false);
  }, 60_000);

  it('a second signal to the primary stops the cluster at once', async () => {
    const c = await startCluster(configPath);
    const [wedged] = c.workerPids();
    process.kill(wedged!, 'SIGSTOP');
    c.proc.kill('SIGTERM');
    // Later than a relay of the first would come (SAME_STOP_MS): an operator's second signal.
    await new Promise((r) => setTimeout(r, SAME_STOP_MS + 300));
    c.proc.kill('SIGINT');
    const exit = await exitWithin(c, 5_000);
    expect(exit, c.output().slice(-3000)).toEqual({ code: 1, signal: null });
    expect(existsSync(path.join(dataDir, 'mirrorgate.lock'))).toBe(false);
  }, 60_000);
});
