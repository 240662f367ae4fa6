// Zod schemas for the mirrorgate YAML config: per-field rules plus normalization (defaults, absolute paths, env tokens, durations), and the cross-field rules zod cannot see.
import { statSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import ms from 'ms';
import { z } from 'zod';
import { routePrefixProblem, targetPrefixProblem, type SiteRoute } from '../core/siteRoutes.js';
import { DEFAULT_CONSISTENCY_RULES } from '../core/consistency.js';
import { isRelativeTracePath } from '../core/health.js';
import { ALLOW_PRIVATE_KEY, fetchedUrls, privateAddressMessage } from './addressPolicy.js';
import { MIRROR_ID, baseUrl, countryCode, duration, glob, globList, halfPosition, linkUrl, parseDuration, parseUrl, rsyncUrl } from './fields.js';

export { fields, parseDuration } from './fields.js';

/** What the schema needs from outside the YAML text: where relative paths start and where env:NAME tokens come from. */
export interface SchemaContext {
  /** Absolute path of the config file, '' when parsed from text alone. */
  file: string;
  /** Folder that relative paths resolve against (the config file's folder, else the working directory). */
  baseDir: string;
  env: Record<string, string | undefined>;
}

/** One config problem before formatting; path uses YAML key names and array indices. */
export interface Problem {
  path: (string | number)[];
  message: string;
}

export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['127.0.0.1/32', '::1/128'];
export const DEFAULT_HEALTH = {
  intervalMs: 30_000,
  timeoutMs: 5_000,
  failuresToDown: 3,
  successesToUp: 2,
  maxLagMs: 6 * 3_600_000,
  sampleFiles: 3,
} as const;
export const DEFAULT_ROUTING = { bandKm: 300, maxAlternatives: 8 } as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_TOKEN_LENGTH = 16;
const LOGO_EXTENSIONS = ['.svg', '.png', '.jpg', '.jpeg', '.webp', '.gif'];

type TokenResolution = { ok: true; value: string } | { ok: false; message: string };

/** Turns a config token ("env:NAME" or a literal) into its secret; messages never include the secret. */
export function resolveToken(raw: string, env: Record<string, string | undefined>): TokenResolution {
  if (raw.startsWith('env:')) {
    const name = raw.slice(4);
    if (!ENV_NAME.test(name)) return { ok: false, message: `invalid environment variable name "${name}"` };
    // Secrets mounted from files often end in a newline that no client will send.
    const value = env[name]?.trim();
    if (value === undefined) return { ok: false, message: `environment variable ${name} is not set` };
    if (value === '') return { ok: false, message: `environment variable ${name} is empty` };
    if (value.length < MIN_TOKEN_LENGTH) {
      return { ok: false, message: `environment variable ${name} must hold at least ${MIN_TOKEN_LENGTH} characters` };
    }
    return { ok: true, value };
  }
  if (raw.length < MIN_TOKEN_LENGTH) {
    return { ok: false, message: `must be at least ${MIN_TOKEN_LENGTH} characters (or env:NAME)` };
  }
  return { ok: true, value: raw };
}

const storeUrl = z.string().refine(
  (text) => {
    if (text === 'memory') return true;
    const protocol = parseUrl(text)?.protocol;
    return protocol === 'redis:' || protocol === 'rediss:';
  },
  { message: 'must be "memory" or a redis:// or rediss:// URL' },
);

/** An IP address or CIDR, normalized to CIDR so consumers can always use ipaddr.parseCIDR. */
const proxyRange = z.string().transform((text, ctx) => {
  try {
    if (ipaddr.isValidCIDR(text)) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      return `${addr.toString()}/${bits}`;
    }
    if (ipaddr.isValid(text)) {
      const addr = ipaddr.parse(text);
      return `${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`;
    }
  } catch {
    // fall through to the problem below
  }
  ctx.addIssue({ code: 'custom', message: `invalid IP address or CIDR "${text}"`, input: text });
  return z.NEVER;
});

type PathKind = 'file' | 'dir' | 'none';

