// Helpers for the staff and provider API tests: a JSON client for /admin/v1 and /api/v1, extra
// Mirrorgate servers on a chosen dataDir or Redis database (for restarts and multi-instance tests),
// and a probe for the local Redis. Builds on test/support/network.ts, which it does not change.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { serve, type RunningServer } from '../../src/node.js';
import { CLIENT_IPS, type ClientIpKey } from './clientIps.js';
import { encodePath, FILES, freePort, PROVIDER_TOKEN, STAFF_TOKEN, type FileKey, type MirrorNetwork, type RawConfig } from './network.js';
import { sleep, waitFor } from './wait.js';

export { sleep };

export { PROVIDER_TOKEN, STAFF_TOKEN };

/** A token the fixture config does not grant. */
export const WRONG_TOKEN = 'not-a-token-anyone-was-given';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface CallOptions {
  /** Bearer token to send; omit for none. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (overrides body), with Content-Type application/json unless headers say otherwise. */
  raw?: string;
  headers?: Record<string, string>;
}

/** One request against a Mirrorgate base URL; never follows redirects. */
export async function call(base: string, method: string, target: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(`${base}${target}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Bound to one server and (optionally) one token. */
export function client(base: string, token?: string) {
  const withToken = (opts: CallOptions = {}): CallOptions => (token === undefined || 'token' in opts ? opts : { ...opts, token });
  return {
    get: (target: string, opts?: CallOptions) => call(base, 'GET', target, withToken(opts)),
    post: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'POST', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    patch: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'PATCH', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    put: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'PUT', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    delete: (target: string, opts?: CallOptions) => call(base, 'DELETE', target, withToken(opts)),
  };
}
export type Client = ReturnType<typeof client>;

// ---------------------------------------------------------------------------------------------
// Downloads

export function xff(who: ClientIpKey | string): Record<string, string> {
  const ip = who in CLIENT_IPS ? CLIENT_IPS[who as ClientIpKey].ip : who;
  return { 'X-Forwarded-For': ip };
}

export function downloadTarget(key: FileKey | string, query = ''): string {
  const p = key in FILES ? FILES[key as FileKey] : key;
  return `/download/${encodePath(p)}${query}`;
}

/**
 * The mirror a tool would be sent to, without counting a download (HEAD is only a look):
 * X-Mirrorgate-Mirror of a HEAD with Accept: *\/*.
 */
export async function lookChoice(base: string, who: ClientIpKey | string, key: FileKey | string = 'readme'): Promise<string> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { method: 'HEAD', headers: { Accept: '*/*', ...xff(who) }, redirect: 'manual' });
  if (res.status !== 302) throw new Error(`HEAD ${downloadTarget(key)} answered ${res.status}`);
  return res.headers.get('x-mirrorgate-mirror') ?? '(none)';
}

/** A real (counted) download by a tool: GET, Accept without text/html, → 302. */
export async function toolDownload(
  base: string,
  who: ClientIpKey | string,
  key: FileKey | string,
  extra: Record<string, string> = {},
): Promise<{ status: number; mirror: string | null; location: string | null }> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { headers: { Accept: '*/*', ...xff(who), ...extra }, redirect: 'manual' });
  await res.arrayBuffer();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror'), location: res.headers.get('location') };
}

/** A browser download: the interstitial page (a download and, with a sponsor, a logo impression). */
export async function browserDownload(base: string, who: ClientIpKey | string, key: FileKey | string): Promise<{ status: number; mirror: string | null }> {
  const res = await fetch(`${base}${downloadTarget(key)}`, {
    headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...xff(who) },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror') };
}

/** Polls until `check` holds or `timeoutMs` passes; returns the elapsed ms, or undefined on timeout. */
/** waitFor with the timeout first (the admin tests' spelling). */
export function pollUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number | undefined> {
  return waitFor(check, { timeoutMs, everyMs });
}

// ---------------------------------------------------------------------------------------------
// Extra servers

export interface ExtraServerOptions {
  /** Where the memory store persists; reuse it to restart "the same" server. */
  dataDir: string;
  /** Passed to serve() as its whole env (e.g. { REDIS_URL }). */
  env?: Record<string, string>;
  mutate?: (config: RawConfig) => void;
}

/**
 * Starts Mirrorgate servers in front of a network's mirrors with a dataDir (and env) of the
 * test's choosing, so a test can stop one and start it again on the same state. Close the
 * pool before the network (the network removes the folder the servers write to).
 */
export class ServerPool {
  private readonly running = new Set<RunningServer>();
  private n = 0;

  constructor(private readonly net: MirrorNetwork) {}

  dataDir(name: string): string {
    return path.join(this.net.dir, `admin-${name}`);
  }

  async start(opts: ExtraServerOptions): Promise<RunningServer> {
    const port = await freePort();
    const config = this.net.rawConfig();
    config.publicUrl = `http://127.0.0.1:${port}`;
    config.dataDir = opts.dataDir;
    opts.mutate?.(config);
    await mkdir(opts.dataDir, { recursive: true });
    const file = path.join(this.net.dir, `admin-${this.n++}.yaml`);
    await writeFile(file, stringify(config));
    const server = await serve({ configPath: file, port, hostname: '127.0.0.1', logLevel: 'silent', env: opts.env ?? {} });
    this.running.add(server);
    return server;
  }

  /** Stops one server: in-flight requests finish, stats are flushed, the store is closed. */
  async stop(server: RunningServer): Promise<void> {
    if (!this.running.delete(server)) return;
    await server.close();
  }

  async closeAll(): Promise<void> {
    for (const s of [...this.running]) await this.stop(s).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

export function redisUrl(db: number): string {
  return `redis://127.0.0.1:6379/${db}`;
}

/** Undefined when Redis answers PING on 127.0.0.1:6379; else why not. */
export async function redisProblem(db: number): Promise<string | undefined> {
  const redis = new Redis(redisUrl(db), { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (err) {
    return `Redis on 127.0.0.1:6379 not reachable: ${(err as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

/** Empties one Redis database (tests use a dedicated one each). */
export async function flushRedis(db: number): Promise<void> {
  const redis = new Redis(redisUrl(db), { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/**
 * Whether a Redis-backed suite should be skipped: only when Redis is unreachable and this is not
 * CI (there, an unreachable Redis must fail the run). Prints the reason when it skips.
 */
export async function skipWithoutRedis(db: number, suite: string): Promise<boolean> {
  const problem = await redisProblem(db);
  if (problem === undefined) return false;
  if (process.env.CI === 'true') return false;
  console.warn(`[${suite}] skipped: ${problem}`);
  return true;
}
