// The `mirrorgate` command as the CLI tests run it: in process through run() (milliseconds, several at once), or as users do, the real bin launcher in a child process (the smoke tests); both answer with the exit code and what was printed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type CliOutput } from '../../src/cli/main.js';

const bin = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'bin/mirrorgate.js');

export interface CliRun {
  /** null only when a child process was killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** The whole environment the command sees: nothing of the test process's leaks in. */
  env?: Record<string, string>;
  /** Where relative paths resolve (config and logo files). */
  cwd?: string;
  /** A terminal to write stdout to instead of collecting it (progress bars are drawn on a TTY). */
  stdout?: CliOutput;
}

/** Runs `mirrorgate <args>` in this process. */
export async function runCli(args: readonly string[], opts: CliRunOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    env: opts.env ?? {},
    cwd: opts.cwd,
    stdout: opts.stdout ?? { write: (text) => (stdout += text) },
    stderr: { write: (text) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** Runs `node bin/mirrorgate.js <args>` in a child process, with the test process's environment plus `env`. */
export function spawnCli(args: readonly string[], opts: CliRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