/** A local path resolved against the config's folder; 'file'/'dir' also require it to exist as such. */
function localPath(sc: SchemaContext, kind: PathKind, extensions?: string[]) {
  return z
    .string()
    .min(1)
    .transform((text, ctx) => {
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message, input: text });
        return z.NEVER;
      };
      if (text.includes('\0')) return fail('must not contain a NUL character');
      const abs = path.resolve(sc.baseDir, text);
      if (extensions && !extensions.includes(path.extname(abs).toLowerCase())) {
        return fail(`must end in ${extensions.slice(0, -1).join(', ')} or ${extensions.at(-1)}`);
      }
      if (kind === 'none') return abs;
      let stats;
      try {
        stats = statSync(abs, { throwIfNoEntry: false });
      } catch (err) {
        return fail(`cannot read ${abs}: ${(err as Error).message}`);
      }
      if (!stats) return fail(`${kind === 'dir' ? 'directory' : 'file'} not found: ${abs}`);
      if (kind === 'file' && !stats.isFile()) return fail(`not a file: ${abs}`);
      if (kind === 'dir' && !stats.isDirectory()) return fail(`not a directory: ${abs}`);
      return abs;
    });
}

/** Path of the origin's timestamp file, joined to origin.baseUrl by probes (and to each mirror's baseUrl for its copy). */
const tracePath = z.string().min(1).refine(isRelativeTracePath, { message: 'must be a path relative to origin.baseUrl, like TIME' });
/** One trace path, or candidates tried in order (the first a mirror answers with a time wins). */
const tracePaths = z.union([tracePath, z.array(tracePath).min(1, { message: 'list at least one path' })]);
/** A mirror's own trace path when it is not where origin.trace says, e.g. project/trace/<host> or lastsync. */
const mirrorTracePath = z
  .string()
  .min(1)
  .refine(isRelativeTracePath, { message: "must be a path relative to the mirror's baseUrl, like project/trace/ftp.example.org" });

export function mirrorSchema(sc: SchemaContext) {
  return z.strictObject({
    id: z.string().min(1).max(63).regex(MIRROR_ID, { message: 'must contain only a-z, 0-9 and "-"' }),
    name: z.string().min(1),
    baseUrl: baseUrl('add'),
    rsyncUrl: rsyncUrl.optional(),
    trace: mirrorTracePath.optional(),
    country: countryCode(),
    lat: z.number().min(-90).max(90).optional(),
    lon: z.number().min(-180).max(180).optional(),
    asn: z.array(z.int().min(1).max(4_294_967_295)).default(() => []),
    weight: z.int().min(0).default(100),
    bandwidthMbps: z.number().positive().optional(),
    countryOnly: z.boolean().default(false),
    enabled: z.boolean().default(true),
    sponsor: z
      .strictObject({
        name: z.string().min(1),
        url: linkUrl.optional(),
        logo: localPath(sc, 'file', LOGO_EXTENSIONS).optional(),
      })
      .optional(),
    content: z
      .strictObject({
        // A mirror that carries nothing is a typo, not a configuration.
        include: globList()
          .min(1)
          .default(() => ['**']),
        exclude: globList().default(() => []),
        // A local file read at start, or an http(s) URL fetched by scans (JSON lines, gzip allowed).
        manifest: manifestSource(sc).optional(),
      })
      .prefault({}),
  });
}

/** A mirror manifest: a local file read at start, or an http(s) URL that scans fetch. */
function manifestSource(sc: SchemaContext) {
  const local = localPath(sc, 'file');
  return z
    .string()
    .min(1)
    .transform((text, ctx) => {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
        const url = parseUrl(text);
        const problem = !url
          ? `invalid URL "${text}"`
          : url.protocol !== 'http:' && url.protocol !== 'https:'
            ? `must be a local file or an http(s) URL, got ${url.protocol}`
            : undefined;
        if (problem) {
          ctx.addIssue({ code: 'custom', message: problem, input: text });
          return z.NEVER;
        }
        return url!.href;
      }
      const parsed = local.safeParse(text);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, input: text });
        return z.NEVER;
      }
      return parsed.data;
    });
}

function tokenSchema(sc: SchemaContext) {
  return z.strictObject({
    token: z.string().transform((raw, ctx) => {
      const resolved = resolveToken(raw, sc.env);
      if (!resolved.ok) {
        ctx.addIssue({ code: 'custom', message: resolved.message, input: '<secret>' });
        return z.NEVER;
      }
      return resolved.value;
    }),
    role: z.enum(['staff', 'provider', 'edge']),
    mirrors: z.array(z.string()).default(() => []),
    name: z.string().min(1),
  });
}

