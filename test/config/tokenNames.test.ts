// Token names are the actors of the audit log, so a config file may not give two tokens one name:
// `mirrorgate check-config` on a real file names the second one, as every other problem is named.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/cliRun.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mirrorgate-token-names-'));
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'data/manifest.jsonl'), '');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A config file whose tokens are these YAML entries. */
function configWithTokens(name: string, tokens: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `publicUrl: https://downloads.example.org
tokens:
${tokens.map((t) => `  - ${t}`).join('\n')}
origin: { baseUrl: "https://origin.example.org/pub/", manifest: data/manifest.jsonl }
mirrors:
  - { id: a, name: A, baseUrl: "https://a.example/", country: DE }
`,
  );
  return file;
}

const ENV = { ONE: 'first-token-0123456789', TWO: 'second-token-0123456789', THREE: 'third-token-0123456789' };

describe('check-config: token names', () => {
  it('two tokens named "ops": tokens.1.name: duplicate name "ops", exit 1', async () => {
    const file = configWithTokens('dup.yaml', ['{ token: env:ONE, role: staff, name: ops }', '{ token: env:TWO, role: staff, name: ops }']);
    const run = await runCli(['check-config', file], { cwd: dir, env: ENV });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual(['tokens.1.name: duplicate name "ops"']);
  });

  it('names each later duplicate once, a provider token too, and only those', async () => {
    const file = configWithTokens('dups.yaml', [
      '{ token: env:ONE, role: staff, name: ops }',
      '{ token: env:TWO, role: provider, mirrors: [a], name: acme }',
      '{ token: env:THREE, role: provider, mirrors: [a], name: acme }',
    ]);
    const run = await runCli(['check-config', file], { cwd: dir, env: ENV });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['tokens.2.name: duplicate name "acme"']);
  });

  it('distinct names are fine', async () => {
    const file = configWithTokens('ok.yaml', ['{ token: env:ONE, role: staff, name: ops }', '{ token: env:TWO, role: staff, name: oncall }']);
    const run = await runCli(['check-config', file], { cwd: dir, env: ENV });
    expect(run).toEqual({ code: 0, stdout: `ok: ${file} (1 mirror)\n`, stderr: '' });
  });
});
