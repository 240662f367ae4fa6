// `MIRRORGATE_WORKERS=N` as a real process tree for tests: the primary started from src/node.ts, its output kept,
// its workers found by pid, and whatever a failed test leaves behind ended.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './network.js';

export interface Cluster {
  proc: ChildProcess;
  port: number;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  workerPids(): number[];
}

const running: Cluster[] = [];

/** Starts a cluster of `workers` (2) on `port` (a free one) in memory mode, and resolves once every worker listens. */
export async function startCluster(
  configPath: string,
  opts: {
    env?: Record<string, string>;
    port?: number;
    workers?: number;
    /** In a process group of its own, as systemd runs a service. */ ownGroup?: boolean;
  } = {},
): Promise<Cluster> {
  const port = opts.port ?? (await freePort());
  const workers = opts.workers ?? 2;
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
    env: {
      ...process.env,
      MIRRORGATE_CONFIG: configPath,
      MIRRORGATE_WORKERS: String(workers),
      PORT: String(port),
      LOG_LEVEL: 'info',
      REDIS_URL: '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.ownGroup === true,
  });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const cluster: Cluster = {
    proc,
    port,
    output: () => out,
    exit,
    // The workers are the primary's node children (tsx may run an esbuild child beside them).
    workerPids: () =>
      psChildren(proc.pid!)
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter(([pid, comm]) => Number(pid) > 0 && comm === 'node')
        .map(([pid]) => Number(pid)),
  };
  running.push(cluster);
  await listening(cluster, workers);
  return cluster;
}

/** Resolves once `count` workers in all have announced they listen (replacements included), within 40 s. */
export async function listening(c: Cluster, count: number): Promise<void> {
  const deadline = Date.now() + 40_000;
  while ((c.output().match(/mirrorgate listening/g) ?? []).length < count) {
    if (Date.now() > deadline || c.proc.exitCode !== null) throw new Error(`cluster workers did not start:\n${c.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to the primary; resolves with its exit code (at once if it has exited already). */
export async function stopCluster(c: Cluster | undefined): Promise<number | null> {
  if (!c) return null;
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
  return (await c.exit).code;
}

/** Ends what a failed test may have left (a cluster, or a stopped worker): workers first. */
export function killClusters(): void {
  for (const c of running.splice(0)) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
    for (const pid of c.workerPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    c.proc.kill('SIGKILL');
  }
}

/** `ps` lines of a process's children; ps exits 1 when there are none. */
function psChildren(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
