// Every core: `MIRRORGATE_WORKERS=2 npm start` as a real process tree (a node:cluster primary and two workers on one
// port, memory store held by the primary). A drain reaches every worker at once, each download and each audit entry is
// recorded once, rate limits are one budget, and the state survives a SIGTERM and a restart.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listening, startCluster, stopCluster, type Cluster } from '../support/cluster.js';
import { freePort, LoopbackFileServer } from '../support/network.js';
import { put } from '../support/packageRepos.js';

const TOKEN = 'staff-token-for-the-cluster-test';
const FILE = 'pub/app-1.0.tar.gz';
let dir: string;
let port: number;
let configPath: string;
let cluster: Cluster | undefined;
const mirrors: LoopbackFileServer[] = [];

/** The cluster on the config's port (its publicUrl names it), started again by the restart test. */
async function start(): Promise<void> {
  cluster = await startCluster(configPath, { port });
}

const url = (p: string) => `http://127.0.0.1:${port}${p}`;
const staff = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

/** A fresh connection per request, so the cluster hands them to both workers. */
async function download(ip: string): Promise<string | null> {
  const res = await fetch(url(`/download/${FILE}`), { headers: { 'X-Forwarded-For': ip, Connection: 'close' }, redirect: 'manual' });
  await res.arrayBuffer();
  return res.headers.get('x-mirrorgate-mirror');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-cluster-'));
  const originRoot = path.join(dir, 'origin');
  await put(originRoot, FILE, Buffer.alloc(5_000, 7), 1_767_225_600);
  const origin = new LoopbackFileServer('origin', originRoot);
  await origin.start();
  mirrors.push(origin);
  const entries = [];
  for (const id of ['de-a', 'de-b']) {
    const m = new LoopbackFileServer(id, originRoot);
    await m.start();
    mirrors.push(m);
    entries.push({ id, name: `Mirror ${id}`, baseUrl: m.baseUrl, country: 'DE' });
  }
  await writeFile(path.join(dir, 'origin.jsonl'), `${JSON.stringify({ path: FILE, size: 5_000, mtime: 1_767_225_600 })}\n`);
  port = await freePort();
  configPath = path.join(dir, 'mirrorgate.yaml');
  await writeFile(
    configPath,
    stringify({
      publicUrl: `http://127.0.0.1:${port}`,
      dataDir: path.join(dir, 'var'),
      origin: { baseUrl: origin.baseUrl, manifest: path.join(dir, 'origin.jsonl') },
      health: { enabled: false },
      allowPrivateMirrorAddresses: true,
      tokens: [{ token: TOKEN, role: 'staff', name: 'ops' }],
      limits: { apiPerMinute: 8 },
      mirrors: entries,
    }),
  );
  await start();
}, 60_000);

afterAll(async () => {
  await stopCluster(cluster);
  for (const m of mirrors) await m.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a two-worker cluster in memory mode', () => {
  it('a drain sent to one worker is honoured by every worker within a second', async () => {
    const res = await fetch(url('/admin/v1/mirrors/de-a/drain'), { method: 'POST', headers: staff, body: '{}' });
    expect(res.status, await res.text()).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1_000));
    for (let i = 0; i < 40; i++) expect(await download(`198.51.100.${i + 1}`)).toBe('de-b');
    // Both workers answered some of them (each names itself in its access log).
    const served = new Set([...cluster!.output().matchAll(/"worker":(\d+)[^\n]*"msg":"request"/g)].map((m) => m[1]));
    expect(served.size).toBe(2);
  });

  it('counts each download once across workers, and audits the drain once', async () => {
    // The same 40 clients again within ten minutes: no new downloads, whichever worker answers them.
    for (let i = 0; i < 40; i++) await download(`198.51.100.${i + 1}`);
    expect(await stopCluster(cluster)).toBe(0);
    await start();
    const stats = (await (await fetch(url('/admin/v1/stats'), { headers: staff })).json()) as { totals: { downloads: number } };
    expect(stats.totals.downloads).toBe(40);
    const audit = (await (await fetch(url('/admin/v1/audit'), { headers: staff })).json()) as
      { entries?: { action: string; target: string }[] } | { action: string; target: string }[];
    const entries = Array.isArray(audit) ? audit : (audit.entries ?? []);
    expect(
      entries.filter((e) => e.target === 'mirror:de-a' && /drain/.test(e.action)),
      JSON.stringify(entries),
    ).toHaveLength(1);
  }, 60_000);

  it("the drain survived the restart: state is the primary's, persisted under dataDir", async () => {
    for (let i = 0; i < 10; i++) expect(await download(`203.0.113.${i + 1}`)).toBe('de-b');
  });

  it('gives a client one public-API budget across workers, not one each', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(url('/api/v1/mirrors'), { headers: { 'X-Forwarded-For': '192.0.2.200', Connection: 'close' } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
  });

  it('/metrics from any worker counts the whole cluster', async () => {
    // Since the restart: the ten downloads of the test before, answered by either worker.
    for (let i = 0; i < 3; i++) {
      const text = await (await fetch(url('/metrics'), { headers: { Connection: 'close' } })).text();
      const total = [...text.matchAll(/^mirrorgate_redirects_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(total, text.slice(0, 2000)).toBe(10);
      // State gauges are the cluster's, not a sum over workers: two mirrors, one store.
      const mirrors = [...text.matchAll(/^mirrorgate_mirrors\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(mirrors, text).toBe(2);
      expect(text).toMatch(/^mirrorgate_store_available 1$/m);
    }
  });

  it('a worker started after the config file was edited runs the config the primary read, as its siblings do', async () => {
    const original = await readFile(configPath, 'utf8');
    try {
      const edited = original.replace('name: Mirror de-b', 'name: Mirror de-b EDITED');
      expect(edited).not.toBe(original);
      await writeFile(configPath, edited);
      const workers = cluster!.workerPids();
      expect(workers).toHaveLength(2);
      process.kill(workers[0]!, 'SIGKILL');
      // Two listened at the start: the replacement is the third.
      await listening(cluster!, 3);
      const names = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const res = await fetch(url('/api/v1/mirrors'), { headers: { 'X-Forwarded-For': `192.0.2.${10 + i}`, Connection: 'close' } });
        const body = (await res.json()) as { mirrors?: { id: string; name: string }[] } | { id: string; name: string }[];
        const list = Array.isArray(body) ? body : (body.mirrors ?? []);
        for (const m of list) if (m.id === 'de-b') names.add(m.name);
      }
      expect([...names]).toEqual(['Mirror de-b']);
    } finally {
      await writeFile(configPath, original);
    }
  }, 60_000);

  it('stops cleanly when SIGTERM reaches the whole process group (systemd, Ctrl-C), and loses no download count', async () => {
    expect(await stopCluster(cluster)).toBe(0);
    cluster = await startCluster(configPath, { port, ownGroup: true });
    const total = async () => ((await (await fetch(url('/admin/v1/stats'), { headers: staff })).json()) as { totals: { downloads: number } }).totals.downloads;
    const before = await total();
    for (let i = 0; i < 10; i++) await download(`192.0.2.${100 + i}`);
    // Every process at once: the primary's stop request and the signal reach each worker in either order.
    process.kill(-cluster.proc.pid!, 'SIGTERM');
    expect((await cluster.exit).code, cluster.output().slice(-3000)).toBe(0);
    expect(cluster.output()).not.toContain('second signal');
    await start();
    expect(await total()).toBe(before + 10);
  }, 60_000);
});
