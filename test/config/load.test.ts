// Config loading: normalization and defaults of a valid file, and every problem of a bad one named as path: reason.
import type { SiteRoute } from '../../src/core/siteRoutes.js';
import { DEFAULT_CONSISTENCY_RULES } from '../../src/core/consistency.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, parseConfig, resolveConfigPath, type Config, type MirrorConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/schema.js';

const STAFF_TOKEN = 'staff-token-0123456789';
const ACME_TOKEN = 'acme-token-0123456789ab';
const ENV = { MIRRORGATE_STAFF_TOKEN: STAFF_TOKEN, ACME_TOKEN };

let dir: string;
/** Where text-only tests pretend their config lives, so relative paths find the fixtures. */
const inline = () => path.join(dir, 'etc/inline.yaml');

/** Writes a file under the temp dir (creating folders) and returns its absolute path. */
function put(relative: string, content = ''): string {
  const file = path.join(dir, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** The error parseConfig/loadConfig threw, failing the test when they did not throw a ConfigError. */
function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const MINIMAL = `
publicUrl: https://downloads.example.org
origin:
  baseUrl: https://origin.example.org/pub/
  manifest: data/manifest.jsonl
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'mirrorgate-config-'));
  put('etc/data/manifest.jsonl', '{"path":"a","size":1}\n');
  put('etc/data/logos/acme.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>');
  put('etc/data/logos/acme.bmp', 'BM');
  put('etc/data/mirrors/acme-de.jsonl', '');
  put('etc/geo/city.mmdb', 'x');
  put('etc/geo/asn.mmdb', 'x');
  mkdirSync(path.join(dir, 'etc/srv/pub'), { recursive: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a valid config', () => {
  it('is normalized: paths absolute, URLs canonical, tokens resolved, durations in ms', async () => {
    const file = put(
      'etc/mirrorgate.yaml',
      `
publicUrl: https://Downloads.example.org/
port: 9000
dataDir: state
store: redis://localhost:6379/2
trustedProxies: [127.0.0.1/32, "::1/128", 10.1.2.3, "2001:db8::/32"]
geoip: { city: geo/city.mmdb, asn: ${path.join(dir, 'etc/geo/asn.mmdb')} }
tokens:
  - { token: env:MIRRORGATE_STAFF_TOKEN, role: staff, name: ops }
  - { token: env:ACME_TOKEN, role: provider, mirrors: [acme-de], name: acme }
  - { token: literal-token-0123456789, role: staff, name: ci }
origin:
  baseUrl: https://origin.example.org/pub
  manifest: data/manifest.jsonl
  trace: project/TIME
health: { interval: 1m, timeout: 2.5, failuresToDown: 4, successesToUp: 1, maxLag: 1d, sampleFiles: 0 }
routing: { bandKm: 150.5, maxAlternatives: 3 }
mirrors:
  - id: acme-de
    name: ACME Hosting Frankfurt
    baseUrl: https://mirror.acme.example/pub
    rsyncUrl: rsync://mirror.acme.example/pub/
    country: de
    lat: 50.11
    lon: 8.68
    asn: [3320]
    weight: 250
    bandwidthMbps: 1000
    countryOnly: true
    enabled: false
    sponsor: { name: ACME, url: https://acme.example/?ref=mirrorgate, logo: data/logos/acme.svg }
    content:
      include: ["projects/**"]
      exclude: ["**/*.tmp"]
      manifest: data/mirrors/acme-de.jsonl
  - id: tiny
    name: Tiny mirror
    baseUrl: http://tiny.example/
    country: NZ
`,
    );
    const config = await loadConfig(file, ENV);
    expect(config).toEqual({
      file,
      publicUrl: 'https://downloads.example.org',
      port: 9000,
      dataDir: path.join(dir, 'etc/state'),
      store: 'redis://localhost:6379/2',
      trustedProxies: ['127.0.0.1/32', '::1/128', '10.1.2.3/32', '2001:db8::/32'],
      geoip: { city: path.join(dir, 'etc/geo/city.mmdb'), asn: path.join(dir, 'etc/geo/asn.mmdb') },
      tokens: [
        { token: STAFF_TOKEN, role: 'staff', mirrors: [], name: 'ops' },
        { token: ACME_TOKEN, role: 'provider', mirrors: ['acme-de'], name: 'acme' },
        { token: 'literal-token-0123456789', role: 'staff', mirrors: [], name: 'ci' },
      ],
      origin: {
        baseUrl: 'https://origin.example.org/pub/',
        manifest: path.join(dir, 'etc/data/manifest.jsonl'),
        trace: 'project/TIME',
      },
      health: {
        intervalMs: 60_000,
        timeoutMs: 2_500,
        failuresToDown: 4,
        successesToUp: 1,
        maxLagMs: 86_400_000,
        sampleFiles: 0,
        enabled: true,
      },
      routing: { bandKm: 150.5, maxAlternatives: 3 },
      consistencyGroups: DEFAULT_CONSISTENCY_RULES,
      routes: [],
      limits: { ipv6Prefix: 64, apiPerMinute: 300, offersPerHour: 20, pendingOffers: 500, pendingOffersPerNetwork: 3, authFailures: 10 },
      metrics: {},
      allowPrivateMirrorAddresses: false,
      allowFastProbes: false,
      scan: { intervalMs: 21_600_000, timeoutMs: 1_800_000, launchCompletion: 0.99 },
      mirrors: [
        {
          id: 'acme-de',
          name: 'ACME Hosting Frankfurt',
          baseUrl: 'https://mirror.acme.example/pub/',
          rsyncUrl: 'rsync://mirror.acme.example/pub/',
          country: 'DE',
          lat: 50.11,
          lon: 8.68,
          asn: [3320],
          weight: 250,
          bandwidthMbps: 1000,
          countryOnly: true,
          enabled: false,
          sponsor: {
            name: 'ACME',
            url: 'https://acme.example/?ref=mirrorgate',
            logo: path.join(dir, 'etc/data/logos/acme.svg'),
          },
          content: {
            include: ['projects/**'],
            exclude: ['**/*.tmp'],
            manifest: path.join(dir, 'etc/data/mirrors/acme-de.jsonl'),
          },
        },
        {
          id: 'tiny',
          name: 'Tiny mirror',
          baseUrl: 'http://tiny.example/',
          country: 'NZ',
          asn: [],
          weight: 100,
          countryOnly: false,
          enabled: true,
          content: { include: ['**'], exclude: [] },
        },
      ],
    });
  });

  it('gets every default from a minimal file', () => {
    const file = path.join(dir, 'etc/minimal.yaml');
    const config = parseConfig(MINIMAL, { file, env: {} });
    expect(config).toEqual({
      file,
      publicUrl: 'https://downloads.example.org',
      dataDir: path.join(dir, 'etc/var'),
      store: 'memory',
      trustedProxies: ['127.0.0.1/32', '::1/128'],
      geoip: {},
      tokens: [],
      origin: {
        baseUrl: 'https://origin.example.org/pub/',
        manifest: path.join(dir, 'etc/data/manifest.jsonl'),
        trace: 'TIME',
      },
      health: {
        intervalMs: 30_000,
        timeoutMs: 5_000,
        failuresToDown: 3,
        successesToUp: 2,
        maxLagMs: 6 * 3_600_000,
        sampleFiles: 3,
        enabled: true,
      },
      routing: { bandKm: 300, maxAlternatives: 8 },
      consistencyGroups: DEFAULT_CONSISTENCY_RULES,
      routes: [],
      limits: { ipv6Prefix: 64, apiPerMinute: 300, offersPerHour: 20, pendingOffers: 500, pendingOffersPerNetwork: 3, authFailures: 10 },
      metrics: {},
      allowPrivateMirrorAddresses: false,
      allowFastProbes: false,
      scan: { intervalMs: 21_600_000, timeoutMs: 1_800_000, launchCompletion: 0.99 },
      mirrors: [],
    });
    expect(config).not.toHaveProperty('port');
  });

  it('holds its strings one byte per character even when the file has wider ones (an em dash in a comment)', () => {
    // YAML scalars are slices of the file's text, two-byte when the text is; the download path builds its
    // headers and map keys from mirror ids and URLs, so they are copied compact. V8's serializer tags a
    // one-byte string with '"' and a two-byte one with 'c'.
    const isOneByte = (s: string) => v8.serialize(s)[2] === 0x22;
    const text = `# Mirrors — as run by our providers\n${MINIMAL}mirrors:\n  - { id: acme-de, name: Acme — Berlin, baseUrl: https://acme.example/, country: DE, lat: 52.5, lon: 13.4 }\n`;
    const config = parseConfig(text, { file: path.join(dir, 'etc/wide.yaml'), env: {} });
    const mirror = config.mirrors[0]!;
    expect([config.publicUrl, config.origin.baseUrl, mirror.id, mirror.baseUrl, mirror.country].map(isOneByte)).toEqual([true, true, true, true, true]);
    expect(mirror.name).toBe('Acme — Berlin');
  });

  it('resolves relative paths against the config file folder, not the working directory', () => {
    const file = path.join(dir, 'etc/sub/../relative.yaml');
    const config = parseConfig(`${MINIMAL}dataDir: ../var\n`, { file, env: {} });
    expect(config.file).toBe(path.join(dir, 'etc/relative.yaml'));
    expect(config.dataDir).toBe(path.join(dir, 'var'));
    expect(config.origin.manifest).toBe(path.join(dir, 'etc/data/manifest.jsonl'));
  });

  it('resolves relative paths against the working directory when parsed without a file', () => {
    const text = `publicUrl: https://d.example\norigin: { baseUrl: "https://o.example/", root: ${path.join(dir, 'etc/srv/pub')} }\n`;
    const config = parseConfig(text, { env: {} });
    expect(config.file).toBe('');
    expect(config.dataDir).toBe(path.resolve('var'));
    expect(config.origin.root).toBe(path.join(dir, 'etc/srv/pub'));
  });

  it('has exactly the shape the rest of the code relies on', () => {
    interface ExpectedMirror {
      id: string;
      name: string;
      baseUrl: string;
      rsyncUrl?: string;
      trace?: string;
      country: string;
      lat?: number;
      lon?: number;
      asn: number[];
      weight: number;
      bandwidthMbps?: number;
      countryOnly: boolean;
      enabled: boolean;
      sponsor?: { name: string; url?: string; logo?: string };
      content: { include: string[]; exclude: string[]; manifest?: string };
    }
    interface ExpectedConfig {
      file: string;
      publicUrl: string;
      port?: number;
      dataDir: string;
      store: string;
      trustedProxies: string[];
      geoip: { city?: string; asn?: string };
      tokens: { token: string; role: 'staff' | 'provider' | 'edge'; mirrors: string[]; name: string }[];
      origin: { baseUrl: string; manifest?: string; root?: string; trace: string | string[] };
      health: {
        intervalMs: number;
        timeoutMs: number;
        failuresToDown: number;
        successesToUp: number;
        maxLagMs: number;
        sampleFiles: number;
        enabled: boolean;
      };
      routing: { bandKm: number; maxAlternatives: number };
      consistencyGroups: { folder: string; leaders: string[] }[];
      routes: SiteRoute[];
      limits: { ipv6Prefix: number; apiPerMinute: number; offersPerHour: number; pendingOffers: number; pendingOffersPerNetwork: number; authFailures: number };
      metrics: { token?: string; allowFrom?: string[] };
      allowPrivateMirrorAddresses: boolean;
      allowFastProbes: boolean;
      scan: { intervalMs: number; timeoutMs: number; launchCompletion: number };
      mirrors: ExpectedMirror[];
    }
    expectTypeOf<MirrorConfig>().toEqualTypeOf<ExpectedMirror>();
    expectTypeOf<Config>().toEqualTypeOf<ExpectedConfig>();
  });
});

