// Settings that parse but hurt are problems check-config names, as "path.to.key: reason", unless a config says it means them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateAddressProblem } from '../../src/config/addressPolicy.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { runCli } from '../cli/cliRun.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mirrorgate-footguns-'));
  writeFileSync(path.join(dir, 'manifest.jsonl'), '{"path":"a","size":1}\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (rest: string) => `publicUrl: https://downloads.example.org
origin: { baseUrl: "https://origin.example.org/pub/", manifest: manifest.jsonl }
${rest}`;

function problems(text: string): string[] {
  try {
    parseConfig(text, { file: path.join(dir, 'mirrorgate.yaml'), env: {} });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const mirror = (i: number, fields: string) => `  - { id: m${i}, name: M${i}, country: DE, ${fields} }`;

describe('foot-guns', () => {
  it('trusting every address as a proxy', () => {
    expect(problems(config('trustedProxies: [127.0.0.1/32, 0.0.0.0/0, "::/0", 10.0.0.0/8]\n'))).toEqual([
      'trustedProxies.1: 0.0.0.0/0 trusts every address: any client could claim any address in X-Forwarded-For; list only your proxies',
      'trustedProxies.2: ::/0 trusts every address: any client could claim any address in X-Forwarded-For; list only your proxies',
    ]);
  });

  it('probing more than once a second, unless allowed or probing is off', () => {
    expect(problems(config('health: { interval: 200ms, timeout: 100ms }\n'))).toEqual([
      'health.interval: probing every 200ms hammers every mirror; at least 1s (allowFastProbes: true for tests)',
    ]);
    expect(problems(config('health: { interval: 0.5, timeout: 100ms }\n'))).toHaveLength(1);
    expect(problems(config('health: { interval: 1s, timeout: 100ms }\n'))).toEqual([]);
    expect(problems(config('allowFastProbes: true\nhealth: { interval: 200ms, timeout: 100ms }\n'))).toEqual([]);
    expect(problems(config('health: { interval: 200ms, timeout: 100ms, enabled: false }\n'))).toEqual([]);
  });

  it('a base URL with "?" or "#", even a bare one', () => {
    const text = config(
      `mirrors:\n${mirror(0, 'baseUrl: "https://m.example/pub/?"')}\n${mirror(1, 'baseUrl: "https://m.example/pub/#"')}\n${mirror(2, 'baseUrl: "https://m.example/pub/?x=1"')}\n`,
    );
    expect(problems(text)).toEqual([
      'mirrors.0.baseUrl: must not have a query or fragment',
      'mirrors.1.baseUrl: must not have a query or fragment',
      'mirrors.2.baseUrl: must not have a query or fragment',
    ]);
  });

  it('mirror URLs aimed at this machine, link-local networks or metadata services, unless allowed', () => {
    const mirrors = [
      mirror(0, 'baseUrl: "http://127.0.0.1:8080/pub/"'),
      mirror(1, 'baseUrl: "http://[::1]/pub/"'),
      mirror(2, 'baseUrl: "http://169.254.169.254/latest/"'),
      mirror(3, 'baseUrl: "http://metadata.google.internal/"'),
      mirror(4, 'baseUrl: "https://ok.example/", rsyncUrl: "rsync://localhost/pub/"'),
      mirror(5, 'baseUrl: "https://ok.example/", content: { manifest: "http://[fe80::1]/inv.jsonl" }'),
      mirror(6, 'baseUrl: "http://0x7f.1/pub/"'),
      mirror(7, 'baseUrl: "http://[::ffff:127.0.0.1]/pub/"'),
      mirror(8, 'baseUrl: "http://10.1.2.3/pub/"'),
      mirror(9, 'baseUrl: "https://mirror.example.org/pub/"'),
    ].join('\n');
    const found = problems(config(`mirrors:\n${mirrors}\n`));
    expect(found.map((p) => p.slice(0, p.indexOf(':')))).toEqual([
      'mirrors.0.baseUrl',
      'mirrors.1.baseUrl',
      'mirrors.2.baseUrl',
      'mirrors.3.baseUrl',
      'mirrors.4.rsyncUrl',
      'mirrors.5.content.manifest',
      'mirrors.6.baseUrl',
      'mirrors.7.baseUrl',
    ]);
    expect(found[0]).toBe(
      'mirrors.0.baseUrl: points at this machine (loopback address 127.0.0.1); set allowPrivateMirrorAddresses: true in the config to allow it (labs and tests)',
    );
    expect(found[2]).toMatch(/^mirrors\.2\.baseUrl: points at the cloud metadata service \(169\.254\.169\.254\)/);
    expect(problems(config(`allowPrivateMirrorAddresses: true\nmirrors:\n${mirrors}\n`))).toEqual([]);
  });

  it('reads addresses as URLs resolve them', () => {
    for (const url of [
      'http://2130706433/',
      'http://127.1/',
      'http://LOCALHOST./',
      'http://x.localhost/',
      'https://[fd00:ec2::254]/',
      'http://0.0.0.0/',
      'http://169.254.1.1/',
      // Metadata services outside the link-local range (Alibaba, Oracle, Azure WireServer), and NAT64's
      // spelling of forbidden IPv4 addresses.
      'http://100.100.100.200/latest/',
      'http://192.0.0.192/',
      'http://168.63.129.16/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[64:ff9b::7f00:1]/',
    ]) {
      expect(privateAddressProblem(url), url).toBeDefined();
    }
    expect(privateAddressProblem('http://[64:ff9b::a9fe:a9fe]/')).toMatch(/cloud metadata service \(169\.254\.169\.254\), through NAT64/);
    // NAT64 to a public address is just that address.
    expect(privateAddressProblem('http://[64:ff9b::5db8:d822]/')).toBeUndefined();
    for (const url of ['https://mirror.example.org/', 'http://192.168.1.10/', 'http://[2001:db8::1]/', 'rsync://rsync.example.org/pub/']) {
      expect(privateAddressProblem(url), url).toBeUndefined();
    }
  });

  it('check-config prints them and exits 1', async () => {
    const file = path.join(dir, 'footguns.yaml');
    writeFileSync(file, config(`trustedProxies: ["::/0"]\nmirrors:\n${mirror(0, 'baseUrl: "http://169.254.169.254/"')}\n`));
    // In process, as the CLI tests run it (its environment given whole: no MIRRORGATE_CONFIG leaks in).
    const run = await runCli(['check-config', file], { cwd: dir });
    expect(run.code).toBe(1);
    const out = run.stdout + run.stderr;
    expect(out).toContain('trustedProxies.0: ::/0 trusts every address');
    expect(out).toContain('mirrors.0.baseUrl: points at the cloud metadata service (169.254.169.254)');
  });
});
