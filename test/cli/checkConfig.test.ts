// `mirrorgate check-config` as users run it: the real bin launcher in a child process, exit code and output.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(repoRoot, 'bin/mirrorgate.js');
const TOKEN = 'cli-test-token-0123456789';

let dir: string;
let good: string;
let bad: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBin(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, MIRRORGATE_CONFIG: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mirrorgate-cli-'));
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'data/manifest.jsonl'), '');
  good = path.join(dir, 'good.yaml');
  writeFileSync(
    good,
    `publicUrl: https://downloads.example.org
tokens: [{ token: env:CLI_STAFF_TOKEN, role: staff, name: ops }]
origin: { baseUrl: "https://origin.example.org/pub/", manifest: data/manifest.jsonl }
mirrors:
  - { id: a, name: A, baseUrl: "https://a.example/", country: DE }
  - { id: b, name: B, baseUrl: "https://b.example/", country: FR }
`,
  );
  bad = path.join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `publicUrl: https://downloads.example.org
origin: { baseUrl: "https://origin.example.org/pub/", manifest: data/manifest.jsonl }
mirrors:
  - { id: a, name: A, baseUrl: "https://a.example/", country: XX }
  - { id: a, name: B, baseUrl: "https://b.example/", country: FR, wieght: 3 }
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('node bin/mirrorgate.js check-config', () => {
  it('exits 0 and says ok for a valid config', async () => {
    const run = await runBin(['check-config', good], { CLI_STAFF_TOKEN: TOKEN });
    expect(run).toEqual({ code: 0, stdout: `ok: ${good} (2 mirrors)\n`, stderr: '' });
  });

  it('exits 1 and prints every problem, one per line, on stderr', async () => {
    const run = await runBin(['check-config', bad]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'mirrors.0.country: unknown country code "XX"',
      'mirrors.1.id: duplicate id "a" (also mirrors.0.id)',
      'mirrors.1.wieght: unknown key',
    ]);
  });

  it('reads MIRRORGATE_CONFIG when no file is given, relative to the working directory', async () => {
    const run = await runBin(['check-config'], { MIRRORGATE_CONFIG: 'good.yaml', CLI_STAFF_TOKEN: TOKEN });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`ok: ${good} (2 mirrors)\n`);
  });

  it('exits 1 naming a missing file', async () => {
    const run = await runBin(['check-config', 'missing.yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${path.join(dir, 'missing.yaml')}: config file not found`);
  });
});

describe('main()', () => {
  const collect = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
  };

  it('returns the exit code instead of exiting', async () => {
    const ok = collect();
    expect(await main(['node', 'mirrorgate', 'check-config', good], { io: ok.io, env: { CLI_STAFF_TOKEN: TOKEN } })).toBe(0);
    expect(ok.out.join('')).toBe(`ok: ${good} (2 mirrors)\n`);

    const failed = collect();
    expect(await main(['node', 'mirrorgate', 'check-config', good], { io: failed.io, env: {} })).toBe(1);
    expect(failed.err.join('')).toBe('tokens.0.token: environment variable CLI_STAFF_TOKEN is not set\n');
  });

  it('reports usage errors with exit 2 and help with exit 0', async () => {
    const unknown = collect();
    expect(await main(['node', 'mirrorgate', 'no-such-command'], { io: unknown.io })).toBe(2);
    expect(unknown.err.join('')).toContain("unknown command 'no-such-command'");

    const help = collect();
    expect(await main(['node', 'mirrorgate', '--help'], { io: help.io })).toBe(0);
    expect(help.out.join('')).toContain('check-config');
  });
});