describe('tokens', () => {
  const withTokens = (tokens: string) => `${MINIMAL}mirrors: [{ id: acme-de, name: A, baseUrl: "https://a.example/", country: DE }]\ntokens:\n${tokens}`;

  it('reads env:NAME from the given environment, trimming a trailing newline', () => {
    const config = parseConfig(withTokens('  - { token: env:T, role: staff, name: ops }\n'), {
      file: inline(),
      env: { T: `${STAFF_TOKEN}\n` },
    });
    expect(config.tokens[0]?.token).toBe(STAFF_TOKEN);
  });

  it('names unset, empty, short, misnamed and duplicate tokens without printing secrets', () => {
    const problems = problemsOf(() =>
      parseConfig(
        withTokens(
          [
            '  - { token: env:UNSET, role: staff, name: a }',
            '  - { token: env:EMPTY, role: staff, name: b }',
            '  - { token: env:SHORT, role: staff, name: c }',
            '  - { token: "env:bad-name", role: staff, name: d }',
            '  - { token: tooshort, role: staff, name: e }',
            '  - { token: env:GOOD, role: staff, name: f }',
            `  - { token: ${STAFF_TOKEN}, role: provider, mirrors: [acme-de], name: g }`,
            '',
          ].join('\n'),
        ),
        { file: inline(), env: { EMPTY: '', SHORT: 'abc', GOOD: STAFF_TOKEN } },
      ),
    );
    expect(problems).toEqual([
      'tokens.0.token: environment variable UNSET is not set',
      'tokens.1.token: environment variable EMPTY is empty',
      'tokens.2.token: environment variable SHORT must hold at least 16 characters',
      'tokens.3.token: invalid environment variable name "bad-name"',
      'tokens.4.token: must be at least 16 characters (or env:NAME)',
      'tokens.6.token: duplicate token (also tokens.5.token)',
    ]);
    expect(problems.join('\n')).not.toContain(STAFF_TOKEN);
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['6h', 21_600_000],
    ['1d', 86_400_000],
    ['1.5h', 5_400_000],
    [45, 45_000],
    [0.25, 250],
  ])('%s is %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
    const config = parseConfig(`${MINIMAL}health: { maxLag: ${JSON.stringify(input)} }\n`, { file: inline(), env: {} });
    expect(config.health.maxLagMs).toBe(expected);
  });

  it.each(['30 sec', '30', '2 weeks', '-5s', '0s', 's', '', '1w', '5M'])('rejects "%s"', (input) => {
    expect(parseDuration(input)).toBeUndefined();
    expect(problemsOf(() => parseConfig(`${MINIMAL}health: { maxLag: "${input}" }\n`, { file: inline(), env: {} }))).toEqual([
      `health.maxLag: invalid duration "${input}"`,
    ]);
  });

  it('rejects zero, negative and non-numeric values', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL}health: { interval: 0, maxLag: -3, timeout: true }\n`, { file: inline(), env: {} }))).toEqual([
      'health.interval: must be a positive number of seconds',
      'health.maxLag: must be a positive number of seconds',
      'health.timeout: expected a duration like 250ms, 30s, 5m, 6h, 1d or a number of seconds',
    ]);
  });

  it('requires timeout < interval, defaults included', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL}health: { interval: 10s, timeout: 10s }\n`, { file: inline(), env: {} }))).toEqual([
      'health.timeout: timeout (10s) must be shorter than interval (10s)',
    ]);
    expect(problemsOf(() => parseConfig(`${MINIMAL}health: { interval: 2s }\n`, { file: inline(), env: {} }))).toEqual([
      'health.interval: timeout (5s) must be shorter than interval (2s)',
    ]);
  });
});

