// The shared store on Redis, so several instances agree on overrides, health, inventories, offers, stats and audit, and hear each other's changes.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions, ReplyError } from 'ioredis';
import { gzipInventory, readInventory } from './inventoryCodec.js';
import {
  type StatsDay,
  arrivalRecordSchema,
  auditEntrySchema,
  changeSchema,
  offerSchema,
  sessionRecordSchema,
  statsBatchSchema,
  storedLogoSchema,
  tokenRecordSchema,
} from './schemas.js';
import { downloadField, fileField, matchesAudit, summarizeStats } from './queries.js';
import {
  type AuditQuery,
  type Change,
  type SessionRecord,
  type StatsBatch,
  type TokenRecord,
  type StatsQuery,
  type StatsResult,
  type Store,
  type StoreStatus,
  StoreUnavailableError,
} from './store.js';
import { type ArrivalRecord, keptArrival } from '../core/arrivals.js';
import type { HitCount, HitDelta } from '../core/hitWindows.js';
import type { AuditEntry, InventoryRecord, MirrorOverride, Offer, StoredLogo } from '../core/records.js';
import type { HealthRecord } from '../core/model.js';
import { checkHealth, checkOverrides, isMirrorId } from './stateCheck.js';
import { type StoreLog, consoleStoreLog } from './storeLog.js';
import type { z } from 'zod';

export interface RedisStoreOptions {
  url: string;
  /** Every key and the change channel start with it, so deployments (and tests) can share a Redis. */
  prefix?: string;
  /** Accepted for parity with MemoryStore; Redis keeps its own time for lease TTLs and stream ids. */
  clock?: () => number;
  log?: StoreLog;
  /** How long connect() waits for Redis before giving up (default 10 s). */
  connectTimeoutMs?: number;
  /** A command unanswered this long counts as Redis lost (default 10 s; a big inventory takes a while). */
  commandTimeoutMs?: number;
  /** Largest piece of a stored inventory (default 16 MiB); tests lower it to exercise chunking. */
  inventoryChunkBytes?: number;
  /** TLS options for rediss:// (default: the URL's ca= file, else Node's trusted CAs). */
  tls?: ConnectionOptions;
  /** Download claims remembered per dedupe window (default 500,000; see claimOnce). */
  maxClaimsPerWindow?: number;
}

/**
 * A Redis URL as Mirrorgate reads it: what ioredis reads (user and password for AUTH or an ACL user,
 * host, port, /db) plus `prefix=` (the key prefix; default "mirrorgate:") and, for rediss:// (TLS),
 * `ca=` (a PEM file of the CA that signed the server's certificate, for a private CA). Those two are
 * taken out before ioredis sees the URL, whose scheme is lower-cased (ioredis turns TLS on only for
 * a lower-case "rediss://").
 */
