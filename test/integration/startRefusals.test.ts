// Starting where another process already is: a taken port, or a dataDir whose memory store another instance
// owns. Each is one line on stderr and exit 1, never a stack trace; a dataDir lock left by a killed instance is
// taken over with a warning, a clean shutdown releases it, and a cluster's primary holds it for its workers.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNetwork, type MirrorNetwork } from '../support/network.js';
import { REPO_ROOT, startChildServer, type ChildServer } from '../reliability/support.js';
import { spawnCli } from '../cli/cliRun.js';

let net: MirrorNetwork;
const children: ChildServer[] = [];

beforeAll(async () => {
  net = await startNetwork({ mirrorgate: false });
});

afterAll(async () => {
  for (const c of children) c.kill();
  await net?.close();
});

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `PORT=port npm start` (node --import tsx src/node.ts) on a config, until it exits by itself (or 30 s). */
function npmStart(configPath: string, port: number, env: Record<string, string> = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'node.ts')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        MIRRORGATE_CONFIG: configPath,
        PORT: String(port),
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`still running after 30 s:\n${stdout}${stderr}`));
    }, 30_000);
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function child(configPath: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const c = await startChildServer({ configPath, port: await freePort(), env });
  children.push(c);
  return c;
}

const lockOf = (dataDir: string) => path.join(dataDir, 'mirrorgate.lock');

describe('a port already in use', () => {
  let holder: Server;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  });

  it('mirrorgate serve --port N: one line, exit 1, no stack trace', async () => {
    const { file } = await net.writeConfig();
    const run = await spawnCli(['serve', '--config', file, '--port', String(port)], { env: { LOG_LEVEL: 'silent' } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toBe(`mirrorgate: port ${port} is already in use (EADDRINUSE)\n`);
  });

  it('PORT=N npm start: the same line, exit 1', async () => {
    const { file, dataDir } = await net.writeConfig();
    const run = await npmStart(file, port);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toBe(`mirrorgate: port ${port} is already in use (EADDRINUSE)\n`);
    // Nothing was left holding the dataDir.
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });

  it('cluster mode: the workers say it, and the primary stops after a few failed starts instead of restarting them forever', async () => {
    const { file, dataDir } = await net.writeConfig();
    const run = await npmStart(file, port, { MIRRORGATE_WORKERS: '2' });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`mirrorgate: port ${port} is already in use (EADDRINUSE)`);
    expect(run.stdout).toContain('workers cannot start');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });
});

describe('a worker count that is not one', () => {
  it('MIRRORGATE_WORKERS=abc npm start: one line naming the variable, exit 1, no stack trace', async () => {
    const { file } = await net.writeConfig();
    const run = await npmStart(file, await freePort(), { MIRRORGATE_WORKERS: 'abc' });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toBe('mirrorgate: MIRRORGATE_WORKERS: expected a whole number from 1 to 256 or "auto", got "abc"\n');
  });

  it('serve --workers 1e1: a usage error (exit 2), as a bad --port is, not ten workers', async () => {
    const { file } = await net.writeConfig();
    const run = await spawnCli(['serve', '--config', file, '--port', String(await freePort()), '--workers', '1e1'], { env: { LOG_LEVEL: 'silent' } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toBe('mirrorgate: --workers: expected a whole number from 1 to 256 or "auto", got "1e1"\n');
  });
});

describe('one memory-mode instance per dataDir', () => {
  it('a second instance on the same dataDir refuses to start, naming the first one’s pid; the first keeps serving', async () => {
    const { file, dataDir } = await net.writeConfig();
    const first = await child(file);
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(first.proc.pid));

    const second = await npmStart(file, await freePort());
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toBe(
      `mirrorgate: ${dataDir} is in use by another instance (pid ${first.proc.pid}); use Redis (REDIS_URL) to run several instances\n`,
    );
    // The command line says the same.
    const cli = await spawnCli(['serve', '--config', file, '--port', String(await freePort())], { env: { LOG_LEVEL: 'silent' } });
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stderr).toBe(second.stderr);

    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(first.proc.pid));
  });

  it('a clean shutdown (SIGTERM) releases the lock: the next instance starts', async () => {
    const { file, dataDir } = await net.writeConfig();
    const first = await child(file);
    first.proc.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);
    expect(existsSync(lockOf(dataDir))).toBe(false);

    const next = await child(file);
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(next.proc.pid));
    expect(next.logLines().some((l) => l.msg === 'stale dataDir lock taken over: the process that held it is gone')).toBe(false);
  });

  it('a lock left by a killed instance (SIGKILL) is taken over with a warning', async () => {
    const { file, dataDir } = await net.writeConfig();
    const killed = await child(file);
    killed.proc.kill('SIGKILL');
    await killed.exit;
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(killed.proc.pid));

    const next = await child(file);
    const warning = next.logLines().find((l) => l.msg === 'stale dataDir lock taken over: the process that held it is gone');
    expect(warning, next.output()).toMatchObject({ level: 40, pid: killed.proc.pid, file: lockOf(dataDir) });
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(next.proc.pid));
    expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
  });

  it('a lock naming no process (garbage) is taken over too', async () => {
    const { file, dataDir } = await net.writeConfig();
    await writeFile(lockOf(dataDir), 'not a pid\n');
    const next = await child(file);
    expect(next.logLines().find((l) => l.msg === 'stale dataDir lock taken over: the process that held it is gone')).toMatchObject({ pid: null });
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(next.proc.pid));
  });

  it('cluster mode: the primary holds the lock and its workers serve; another instance is refused', async () => {
    const { file, dataDir } = await net.writeConfig();
    const cluster = await child(file, { MIRRORGATE_WORKERS: '2' });
    // The primary's pid, not a worker's: workers reach the primary's store over IPC and never lock.
    expect((await readFile(lockOf(dataDir), 'utf8')).trim()).toBe(String(cluster.proc.pid));
    expect((await fetch(`${cluster.url}/healthz`)).status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (cluster.logLines().filter((l) => l.msg === 'mirrorgate listening').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(cluster.logLines().filter((l) => l.msg === 'mirrorgate listening')).toHaveLength(2);

    const other = await npmStart(file, await freePort());
    expect(other.code, other.stderr).toBe(1);
    expect(other.stderr).toContain(`is in use by another instance (pid ${cluster.proc.pid})`);

    cluster.proc.kill('SIGTERM');
    expect((await cluster.exit).code).toBe(0);
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });
});