describe('a config with many mistakes', () => {
  it('lists every problem, in file order, as path: reason', () => {
    const file = put(
      'etc/bad.yaml',
      `
publicUrl: ftp://downloads.example.org/
prot: 8080
store: postgres://db
trustedProxies: [127.0.0.1/32, nonsense, 10.0.0.0/33]
geoip: { city: geo/missing.mmdb }
tokens:
  - { token: env:MIRRORGATE_STAFF_TOKEN, role: staff, name: ops, mirrors: [acme-de] }
  - { token: env:ACME_TOKEN, role: provider, mirrors: [acme-fr], name: acme }
  - { token: env:MISSING_TOKEN, role: admin, name: "" }
  - { token: env:ACME_TOKEN, role: provider, name: again }
origin:
  baseUrl: https://origin.example.org/pub?x=1
  manifest: data/manifest.jsonl
  root: srv/missing
  trace: /TIME
health: { interval: 30 sec, failuresToDown: 0, successesToUp: 2.5, sampleFiles: yes }
routing: { bandKm: -1 }
mirrors:
  - id: acme-de
    name: ACME
    baseUrl: https://user:pw@mirror.acme.example/pub
    rsyncUrl: https://mirror.acme.example/pub/
    country: de
    lat: 50.11
    asn: [3320, -1]
    weight: 1.5
    bandwidthMbps: 0
    sponsor: { name: ACME, url: "javascript:alert(1)", logo: data/logos/acme.bmp }
    content: { include: ["/projects/**"], exclude: ["[a"], manifest: data/mirrors/missing.jsonl }
  - id: Bad_ID
    baseUrl: https://m2.example/
    country: XX
    wieght: 5
  - id: acme-de
    name: Duplicate
    baseUrl: https://m3.example
    country: FR
    lon: 500
    countryOnly: "yes"
`,
    );
    const problems = problemsOf(() => parseConfig(readFileSync(file, 'utf8'), { file, env: ENV }));
    expect(problems).toEqual([
      'publicUrl: must be an http or https URL, got ftp:',
      'prot: unknown key',
      'store: must be "memory" or a redis:// or rediss:// URL',
      'trustedProxies.1: invalid IP address or CIDR "nonsense"',
      'trustedProxies.2: invalid IP address or CIDR "10.0.0.0/33"',
      `geoip.city: file not found: ${path.join(dir, 'etc/geo/missing.mmdb')}`,
      'tokens.0.mirrors: a staff token sees every mirror; do not list mirrors',
      'tokens.1.mirrors.0: unknown mirror id "acme-fr"',
      'tokens.2.token: environment variable MISSING_TOKEN is not set',
      'tokens.2.role: expected one of "staff", "provider", "edge", got "admin"',
      'tokens.2.name: must not be empty',
      'tokens.3.token: duplicate token (also tokens.1.token)',
      'tokens.3.mirrors: a provider token needs at least one mirror id',
      'origin.baseUrl: must not have a query or fragment',
      `origin.root: directory not found: ${path.join(dir, 'etc/srv/missing')}`,
      'origin.root: set either manifest or root, not both',
      'origin.trace: must be a path relative to origin.baseUrl, like TIME',
      'health.interval: invalid duration "30 sec"',
      'health.failuresToDown: must be at least 1',
      'health.successesToUp: expected an integer, got 2.5',
      'health.sampleFiles: expected a number, got "yes"',
      'routing.bandKm: must be at least 0',
      'mirrors.0.baseUrl: must not contain credentials',
      'mirrors.0.rsyncUrl: must be an rsync:// URL',
      'mirrors.0.asn.1: must be at least 1',
      'mirrors.0.weight: expected an integer, got 1.5',
      'mirrors.0.bandwidthMbps: must be greater than 0',
      'mirrors.0.sponsor.url: must be an http or https URL',
      'mirrors.0.sponsor.logo: must end in .svg, .png, .jpg, .jpeg, .webp or .gif',
      'mirrors.0.content.include.0: glob "/projects/**" must be relative to the origin root (no leading "/")',
      expect.stringMatching(/^mirrors\.0\.content\.exclude\.0: invalid glob "\[a": /),
      `mirrors.0.content.manifest: file not found: ${path.join(dir, 'etc/data/mirrors/missing.jsonl')}`,
      'mirrors.0.lon: required when lat is set',
      'mirrors.1.id: must contain only a-z, 0-9 and "-"',
      'mirrors.1.country: unknown country code "XX"',
      'mirrors.1.wieght: unknown key',
      'mirrors.1.name: required',
      'mirrors.2.id: duplicate id "acme-de" (also mirrors.0.id)',
      'mirrors.2.lon: must be at most 180',
      'mirrors.2.countryOnly: expected true or false, got "yes"',
      'mirrors.2.lat: required when lon is set',
    ]);
  });

  it('puts the problems, one per line, in the error message', () => {
    const text = `${MINIMAL}mirrors: [{ id: a, name: A, baseUrl: "https://a.example/", country: ZZ, enabeld: true }]\n`;
    expect(() => parseConfig(text, { file: inline(), env: {} })).toThrow(
      new ConfigError(['mirrors.0.country: unknown country code "ZZ"', 'mirrors.0.enabeld: unknown key']),
    );
  });
});

