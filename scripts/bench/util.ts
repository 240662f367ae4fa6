// Shared by the bench scripts: child processes speaking JSON over IPC, percentiles, formatting, the machine's load.
import { fork, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BENCH_DIR = import.meta.dirname;

/** A message a bench child sends its parent. */
export type ChildMessage =
  | { type: 'ready'; port?: number }
  | { type: 'result'; data: unknown }
  | { type: 'cpu'; userUs: number; systemUs: number; rss: number }
  | { type: 'error'; message: string };

export interface Child {
  process: ChildProcess;
  /** The next message of this type (rejects when the child exits first). */
  next<T extends ChildMessage['type']>(type: T, timeoutMs?: number): Promise<Extract<ChildMessage, { type: T }>>;
  /** Server CPU time so far (µs), as the child measures it for itself. */
  cpu(): Promise<{ userUs: number; systemUs: number; rss: number }>;
  stop(): Promise<void>;
}

export interface ForkOptions {
  env?: Record<string, string | undefined>;
  execArgv?: string[];
  /** Where the child's stdout goes: 'inherit', 'ignore' (/dev/null) or 'pipe'. */
  stdout?: 'inherit' | 'ignore' | 'pipe';
  /** The child's working directory (another checkout's, for bench:ab). */
  cwd?: string;
}

/** Runs a bench TypeScript file in its own Node process (through tsx), so it has a core and an event loop of its own. */
export function forkChild(file: string, args: string[], opts: ForkOptions = {}): Child {
  const stdio: StdioOptions = ['ignore', opts.stdout ?? 'inherit', 'inherit', 'ipc'];
  const child = fork(file, args, {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio,
  });
  const queue: ChildMessage[] = [];
  const waiters: { type: string; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  let exited: Error | undefined;
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'error') {
      exited = new Error(`${path.basename(file)}: ${m.message}`);
      for (const w of waiters.splice(0)) w.reject(exited);
      return;
    }
    const at = waiters.findIndex((w) => w.type === m.type);
    if (at >= 0) waiters.splice(at, 1)[0]!.resolve(m);
    else queue.push(m);
  });
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited ??= new Error(`${path.basename(file)} exited (${signal ?? code}) before answering`);
      for (const w of waiters.splice(0)) w.reject(exited);
      resolve();
    });
  });
  const next = <T extends ChildMessage['type']>(type: T, timeoutMs = 15 * 60_000) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const at = queue.findIndex((m) => m.type === type);
      if (at >= 0) return resolve(queue.splice(at, 1)[0] as Extract<ChildMessage, { type: T }>);
      if (exited) return reject(exited);
      const timer = setTimeout(() => reject(new Error(`${path.basename(file)}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ChildMessage, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  return {
    process: child,
    next,
    async cpu() {
      child.send({ type: 'cpu' });
      const m = await next('cpu', 10_000);
      return { userUs: m.userUs, systemUs: m.systemUs, rss: m.rss };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(killer);
    },
  };
}

/** In a child: answer the parent's CPU questions (so the parent can tell server CPU per request). */
export function answerCpuQuestions(): void {
  process.on('message', (m: { type?: string }) => {
    if (m?.type !== 'cpu') return;
    const u = process.cpuUsage();
    send({ type: 'cpu', userUs: u.user, systemUs: u.system, rss: process.memoryUsage.rss() });
  });
}

export function send(m: ChildMessage): void {
  process.send?.(m);
}

/** p in 0..100 over an unsorted sample (sorted in place). */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** The middle value; for an even count, the mean of the two middle ones (not the upper, which leans high). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n < 1 ? `${n.toFixed(2)} ms` : n < 100 ? `${n.toFixed(1)} ms` : `${Math.round(n).toLocaleString('en-US')} ms`;
}

export function fmtUs(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n < 10 ? `${n.toFixed(2)} µs` : n < 1000 ? `${n.toFixed(1)} µs` : `${Math.round(n).toLocaleString('en-US')} µs`;
}

export function fmtS(ms: number): string {
  return ms < 1000 ? fmtMs(ms) : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

export function pct(n: number): string {
  return Number.isFinite(n) ? `${(n * 100).toFixed(0)} %` : '–';
}

/** One-line description of the machine and how busy it is now (the bench is only as good as the quiet). */
export function machineLine(): string {
  const c = cpus();
  const [l1, l5] = loadavg();
  return `${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; load average ${l1!.toFixed(2)} (1 min), ${l5!.toFixed(2)} (5 min)`;
}

export function loadAverage1(): number {
  return loadavg()[0]!;
}

/**
 * The machine's CPU time so far from /proc/stat's first line, in clock ticks: all of it, and the part the
 * hypervisor gave to other guests (steal). On a shared VM, steal during a run is what makes its figures low.
 */
export function cpuTicks(): { total: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/** Peak resident set of this process so far (VmHWM), in bytes; process.resourceUsage().maxRSS as fallback. */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs), so a later peakRss() is the peak of what follows. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** A plain text table: the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** A goal cell: the goal, marked met (✓) or not (✗) by this run. */
export function goal(met: boolean, text: string): string {
  return `${text} ${met ? '✓' : '✗'}`;
}

/** Whatever runLoad can ask for CPU time: a bench child, or a process tree read from /proc. */
export interface CpuSource {
  cpu(): Promise<{ userUs: number; systemUs: number }>;
}

/**
 * CPU time of a process and every live descendant (a cluster's primary and its workers), from Linux's
 * /proc: utime and stime of each, in clock ticks of 10 ms. Ticks of exited processes are not counted.
 */
export function processTreeCpu(pid: number): CpuSource {
  const TICK_US = 10_000;
  const read = async (p: number): Promise<{ userUs: number; systemUs: number }> => {
    const { readFile, readdir } = await import('node:fs/promises');
    let userUs = 0;
    let systemUs = 0;
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) in parentheses: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      userUs += Number(f[11]) * TICK_US;
      systemUs += Number(f[12]) * TICK_US;
      for (const tid of await readdir(`/proc/${p}/task`)) {
        const children = (await readFile(`/proc/${p}/task/${tid}/children`, 'utf8')).trim();
        for (const c of children ? children.split(' ') : []) {
          const sub = await read(Number(c));
          userUs += sub.userUs;
          systemUs += sub.systemUs;
        }
      }
    } catch {
      // The process ended between listing and reading: its time is gone with it.
    }
    return { userUs, systemUs };
  };
  return { cpu: () => read(pid) };
}

/** A bench command's end: exit 0 when `main` resolves, else its error's message and exit 1. */
export function exitWhenDone(main: Promise<void>): void {
  main.then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