const healthSchema = z
  .strictObject({
    interval: duration.default(DEFAULT_HEALTH.intervalMs),
    timeout: duration.default(DEFAULT_HEALTH.timeoutMs),
    failuresToDown: z.int().min(1).default(DEFAULT_HEALTH.failuresToDown),
    successesToUp: z.int().min(1).default(DEFAULT_HEALTH.successesToUp),
    maxLag: duration.default(DEFAULT_HEALTH.maxLagMs),
    sampleFiles: z.int().min(0).default(DEFAULT_HEALTH.sampleFiles),
    // Our addition: false turns probing off (the demo's mirrors are fictional hosts).
    enabled: z.boolean().default(true),
  })
  // YAML says "interval: 30s"; code reads intervalMs so the unit is never guessed.
  .transform((h) => ({
    intervalMs: h.interval,
    timeoutMs: h.timeout,
    failuresToDown: h.failuresToDown,
    successesToUp: h.successesToUp,
    maxLagMs: h.maxLag,
    sampleFiles: h.sampleFiles,
    enabled: h.enabled,
  }));

// Our addition: how often inventories are rescanned (rsync or HTTP manifest) and how long one scan may take.
const scanSchema = z
  .strictObject({
    interval: duration.default(6 * 3_600_000),
    timeout: duration.default(30 * 60_000),
    /** A syncing (accepted) mirror is launched once a scan shows it carries this share of its files. */
    launchCompletion: z.number().min(0).max(1).default(0.99),
  })
  .transform((s) => ({ intervalMs: s.interval, timeoutMs: s.timeout, launchCompletion: s.launchCompletion }));

const routingSchema = z.strictObject({
  bandKm: z.number().min(0).default(DEFAULT_ROUTING.bandKm),
  maxAlternatives: z.int().min(0).default(DEFAULT_ROUTING.maxAlternatives),
});

/** A path that must pass `problem` (core/siteRoutes.ts), so the schema and the router agree on what a route may take. */
function routePath(problem: (text: string) => string | undefined) {
  return z.string().superRefine((text, ctx) => {
    const message = problem(text);
    if (message) ctx.addIssue({ code: 'custom', message, input: text });
  });
}

/** Whole-site mirrors (our addition): a path prefix sent to full-copy mirrors or always to the origin. */
const siteRouteSchema = z
  .strictObject({
    prefix: routePath(routePrefixProblem),
    to: z.enum(['mirrors', 'origin']),
    mirrors: z.array(z.string().regex(MIRROR_ID, { message: 'must be a mirror id' })).optional(),
    targetPrefix: routePath(targetPrefixProblem).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.to === 'mirrors' && (r.mirrors === undefined || r.mirrors.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['mirrors'], message: 'list the ids of the mirrors that carry a full copy of the site' });
    }
    if (r.to === 'origin' && r.mirrors !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mirrors'], message: 'a route to the origin takes no mirrors' });
    }
  })
  .transform((r): SiteRoute => ({ prefix: r.prefix, to: r.to, mirrors: [...new Set(r.mirrors ?? [])], targetPrefix: r.targetPrefix ?? r.prefix }));

const siteRoutesSchema = z.array(siteRouteSchema).superRefine((routes, ctx) => {
  const seen = new Map<string, number>();
  routes.forEach((r, i) => {
    const first = seen.get(r.prefix);
    if (first === undefined) seen.set(r.prefix, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'prefix'], message: `duplicate prefix "${r.prefix}" (also routes.${first}.prefix)` });
  });
});

/** What one client (an IPv4 address, or an IPv6 network of `ipv6Prefix` bits) may cost us: our addition. */
const limitsSchema = z.strictObject({
  /** IPv6 clients are counted by network: a host gets a /64, so counting addresses would count nothing. */
  ipv6Prefix: z.int().min(32).max(128).default(64),
  apiPerMinute: z.int().min(1).default(300),
  offersPerHour: z.int().min(1).default(20),
  /** Offers waiting for staff, from everyone and from one network. */
  pendingOffers: z.int().min(1).default(500),
  pendingOffersPerNetwork: z.int().min(1).default(3),
  /** Wrong tokens (admin API, sign-in) one network may try per quarter hour. */
  authFailures: z.int().min(1).default(10),
});

/** Who may read /metrics (it shows every mirror's counts): our addition; both unset leaves it open. */
function metricsSchema(sc: SchemaContext) {
  return z.strictObject({
    token: z
      .string()
      .transform((raw, ctx) => {
        const resolved = resolveToken(raw, sc.env);
        if (!resolved.ok) {
          ctx.addIssue({ code: 'custom', message: resolved.message, input: '<secret>' });
          return z.NEVER;
        }
        return resolved.value;
      })
      .optional(),
    allowFrom: z.array(proxyRange).optional(),
  });
}

/** Folders whose leader files (a suite's Release, a repomd.xml) go to a mirror only with everything below them. */
const consistencyGroupsSchema = z.array(
  z.strictObject({
    folder: glob,
    leaders: z.array(z.string().regex(/^[^/\\\0]+$/, 'a leader is a file name in the folder, without "/"')).min(1, 'name at least one leader file'),
  }),
);

