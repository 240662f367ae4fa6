// Config keys for trace files: origin.trace (one path or candidates in order) and a mirror's own `trace`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

let dir: string;
let manifest: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mirrorgate-trace-config-'));
  manifest = path.join(dir, 'manifest.jsonl');
  writeFileSync(manifest, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(origin: string, mirror = ''): string {
  return `publicUrl: https://downloads.example.org
origin: { baseUrl: "https://origin.example.org/pub/", manifest: ${JSON.stringify(manifest)}${origin} }
mirrors:
  - { id: acme-de, name: A, baseUrl: "https://a.example/", country: DE${mirror} }
`;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, { file: path.join(dir, 'c.yaml'), env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('trace config', () => {
  it("defaults origin.trace to TIME and leaves a mirror's trace unset", () => {
    const c = parseConfig(config(''), { env: {} });
    expect(c.origin.trace).toBe('TIME');
    expect(c.mirrors[0]).not.toHaveProperty('trace');
  });

  it("takes one origin path, a list of candidates, and a mirror's own path", () => {
    expect(parseConfig(config(', trace: project/trace/master'), { env: {} }).origin.trace).toBe('project/trace/master');
    expect(parseConfig(config(', trace: [TIME, lastsync, project/trace/master]'), { env: {} }).origin.trace).toEqual([
      'TIME',
      'lastsync',
      'project/trace/master',
    ]);
    expect(parseConfig(config('', ', trace: project/trace/ftp.example.org'), { env: {} }).mirrors[0]!.trace).toBe('project/trace/ftp.example.org');
  });

  it('names each bad path', () => {
    expect(problems(config(', trace: /TIME'))).toEqual([expect.stringMatching(/^origin\.trace: must be a path relative to origin\.baseUrl, like TIME/)]);
    expect(problems(config(', trace: [TIME, ../x]'))).toEqual([expect.stringMatching(/^origin\.trace\.1: must be a path relative to origin\.baseUrl/)]);
    expect(problems(config(', trace: []'))).toEqual([expect.stringMatching(/^origin\.trace: list at least one path/)]);
    expect(problems(config('', ', trace: "https://elsewhere.example/lastsync"'))).toEqual([
      expect.stringMatching(/^mirrors\.0\.trace: must be a path relative to the mirror's baseUrl, like project\/trace\/ftp\.example\.org/),
    ]);
  });
});