describe('unknown keys', () => {
  it('are an error at every level', () => {
    const text = `${MINIMAL}helth: { interval: 5m }
geoip: { cty: x }
routing: { band: 3 }
tokens: [{ token: ${STAFF_TOKEN}, role: staff, name: a, note: x }]
mirrors:
  - id: a
    name: A
    baseUrl: https://a.example/
    country: DE
    sponsor: { name: S, logourl: x }
    content: { includes: ["**"] }
`;
    expect(problemsOf(() => parseConfig(text, { file: inline(), env: {} }))).toEqual([
      'helth: unknown key',
      'geoip.cty: unknown key',
      'routing.band: unknown key',
      'tokens.0.note: unknown key',
      'mirrors.0.sponsor.logourl: unknown key',
      'mirrors.0.content.includes: unknown key',
    ]);
  });

  it('still reports a typo whose value is empty', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL}datadir:\n`, { file: inline(), env: {} }))).toEqual(['datadir: unknown key']);
  });
});

describe('documents that are not a config', () => {
  it('reports YAML syntax errors as file:line:col: message', () => {
    const file = path.join(dir, 'etc/broken.yaml');
    const problems = problemsOf(() => parseConfig('publicUrl: https://x.example\nmirrors: [a, b\n', { file, env: {} }));
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(new RegExp(`^${escape(file)}:\\d+:\\d+: \\S`));
    expect(problems[0]).toMatch(new RegExp(`^${escape(file)}:3:1: `));
  });

  it('reports duplicate keys with their position', () => {
    const problems = problemsOf(() => parseConfig('publicUrl: a\npublicUrl: b\n', { env: {} }));
    expect(problems).toEqual([expect.stringMatching(/^2:1: .*unique/i)]);
  });

  it.each([
    ['', 'the config is empty'],
    ['# nothing but a comment\n', 'the config is empty'],
    ['- a\n- b\n', 'got a list'],
    ['just a string\n', 'got "just a string"'],
  ])('gives one clear problem for %j', (text, reason) => {
    const file = path.join(dir, 'etc/odd.yaml');
    const problems = problemsOf(() => parseConfig(text, { file, env: {} }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`${file}: `);
    expect(problems[0]).toContain(reason);
  });

  it('reports a missing config file', async () => {
    const file = path.join(dir, 'nope/mirrorgate.yaml');
    await expect(loadConfig(file, {})).rejects.toThrow(new ConfigError([`${file}: config file not found (set MIRRORGATE_CONFIG or pass a path)`]));
  });

  it('requires publicUrl and origin', () => {
    expect(problemsOf(() => parseConfig('mirrors: []\n', { file: inline(), env: {} }))).toEqual(['publicUrl: required', 'origin: required']);
    expect(problemsOf(() => parseConfig('publicUrl: https://d.example\norigin: { baseUrl: "https://o.example/" }\n', { file: inline(), env: {} }))).toEqual([
      'origin: set one of manifest or root',
    ]);
  });
});

describe('resolveConfigPath', () => {
  it('uses MIRRORGATE_CONFIG or the default, relative to the working directory', () => {
    expect(resolveConfigPath({})).toBe(path.resolve(DEFAULT_CONFIG_PATH));
    expect(resolveConfigPath({ MIRRORGATE_CONFIG: '' })).toBe(path.resolve(DEFAULT_CONFIG_PATH));
    expect(resolveConfigPath({ MIRRORGATE_CONFIG: 'x/y.yaml' })).toBe(path.resolve('x/y.yaml'));
    expect(resolveConfigPath({ MIRRORGATE_CONFIG: '/abs/y.yaml' })).toBe('/abs/y.yaml');
  });
});

describe('parseConfig on arbitrary input', () => {
  const onlyConfigErrors = (text: string) => {
    try {
      parseConfig(text, { file: path.join(dir, 'etc/fuzz.yaml'), env: ENV });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      expect(err.problems.length).toBeGreaterThan(0);
      expect(err.message).toBe(err.problems.join('\n'));
    }
  };

  it('throws nothing but a ConfigError for YAML-ish text', () => {
    const fragment = fc.oneof(
      fc.constantFrom(
        'publicUrl: ',
        'origin:',
        'mirrors:',
        'tokens:',
        'health:',
        '- ',
        'id: ',
        'country: ',
        'lat: ',
        'lon: ',
        'manifest: ',
        'baseUrl: ',
        'token: env:ACME_TOKEN',
        'role: provider',
        '{',
        '}',
        '[',
        ']',
        ':',
        ',',
        '\n',
        '  ',
        '\t',
        '"',
        "'",
        '&a ',
        '*a',
        '!!str ',
        '!!binary ',
        '---\n',
        '...\n',
        '# c',
        '<<: ',
        '__proto__: ',
        '? ',
        '|\n',
        '>-\n',
        '.nan',
        '.inf',
        '1e999',
        '-0',
        '~',
        'null',
        'true',
        '0x1F',
        '%YAML 1.2\n',
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), (parts) => onlyConfigErrors(parts.join(''))),
      { numRuns: 400 },
    );
  });

  it('throws nothing but a ConfigError for config-shaped documents with arbitrary values', () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('acme-de', 'DE', 'https://m.example/', 'data/manifest.jsonl', 'env:ACME_TOKEN', '30s', '::1'),
    );
    const mirror = fc.dictionary(fc.constantFrom('id', 'name', 'baseUrl', 'country', 'lat', 'lon', 'asn', 'weight', 'sponsor', 'content', 'wieght'), value);
    const document = fc.record(
      {
        publicUrl: value,
        origin: fc.oneof(value, fc.dictionary(fc.constantFrom('baseUrl', 'manifest', 'root', 'trace'), value)),
        health: fc.oneof(value, fc.dictionary(fc.constantFrom('interval', 'timeout', 'maxLag'), value)),
        tokens: fc.oneof(value, fc.array(fc.dictionary(fc.constantFrom('token', 'role', 'mirrors', 'name'), value))),
        mirrors: fc.oneof(value, fc.array(mirror, { maxLength: 4 })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(document, (doc) => onlyConfigErrors(stringify(doc))),
      { numRuns: 400 },
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