/** The whole config; the parsed result carries `file` (the config's absolute path) besides the YAML keys. */
export function configSchema(sc: SchemaContext) {
  return z
    .strictObject({
      // A loopback publicUrl (the demo's) follows the port we really listen on; see node.ts.
      publicUrl: baseUrl('strip'),
      port: z.int().min(0).max(65_535).optional(),
      // Created at startup, so it need not exist yet.
      dataDir: localPath(sc, 'none').prefault('./var'),
      store: storeUrl.default('memory'),
      trustedProxies: z.array(proxyRange).default(() => [...DEFAULT_TRUSTED_PROXIES]),
      // Either unset means the bundled DB-IP City Lite / ip-location-db ASN data; that default belongs to the geo adapter.
      geoip: z.strictObject({ city: localPath(sc, 'file').optional(), asn: localPath(sc, 'file').optional() }).prefault({}),
      tokens: z.array(tokenSchema(sc)).default(() => []),
      origin: z.strictObject({
        baseUrl: baseUrl('add'),
        manifest: localPath(sc, 'file').optional(),
        root: localPath(sc, 'dir').optional(),
        trace: tracePaths.default('TIME'),
      }),
      health: healthSchema.prefault({}),
      routing: routingSchema.prefault({}),
      consistencyGroups: consistencyGroupsSchema.default(() => DEFAULT_CONSISTENCY_RULES.map((r) => ({ folder: r.folder, leaders: [...r.leaders] }))),
      scan: scanSchema.prefault({}),
      mirrors: z.array(mirrorSchema(sc)).default(() => []),
      routes: siteRoutesSchema.default(() => []),
      limits: limitsSchema.prefault({}),
      metrics: metricsSchema(sc).prefault({}),
      // Explicit exceptions to the safety rules below (crossFieldProblems), for labs and tests.
      allowPrivateMirrorAddresses: z.boolean().default(false),
      allowFastProbes: z.boolean().default(false),
    })
    .transform((config) => ({ file: sc.file, ...config }));
}

export type Config = z.output<ReturnType<typeof configSchema>>;
export type MirrorConfig = z.output<ReturnType<typeof mirrorSchema>>;
export type TokenConfig = Config['tokens'][number];

// --- Cross-field rules -------------------------------------------------------------------------
// zod skips refinements on objects whose fields already failed, so these rules read the raw YAML
// value defensively; that way a config with a bad country still gets its duplicate ids reported.

type RawMap = Record<string, unknown>;

function asMap(value: unknown): RawMap | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as RawMap) : undefined;
}

