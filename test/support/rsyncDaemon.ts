// A real rsync daemon on loopback for scan tests, in its own process group so it dies with its children.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { freePort } from './loopback.js';

export interface RsyncDaemon {
  /** rsync://127.0.0.1:<port>/<module>/ */
  url: string;
  process: ChildProcess;
  /** SIGKILL to the whole group. */
  stop(): void;
}

/**
 * Serves `root` read-only as a module of a random name, with its config, pid and log under
 * `home`. The random name proves the daemon we reach is ours: another test run may take the
 * same free port between our check and rsync's bind, so we verify by listing and retry.
 */
export async function startRsyncDaemon(home: string, root: string): Promise<RsyncDaemon> {
  const module = `mg${randomBytes(4).toString('hex')}`;
  for (let attempt = 1; ; attempt++) {
    const dir = path.join(home, `rsyncd-${attempt}`);
    await mkdir(dir, { recursive: true });
    const port = await freePort();
    // As root the daemon would switch to "nobody"; stay root so it reads the test tree as written.
    const asRoot = process.getuid?.() === 0 ? 'uid = root\ngid = root\n' : '';
    const configFile = path.join(dir, 'rsyncd.conf');
    await writeFile(
      configFile,
      [
        'use chroot = no',
        'reverse lookup = no',
        `pid file = ${path.join(dir, 'rsyncd.pid')}`,
        `lock file = ${path.join(dir, 'rsyncd.lock')}`,
        `log file = ${path.join(dir, 'rsyncd.log')}`,
        asRoot,
        `[${module}]`,
        `path = ${root}`,
        'read only = yes',
        '',
      ].join('\n'),
    );
    const child = spawn('rsync', ['--daemon', '--no-detach', `--port=${port}`, `--config=${configFile}`, '--address=127.0.0.1'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const url = `rsync://127.0.0.1:${port}/${module}/`;
    const daemon: RsyncDaemon = { url, process: child, stop: () => killGroup(child) };
    const deadline = Date.now() + 10_000;
    while (child.exitCode === null && !(await canConnect(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode === null && (await listsModule(url))) return daemon;
    daemon.stop();
    if (attempt === 3) throw new Error(`rsync daemon did not serve ${url}: ${stderr}`);
  }
}

export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function listsModule(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('rsync', ['--list-only', '--no-motd', '--timeout=10', url], (err) => resolve(!err));
  });
}