export function readRedisUrl(text: string): { url: string; db: number; prefix?: string; tls?: ConnectionOptions } {
  const url = new URL(text);
  const scheme = url.protocol.toLowerCase();
  const prefix = url.searchParams.get('prefix') ?? undefined;
  const ca = url.searchParams.get('ca') ?? undefined;
  url.searchParams.delete('prefix');
  url.searchParams.delete('ca');
  const db = Number(url.searchParams.get('db') ?? (url.pathname.length > 1 ? url.pathname.slice(1) : 0));
  let tls: ConnectionOptions | undefined;
  if (scheme === 'rediss:') {
    tls = {};
    if (ca) {
      try {
        tls.ca = readFileSync(ca);
      } catch (err) {
        throw new StoreUnavailableError(`Redis URL ca=${ca}: cannot read the CA file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
  }
  const rest = url.href.slice(url.protocol.length);
  return { url: `${scheme}${rest}`, db: Number.isInteger(db) && db >= 0 ? db : 0, ...(prefix !== undefined && { prefix }), ...(tls && { tls }) };
}

// Inventories are split into hash fields of at most this size: Redis caps one value at 512 MB and
// huge single values stall the server, while chunks keep every scan one atomic MULTI.
const DEFAULT_INVENTORY_CHUNK_BYTES = 16 * 1024 * 1024;
// Origin arrivals are noted this many at a time (one HMGET and one MULTI each).
const ARRIVALS_CHUNK = 500;
// Audit is read newest-first in pages of this many stream entries.
const AUDIT_PAGE = 500;

// Extends a lease only for its current holder; takes it when free. One script, so check and set are atomic.
const LEASE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

// Counts a hit in the key's window: the window starts (PEXPIRE) with its first hit; reading (0) or taking
// a hit back (-1) from a window that has ended changes nothing. Answers the count and the milliseconds left.
const HIT_SCRIPT = `
local delta = tonumber(ARGV[1])
if delta <= 0 and redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local n = redis.call('INCRBY', KEYS[1], delta)
if n < 0 then
  redis.call('INCRBY', KEYS[1], -n)
  n = 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {n, ttl}
`;

// Claims each key not yet claimed (SET NX PX) while the window's counter is under the cap; past it,
// answers "first" without remembering. One script: one round trip, and the count stays exact.
const CLAIM_SCRIPT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local cap = tonumber(ARGV[2])
local out = {}
for i = 2, #KEYS do
  if n >= cap then
    out[#out + 1] = 1
  elseif redis.call('SET', KEYS[i], '1', 'PX', ARGV[1], 'NX') then
    out[#out + 1] = 1
    n = n + 1
  else
    out[#out + 1] = 0
  end
end
redis.call('SET', KEYS[1], n, 'PX', tonumber(ARGV[1]) * 2)
return out
`;

/** The URL with its password masked, safe for logs and status details. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** Key layout: every key, and the change channel, under one prefix. */
function keyLayout(prefix: string, db: number) {
  return {
    claimCount: (window: number): string => `${prefix}claims:${window}`,
    overrides: `${prefix}overrides`,
    health: `${prefix}health`,
    offers: `${prefix}offers`,
    inventories: `${prefix}inventories`,
    statsDays: `${prefix}stats:days`,
    audit: `${prefix}audit`,
    // Pub/sub channels belong to the server, not to a database: the channel names the db as well, so two
    // networks on one Redis (other dbs, or other prefixes) never hear each other's changes.
    changes: `${prefix}changes:db${db}`,
    tokens: `${prefix}tokens`,
    logos: `${prefix}logos`,
    arrivals: `${prefix}arrivals`,
    epoch: `${prefix}epoch`,
    session: (key: string): string => `${prefix}session:${key}`,
    inventory: (mirror: string): string => `${prefix}inv:${mirror}`,
    downloads: (day: string): string => `${prefix}stats:dl:${day}`,
    bytes: (day: string): string => `${prefix}stats:bytes:${day}`,
    files: (day: string): string => `${prefix}stats:files:${day}`,
    impressions: (day: string): string => `${prefix}stats:imp:${day}`,
    lease: (name: string): string => `${prefix}lease:${name}`,
    claim: (key: string): string => `${prefix}claim:${key}`,
    hits: (key: string): string => `${prefix}hits:${key}`,
  };
}

type ExecResult = [error: Error | null, result: unknown][] | null;

export class RedisStore implements Store {
  readonly kind = 'redis' as const;

  private readonly keys: ReturnType<typeof keyLayout>;
  private readonly log: StoreLog;
  private readonly safeUrl: string;
  private readonly inventoryChunkBytes: number;
  private readonly maxClaimsPerWindow: number;
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly statusListeners = new Set<(status: StoreStatus) => void>();
  private commandReady = false;
  private subscribed = false;
  private available = false;
  private everAvailable = false;
  private lastProblem: string | undefined;
  private closed = false;

  private constructor(
    /** Commands; fails fast while disconnected instead of queueing. */
    private readonly command: Redis,
    /** Subscribed to the change channel; apart, so change delivery never queues behind a big write. */
    private readonly subscriber: Redis,
    options: RedisStoreOptions & { db: number },
  ) {
    this.keys = keyLayout(options.prefix ?? 'mirrorgate:', options.db);
    this.log = options.log ?? consoleStoreLog;
    this.safeUrl = redactRedisUrl(options.url);
    this.inventoryChunkBytes = options.inventoryChunkBytes ?? DEFAULT_INVENTORY_CHUNK_BYTES;
    this.maxClaimsPerWindow = options.maxClaimsPerWindow ?? 500_000;
    this.watch();
  }

  /** Connects both connections and subscribes; rejects with StoreUnavailableError if Redis stays unreachable. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const read = readRedisUrl(options.url);
    const tls = options.tls ?? read.tls;
    const common: RedisOptions = {
      // Keep trying forever, at least once a second: an outage ends when Redis is back, not when we give up.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      connectTimeout: 2_000,
      lazyConnect: true,
      ...(tls && { tls }),
    };
    const command = new Redis(read.url, {
      ...common,
      enableOfflineQueue: false,
      // A command cut off by a disconnect fails at once (0: flushed on the first close) and is never
      // replayed behind the caller's back (a replayed HINCRBY would count twice). With 1 and no resend,
      // a reconnect on the first try would leave it hanging until commandTimeout.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 10_000,
    });
    const subscriber = new Redis(read.url, {
      ...common,
      // We subscribe on every 'ready' ourselves, so availability is reported only once subscribed again.
      autoResubscribe: false,
      maxRetriesPerRequest: null,
    });
    const store = new RedisStore(command, subscriber, { ...options, prefix: options.prefix ?? read.prefix, db: read.db });
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        unlisten();
        reject(new StoreUnavailableError(`Redis at ${store.safeUrl} not reachable within ${timeoutMs} ms${store.lastProblem ? `: ${store.lastProblem}` : ''}`));
      }, timeoutMs);
      const unlisten = store.onStatus((status) => {
        if (!status.available) return;
        clearTimeout(timer);
        unlisten();
        resolve();
      });
    });
    command.connect().catch(() => undefined); // failures surface as events and keep retrying
    subscriber.connect().catch(() => undefined);
    try {
      await ready;
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  // ---- availability ----

  private watch(): void {
    const lost = (which: string) => (): void => {
      if (which === 'command') this.commandReady = false;
      else this.subscribed = false;
      this.updateStatus();
    };
    const problem = (err: Error): void => {
      // ioredis error texts name host and port, never the password.
      this.lastProblem = err.message;
    };
    this.command.on('ready', () => {
      this.commandReady = true;
      this.updateStatus();
    });
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(this.keys.changes).then(
        () => {
          this.subscribed = true;
          this.updateStatus();
        },
        (err: Error) => problem(err), // the connection drops and the next 'ready' tries again
      );
    });
    for (const event of ['close', 'end', 'reconnecting']) {
      this.command.on(event, lost('command'));
      this.subscriber.on(event, lost('subscriber'));
    }
    this.command.on('error', problem);
    this.subscriber.on('error', problem);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.changes) this.deliver(message);
    });
  }

  private updateStatus(): void {
    const available = this.commandReady && this.subscribed;
    if (available === this.available || this.closed) return;
    this.available = available;
    if (available) this.lastProblem = undefined;
    const status = this.status();
    // The first connect is not news; losing Redis and getting it back are.
    if (!available) this.log.warn({ store: this.safeUrl, detail: status.detail }, 'Redis store unavailable');
    else if (this.everAvailable) this.log.warn({ store: this.safeUrl }, 'Redis store available again');
    this.everAvailable ||= available;
    for (const listener of [...this.statusListeners]) {
      try {
        listener(status);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'store status listener failed');
      }
    }
  }

  status(): StoreStatus {
    if (this.available) return { available: true };
    return { available: false, detail: `Redis at ${this.safeUrl} unreachable${this.lastProblem ? `: ${this.lastProblem}` : ''}` };
  }

  onStatus(listener: (status: StoreStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  }

  /**
   * Runs commands only while Redis is available; a connection failure (as opposed to a Redis reply
   * error) becomes StoreUnavailableError, so callers answer 503 and keep their last snapshot.
   */
  private async run<T>(commands: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    if (!this.available) throw new StoreUnavailableError(this.status().detail);
    try {
      return await commands(this.command);
    } catch (err) {
      if (err instanceof ReplyError) throw err;
      throw new StoreUnavailableError(`Redis at ${this.safeUrl}: ${(err as Error).message}`);
    }
  }

  /** Runs a MULTI and surfaces the first failed command. */
  private async exec(build: (redis: Redis) => ReturnType<Redis['multi']>): Promise<unknown[]> {
    const results: ExecResult = await this.run((redis) => build(redis).exec());
    if (results === null) throw new StoreUnavailableError('Redis transaction aborted');
    return results.map(([error, result]) => {
      if (error) throw error;
      return result;
    });
  }

  /** Parses stored JSON values; a bad one is reported and skipped, not allowed to hide the rest. */
  private parseValues<T>(what: string, values: Record<string, string>, schema: z.ZodType<T>): Map<string, T> {
    const parsed = new Map<string, T>();
    for (const [field, text] of Object.entries(values)) {
      const value = this.parseValue(what, field, text, schema);
      if (value !== undefined) parsed.set(field, value);
    }
    return parsed;
  }

  private parseValue<T>(what: string, field: string, text: string, schema: z.ZodType<T>): T | undefined {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.error({ key: what, field }, 'unreadable value in Redis skipped: not JSON');
      return undefined;
    }
    const result = schema.safeParse(json);
    if (result.success) return result.data;
    this.log.error({ key: what, field, reason: result.error.message }, 'invalid value in Redis skipped');
    return undefined;
  }

  // ---- overrides, health, offers: one hash each, a JSON value per field ----

  /** Each checked with the API's rules: a bad value leaves its mirror unconfirmed (no downloads), never back to its config state. */
  async getOverrides(): Promise<Map<string, MirrorOverride>> {
    const values = await this.run((redis) => redis.hgetall(this.keys.overrides));
    return checkOverrides(
      Object.entries(values).map(([mirror, text]) => [mirror, parseJson(text)]),
      this.log,
      this.keys.overrides,
    );
  }

  async putOverride(mirror: string, override: MirrorOverride | null): Promise<void> {
    await this.run((redis) =>
      override === null ? redis.hdel(this.keys.overrides, mirror) : redis.hset(this.keys.overrides, mirror, JSON.stringify(override)),
    );
  }

  /** A bad record reads as down until the next probe: unknown health is no reason to send downloads. */
  async getHealth(): Promise<Map<string, HealthRecord>> {
    const values = await this.run((redis) => redis.hgetall(this.keys.health));
    const out = new Map<string, HealthRecord>();
    for (const [mirror, text] of Object.entries(values)) {
      if (!isMirrorId(mirror)) continue;
      const { value, reason } = checkHealth(parseJson(text));
      if (reason) this.log.error({ key: this.keys.health, field: mirror }, reason);
      out.set(mirror, value);
    }
    return out;
  }

  async putHealth(mirror: string, record: HealthRecord): Promise<void> {
    await this.run((redis) => redis.hset(this.keys.health, mirror, JSON.stringify(record)));
  }

  async getOffers(): Promise<Offer[]> {
    const values = await this.run((redis) => redis.hgetall(this.keys.offers));
    return [...this.parseValues(this.keys.offers, values, offerSchema).values()].sort(
      (a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  async getOffer(id: string): Promise<Offer | undefined> {
    const text = await this.run((redis) => redis.hget(this.keys.offers, id));
    return text === null ? undefined : this.parseValue(this.keys.offers, id, text, offerSchema);
  }

  async putOffer(offer: Offer): Promise<void> {
    await this.run((redis) => redis.hset(this.keys.offers, offer.id, JSON.stringify(offer)));
  }

  // ---- inventories: hash `inv:<mirror>` with `chunks` and gzip'd JSONL pieces c0, c1, … ----

  async getInventory(mirror: string): Promise<InventoryRecord | undefined> {
    const key = this.keys.inventory(mirror);
    // One HGETALL, so a concurrent replacement is seen whole or not at all.
    const fields = await this.run((redis) => redis.hgetallBuffer(key));
    const chunkCount = Number(fields['chunks']?.toString());
    if (!Number.isInteger(chunkCount) || chunkCount < 0) {
      if (Object.keys(fields).length > 0) this.log.error({ key }, 'stored inventory without a chunk count skipped');
      return undefined;
    }
    const chunks: Buffer[] = [];
    for (let i = 0; i < chunkCount; i++) {
      const chunk = fields[`c${i}`];
      if (chunk === undefined) {
        this.log.error({ key, missing: `c${i}` }, 'stored inventory incomplete; skipped');
        return undefined;
      }
      chunks.push(chunk);
    }
    try {
      return await readInventory(Readable.from(chunks));
    } catch (err) {
      this.log.error({ key, reason: (err as Error).message }, 'stored inventory unreadable; skipped');
      return undefined;
    }
  }

  async putInventory(mirror: string, record: InventoryRecord): Promise<void> {
    const chunks = await gzipChunks(gzipInventory(record), this.inventoryChunkBytes);
    const fields: (string | Buffer)[] = ['chunks', String(chunks.length)];
    chunks.forEach((chunk, i) => fields.push(`c${i}`, chunk));
    const key = this.keys.inventory(mirror);
    await this.exec((redis) =>
      redis
        .multi()
        .del(key)
        .hset(key, ...fields)
        .sadd(this.keys.inventories, mirror),
    );
  }

  async deleteInventory(mirror: string): Promise<void> {
    await this.exec((redis) => redis.multi().del(this.keys.inventory(mirror)).srem(this.keys.inventories, mirror));
  }

  async listInventories(): Promise<string[]> {
    return (await this.run((redis) => redis.smembers(this.keys.inventories))).sort();
  }

  // ---- stats: counters per day, HINCRBY'd in one MULTI per batch ----

  async addStats(batch: StatsBatch): Promise<void> {
    const valid = statsBatchSchema.parse(batch);
    const days = new Set<string>();
    await this.exec((redis) => {
      const multi = redis.multi();
      for (const row of valid.downloads) {
        const field = downloadField(row.mirror, row.country);
        multi.hincrby(this.keys.downloads(row.day), field, row.count);
        multi.hincrby(this.keys.bytes(row.day), field, row.bytes);
        days.add(row.day);
      }
      for (const row of valid.files) {
        multi.hincrby(this.keys.files(row.day), fileField(row.mirror, row.path), row.count);
        days.add(row.day);
      }
      for (const row of valid.impressions) {
        multi.hincrby(this.keys.impressions(row.day), row.mirror, row.count);
        days.add(row.day);
      }
      // Every day scored 0: ZRANGE BYLEX then picks a day range the way ISO strings compare.
      for (const day of days) multi.zadd(this.keys.statsDays, 0, day);
      return multi;
    });
  }

  async queryStats(query: StatsQuery): Promise<StatsResult> {
    if (query.from > query.to) return summarizeStats([], query);
    const days = await this.run((redis) => redis.zrangebylex(this.keys.statsDays, `[${query.from}`, `[${query.to}`));
    if (days.length === 0) return summarizeStats([], query);
    const results = await this.run((redis) => {
      const pipeline = redis.pipeline();
      for (const day of days) {
        pipeline.hgetall(this.keys.downloads(day));
        pipeline.hgetall(this.keys.bytes(day));
        pipeline.hgetall(this.keys.files(day));
        pipeline.hgetall(this.keys.impressions(day));
      }
      return pipeline.exec();
    });
    const hashes = (results ?? []).map(([error, result]) => {
      if (error) throw error;
      return result as Record<string, string>;
    });
    const stats: [string, StatsDay][] = days.map((day, i) => {
      const [counts = {}, bytes = {}, files = {}, impressions = {}] = hashes.slice(i * 4, i * 4 + 4);
      const downloads: StatsDay['downloads'] = {};
      for (const [field, count] of Object.entries(counts)) downloads[field] = [Number(count), Number(bytes[field] ?? 0)];
      return [day, { downloads, files: numbers(files), impressions: numbers(impressions) }];
    });
    return summarizeStats(stats, query);
  }

  // ---- audit: a stream, only ever XADDed to, never trimmed ----

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.run((redis) => redis.xadd(this.keys.audit, '*', 'entry', JSON.stringify(entry)));
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    // Filters apply to `at` (the writer's clock), which the stream ids (Redis's clock) need not follow,
    // so pages are read newest-first and filtered here.
    let end = '+';
    while (found.length < limit) {
      const page = await this.run((redis) => redis.xrevrange(this.keys.audit, end, '-', 'COUNT', AUDIT_PAGE));
      for (const [id, fields] of page) {
        const text = fields[fields.indexOf('entry') + 1];
        const entry = text === undefined ? undefined : this.parseValue(this.keys.audit, id, text, auditEntrySchema);
        if (entry !== undefined && matchesAudit(entry, query)) {
          found.push(entry);
          if (found.length >= limit) break;
        }
      }
      const last = page[page.length - 1];
      if (page.length < AUDIT_PAGE || last === undefined) break;
      end = `(${last[0]}`;
    }
    return found;
  }

  /**
   * Rewrites the stream with the missing entries in time order, under WATCH: an entry appended
   * meanwhile (by any instance) aborts the rewrite, which then starts again with it included.
   */
  async mergeAudit(entries: readonly AuditEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const added = await this.run(async (redis) => {
        await redis.watch(this.keys.audit);
        try {
          const existing: AuditEntry[] = [];
          for (const [id, fields] of await redis.xrange(this.keys.audit, '-', '+')) {
            const text = fields[fields.indexOf('entry') + 1];
            const entry = text === undefined ? undefined : this.parseValue(this.keys.audit, id, text, auditEntrySchema);
            if (entry !== undefined) existing.push(entry);
          }
          const known = new Set(existing.map((e) => e.id));
          const missing: AuditEntry[] = [];
          for (const entry of entries) {
            if (known.has(entry.id)) continue;
            known.add(entry.id);
            missing.push(entry);
          }
          if (missing.length === 0) {
            await redis.unwatch();
            return 0;
          }
          const merged = [...existing, ...missing].sort((a, b) => a.at - b.at);
          const multi = redis.multi().del(this.keys.audit);
          for (const entry of merged) multi.xadd(this.keys.audit, '*', 'entry', JSON.stringify(entry));
          const done = await multi.exec();
          return done === null ? undefined : missing.length;
        } catch (err) {
          await redis.unwatch().catch(() => undefined);
          throw err;
        }
      });
      if (added !== undefined) return added;
    }
    throw new StoreUnavailableError('the audit log kept changing while it was being restored; try again');
  }

  // ---- origin arrivals: one hash, path -> record ----

  /** Under WATCH, a chunk at a time: a sighting noted meanwhile by another instance makes the chunk start again with it. */
  async noteArrivals(records: readonly ArrivalRecord[]): Promise<ArrivalRecord[]> {
    const out: ArrivalRecord[] = [];
    for (let from = 0; from < records.length; from += ARRIVALS_CHUNK) {
      const chunk = records.slice(from, from + ARRIVALS_CHUNK);
      let kept: ArrivalRecord[] | undefined;
      for (let attempt = 0; attempt < 10 && kept === undefined; attempt++) kept = await this.noteArrivalChunk(chunk);
      if (kept === undefined) throw new StoreUnavailableError('origin arrivals kept changing while being noted; try again');
      out.push(...kept);
    }
    return out;
  }

  private noteArrivalChunk(chunk: readonly ArrivalRecord[]): Promise<ArrivalRecord[] | undefined> {
    return this.run(async (redis) => {
      await redis.watch(this.keys.arrivals);
      try {
        const texts = await redis.hmget(this.keys.arrivals, ...chunk.map((r) => r.path));
        const kept = chunk.map((r, i) => {
          const text = texts[i];
          return keptArrival(text ? this.parseValue(this.keys.arrivals, r.path, text, arrivalRecordSchema) : undefined, r);
        });
        const multi = redis.multi();
        kept.forEach((k, i) => {
          if (k === chunk[i]) multi.hset(this.keys.arrivals, k.path, JSON.stringify(k));
        });
        return (await multi.exec()) === null ? undefined : kept;
      } catch (err) {
        await redis.unwatch().catch(() => undefined);
        throw err;
      }
    });
  }

  async getArrivals(forgetBefore: number): Promise<ArrivalRecord[]> {
    const values = await this.run((redis) => redis.hgetall(this.keys.arrivals));
    const kept: ArrivalRecord[] = [];
    const old: string[] = [];
    for (const [path, r] of this.parseValues(this.keys.arrivals, values, arrivalRecordSchema)) {
      if (r.at >= forgetBefore) kept.push(r);
      else old.push(path);
    }
    if (old.length > 0) await this.run((redis) => redis.hdel(this.keys.arrivals, ...old));
    return kept;
  }

  // ---- tokens and logos: one hash each; sessions: a key each, expiring with the session ----

  async getTokens(): Promise<TokenRecord[]> {
    const values = await this.run((redis) => redis.hgetall(this.keys.tokens));
    return [...this.parseValues(this.keys.tokens, values, tokenRecordSchema).values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.run((redis) => redis.hset(this.keys.tokens, token.id, JSON.stringify(token)));
  }

  async getSession(key: string): Promise<SessionRecord | undefined> {
    const text = await this.run((redis) => redis.get(this.keys.session(key)));
    if (text === null) return undefined;
    const session = this.parseValue(this.keys.session('…'), 'value', text, sessionRecordSchema);
    return session !== undefined && session.expiresAt > Date.now() ? session : undefined;
  }

  async putSession(key: string, session: SessionRecord | null): Promise<void> {
    const redisKey = this.keys.session(key);
    if (session === null) {
      await this.run((redis) => redis.del(redisKey));
      return;
    }
    const ttl = Math.max(1, Math.round(session.expiresAt - Date.now()));
    await this.run((redis) => redis.set(redisKey, JSON.stringify(session), 'PX', ttl));
  }

  async getLogos(): Promise<Map<string, StoredLogo>> {
    const values = await this.run((redis) => redis.hgetall(this.keys.logos));
    return this.parseValues(this.keys.logos, values, storedLogoSchema);
  }

  async putLogo(mirror: string, logo: StoredLogo | null): Promise<void> {
    await this.run((redis) => (logo === null ? redis.hdel(this.keys.logos, mirror) : redis.hset(this.keys.logos, mirror, JSON.stringify(logo))));
  }

  /** Created with the data (SET NX): after a FLUSHALL or a restart without persistence it is a new one. */
  async epoch(): Promise<string> {
    const [, current] = await this.exec((redis) => redis.multi().set(this.keys.epoch, randomUUID(), 'NX').get(this.keys.epoch));
    return String(current);
  }

  // ---- changes: PUBLISH on one channel; every instance's subscriber (ours too) hears each once ----

  async publish(change: Change): Promise<void> {
    await this.run((redis) => redis.publish(this.keys.changes, JSON.stringify(change)));
  }

  subscribe(listener: (change: Change) => void): () => void {
    const entry = (change: Change): void => listener(change);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private deliver(message: string): void {
    const change = this.parseValue(this.keys.changes, 'message', message, changeSchema);
    if (change === undefined) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(structuredClone(change));
      } catch (err) {
        this.log.error({ change, err: (err as Error).message }, 'change listener failed');
      }
    }
  }

  // ---- leases ----

  /**
   * At most `maxClaimsPerWindow` claims are remembered per window (a counter per window, so Redis
   * holds at most two windows' worth): past that, a key counts as first without being remembered, so
   * a flood of distinct clients costs bounded memory (its repeats may count twice, never zero times).
   */
  async claimOnce(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const px = Math.max(1, Math.round(ttlMs));
    const counter = this.keys.claimCount(Math.floor(Date.now() / px));
    const replies = await this.run((redis) =>
      redis.eval(CLAIM_SCRIPT, keys.length + 1, counter, ...keys.map((k) => this.keys.claim(k)), px, this.maxClaimsPerWindow),
    );
    return (replies as number[]).map((r) => r === 1);
  }

  async countHit(key: string, windowMs: number, delta: HitDelta): Promise<HitCount> {
    const [hits, ttl] = (await this.run((redis) => redis.eval(HIT_SCRIPT, 1, this.keys.hits(key), Math.trunc(delta), Math.max(1, Math.round(windowMs))))) as [
      number,
      number,
    ];
    return { hits, resetAtMs: Date.now() + ttl };
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const granted = await this.run((redis) => redis.eval(LEASE_SCRIPT, 1, this.keys.lease(name), holder, Math.max(1, Math.round(ttlMs))));
    return granted === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.available = false;
    this.listeners.clear();
    this.statusListeners.clear();
    await Promise.all([quitOrDrop(this.command), quitOrDrop(this.subscriber)]);
  }
}

async function quitOrDrop(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: the connection went away while quitting
    }
  }
  redis.disconnect();
}

/** JSON, or undefined for text that is not (the schema then names the problem). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function numbers(hash: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) out[field] = Number(value);
  return out;
}

/** Collects a stream's bytes into buffers of at most `size` bytes each. */
async function gzipChunks(source: Readable, size: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const data of source as AsyncIterable<Buffer>) {
    let rest = data;
    while (rest.length > 0) {
      const take = Math.min(rest.length, size - pendingBytes);
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      if (pendingBytes === size) {
        chunks.push(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) chunks.push(Buffer.concat(pending));
  return chunks;
}