function asList(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** Rules spanning several keys: duplicate ids, tokens and token names, token mirror references, lat/lon pairs, origin source, timeout < interval. */
export function crossFieldProblems(raw: unknown, sc: SchemaContext): Problem[] {
  const root = asMap(raw);
  if (!root) return [];
  const problems: Problem[] = [];
  const mirrors = asList(root.mirrors);

  const firstIndexOfId = new Map<string, number>();
  mirrors?.forEach((entry, i) => {
    const mirror = asMap(entry);
    if (!mirror) return;
    const id = mirror.id;
    if (typeof id === 'string') {
      const first = firstIndexOfId.get(id);
      if (first === undefined) firstIndexOfId.set(id, i);
      else problems.push({ path: ['mirrors', i, 'id'], message: `duplicate id "${id}" (also mirrors.${first}.id)` });
    }
    const half = halfPosition(mirror.lat, mirror.lon);
    if (half) problems.push({ path: ['mirrors', i, half.field], message: half.message });
  });

  asList(root.routes)?.forEach((entry, i) => {
    asList(asMap(entry)?.mirrors)?.forEach((id, j) => {
      if (typeof id === 'string' && !firstIndexOfId.has(id)) {
        problems.push({ path: ['routes', i, 'mirrors', j], message: `unknown mirror id "${id}"` });
      }
    });
  });

  const origin = asMap(root.origin);
  if (origin) {
    const hasManifest = origin.manifest !== undefined;
    const hasRoot = origin.root !== undefined;
    if (hasManifest && hasRoot) problems.push({ path: ['origin', 'root'], message: 'set either manifest or root, not both' });
    if (!hasManifest && !hasRoot) problems.push({ path: ['origin'], message: 'set one of manifest or root' });
  }

  problems.push(...footGuns(root));

  const health = asMap(root.health);
  if (health) {
    const interval = health.interval === undefined ? DEFAULT_HEALTH.intervalMs : parseDuration(health.interval);
    const timeout = health.timeout === undefined ? DEFAULT_HEALTH.timeoutMs : parseDuration(health.timeout);
    if (interval !== undefined && timeout !== undefined && timeout >= interval) {
      problems.push({
        path: ['health', health.timeout === undefined ? 'interval' : 'timeout'],
        message: `timeout (${ms(timeout)}) must be shorter than interval (${ms(interval)})`,
      });
    }
  }

  const firstIndexOfToken = new Map<string, number>();
  // A token's name is the actor in the audit log: two tokens of one name would make it say nothing.
  const tokenNames = new Set<string>();
  asList(root.tokens)?.forEach((entry, i) => {
    const token = asMap(entry);
    if (!token) return;
    if (typeof token.name === 'string' && token.name !== '') {
      if (tokenNames.has(token.name)) problems.push({ path: ['tokens', i, 'name'], message: `duplicate name ${JSON.stringify(token.name)}` });
      tokenNames.add(token.name);
    }
    if (typeof token.token === 'string') {
      const resolved = resolveToken(token.token, sc.env);
      if (resolved.ok) {
        const first = firstIndexOfToken.get(resolved.value);
        if (first === undefined) firstIndexOfToken.set(resolved.value, i);
        else problems.push({ path: ['tokens', i, 'token'], message: `duplicate token (also tokens.${first}.token)` });
      }
    }
    const listed = asList(token.mirrors);
    if (token.role === 'staff' && listed && listed.length > 0) {
      problems.push({ path: ['tokens', i, 'mirrors'], message: 'a staff token sees every mirror; do not list mirrors' });
    }
    if (token.role === 'edge' && listed && listed.length > 0) {
      problems.push({ path: ['tokens', i, 'mirrors'], message: 'an edge token reads the snapshot of every mirror; do not list mirrors' });
    }
    if (token.role === 'provider') {
      if (!listed || listed.length === 0) {
        if (token.mirrors === undefined || listed) {
          problems.push({ path: ['tokens', i, 'mirrors'], message: 'a provider token needs at least one mirror id' });
        }
      } else if (mirrors) {
        listed.forEach((id, j) => {
          if (typeof id === 'string' && !firstIndexOfId.has(id)) {
            problems.push({ path: ['tokens', i, 'mirrors', j], message: `unknown mirror id "${id}"` });
          }
        });
      }
    }
  });

  return problems;
}

/** Probes more often than this hammer every mirror (and its logs) for nothing. */
const MIN_PROBE_INTERVAL_MS = 1_000;

/**
 * Settings that parse but hurt: trusting every proxy, probing more than once a second, mirror URLs
 * aimed at this machine, link-local networks or cloud metadata services (unless allowed).
 */
function footGuns(root: RawMap): Problem[] {
  const problems: Problem[] = [];
  asList(root.trustedProxies)?.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    try {
      const [, bits] = ipaddr.isValidCIDR(entry) ? ipaddr.parseCIDR(entry) : [undefined, -1];
      if (bits === 0) {
        problems.push({
          path: ['trustedProxies', i],
          message: `${entry} trusts every address: any client could claim any address in X-Forwarded-For; list only your proxies`,
        });
      }
    } catch {
      // reported by the schema
    }
  });

  const health = asMap(root.health);
  if (health && health.enabled !== false && root.allowFastProbes !== true && health.interval !== undefined) {
    const interval = parseDuration(health.interval);
    if (interval !== undefined && interval < MIN_PROBE_INTERVAL_MS) {
      problems.push({
        path: ['health', 'interval'],
        message: `probing every ${ms(interval)} hammers every mirror; at least 1s (allowFastProbes: true for tests)`,
      });
    }
  }

  if (root[ALLOW_PRIVATE_KEY] !== true) {
    asList(root.mirrors)?.forEach((entry, i) => {
      const mirror = asMap(entry);
      if (!mirror) return;
      const content = asMap(mirror.content);
      const urls = fetchedUrls({
        baseUrl: typeof mirror.baseUrl === 'string' ? mirror.baseUrl : undefined,
        rsyncUrl: typeof mirror.rsyncUrl === 'string' ? mirror.rsyncUrl : undefined,
        content: { manifest: typeof content?.manifest === 'string' ? content.manifest : undefined },
      });
      for (const [field, url] of urls) {
        const message = privateAddressMessage(url);
        if (message) problems.push({ path: ['mirrors', i, ...field.split('.')], message });
      }
    });
  }
  return problems;
}
