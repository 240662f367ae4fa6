// A cluster on Redis when Redis goes away and a worker dies with it: the surviving worker keeps redirecting,
// the primary keeps replacing the dead one (after a pause each time it cannot start), and once Redis is back a
// replacement serves again. The primary gives up only while no worker serves at all (a taken port, say).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, LoopbackFileServer } from '../support/network.js';
import { put } from '../support/packageRepos.js';
import { startRedisServer, type RedisServerProcess } from '../support/redis.js';

const FILE = 'pub/app-1.0.tar.gz';
let dir: string;
let port: number;
let redis: RedisServerProcess;
let primary: ChildProcess | undefined;
let output = '';
const servers: LoopbackFileServer[] = [];

const listening = () => (output.match(/mirrorgate listening/g) ?? []).length;

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A download on a fresh connection (the cluster spreads them over the workers); null when nothing answered. */
async function download(ip: string): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/download/${FILE}`, { headers: { 'X-Forwarded-For': ip, Connection: 'close' }, redirect: 'manual' });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

function workerPids(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary!.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-cluster-outage-'));
  redis = await startRedisServer(dir);
  const root = path.join(dir, 'origin');
  await put(root, FILE, Buffer.alloc(5_000, 7), 1_767_225_600);
  const origin = new LoopbackFileServer('origin', root);
  const mirror = new LoopbackFileServer('de-a', root);
  await origin.start();
  await mirror.start();
  servers.push(origin, mirror);
  await writeFile(path.join(dir, 'origin.jsonl'), `${JSON.stringify({ path: FILE, size: 5_000, mtime: 1_767_225_600 })}\n`);
  port = await freePort();
  const configPath = path.join(dir, 'mirrorgate.yaml');
  await writeFile(
    configPath,
    stringify({
      publicUrl: `http://127.0.0.1:${port}`,
      dataDir: path.join(dir, 'var'),
      store: redis.url,
      origin: { baseUrl: origin.baseUrl, manifest: path.join(dir, 'origin.jsonl') },
      health: { enabled: false },
      allowPrivateMirrorAddresses: true,
      mirrors: [{ id: 'de-a', name: 'Mirror A', baseUrl: mirror.baseUrl, country: 'DE' }],
    }),
  );
  primary = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
    env: { ...process.env, MIRRORGATE_CONFIG: configPath, MIRRORGATE_WORKERS: '2', PORT: String(port), LOG_LEVEL: 'info', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  primary.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  primary.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await until('both workers listening', () => listening() >= 2, 30_000);
}, 60_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) {
    const exited = new Promise((resolve) => primary!.once('exit', resolve));
    primary.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  for (const s of servers) await s.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a two-worker cluster on Redis', () => {
  it('Redis away and a worker killed: downloads go on, and a replacement serves once Redis is back', async () => {
    await redis.kill();
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    // The replacement cannot reach Redis: it says so in one line and exits, and the primary waits before the next.
    // (A worker waits 10 s for Redis before it gives up; the machine may be busy with other test files.)
    await until('a replacement failing to start', () => /worker could not start; starting another after a pause/.test(output), 120_000);
    expect(output).toMatch(/mirrorgate: Redis .*not reachable/);
    expect(output).not.toMatch(/\n\s+at /);
    // The surviving worker redirects all along; the primary did not stop the cluster.
    for (let i = 0; i < 10; i++) expect(await download(`198.51.100.${i + 1}`)).toBe(302);
    expect(primary!.exitCode).toBeNull();
    await redis.restart();
    await until('a replacement listening', () => listening() >= 3, 120_000);
    expect(workerPids()).toHaveLength(2);
    for (let i = 0; i < 10; i++) expect(await download(`198.51.100.${i + 50}`)).toBe(302);
  }, 300_000);
});
