// The embedded store: all state in memory, persisted under dataDir with crash-safe writes so a restart loses nothing.
import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { type FileHandle, access, link, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { InventoryFormatError, gzipInventory, readInventory } from './inventoryCodec.js';
import {
  type StatsDay,
  arrivalsFileSchema,
  auditEntrySchema,
  healthFileSchema,
  logosFileSchema,
  offerSchema,
  offersFileSchema,
  overridesFileSchema,
  sessionsFileSchema,
  statsBatchSchema,
  statsFileSchema,
  tokensFileSchema,
} from './schemas.js';
import { addBatch, matchesAudit, summarizeStats } from './queries.js';
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
import { FirstSightings } from '../core/firstSightings.js';
import { HitWindows, type HitCount, type HitDelta } from '../core/hitWindows.js';
import type { AuditEntry, InventoryRecord, MirrorOverride, Offer, StoredLogo } from '../core/records.js';
import type { HealthRecord } from '../core/model.js';
import { checkOverrides, isMirrorId, overridesFromAudit } from './stateCheck.js';
import { type StoreLog, consoleStoreLog } from './storeLog.js';

export interface MemoryStoreOptions {
  /** State goes to `<dataDir>/state/`. */
  dataDir: string;
  clock?: () => number;
  log?: StoreLog;
  /** How long snapshot-file writes wait to gather changes (default 200 ms). */
  flushDelayMs?: number;
  /**
   * Hold `<dataDir>/mirrorgate.lock` while open, so a second instance on the same dataDir refuses to start
   * instead of silently losing the first one's writes (openStore sets it; a cluster's workers reach the
   * primary's store over IPC and never open one).
   */
  lockDataDir?: boolean;
}

/** The snapshot files, rewritten whole (debounced) on change. */
type SnapshotKind = 'overrides' | 'health' | 'offers' | 'stats' | 'tokens' | 'sessions' | 'logos' | 'arrivals';

const SNAPSHOT_FILES: Record<SnapshotKind, string> = {
  overrides: 'overrides.json',
  health: 'health.json',
  offers: 'offers.json',
  stats: 'stats.json',
  tokens: 'tokens.json',
  sessions: 'sessions.json',
  logos: 'logos.json',
  arrivals: 'arrivals.json',
};
const AUDIT_FILE = 'audit.jsonl';
const OFFERS_LOG = 'offers.jsonl';
/** Download claims remembered at most (a flood of distinct clients costs bounded memory; the oldest go first). */
const MAX_CLAIMS = 500_000;
const INVENTORY_DIR = 'inventories';
const INVENTORY_SUFFIX = '.jsonl.gz';
const TEMP_MARK = '.tmp-';
// After a failed snapshot write (disk full, permissions) retry at this pace rather than every debounce.
const RETRY_DELAY_MS = 5_000;

const inventoryFileName = (mirror: string): string => encodeURIComponent(mirror) + INVENTORY_SUFFIX;

function decodeFileName(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** A file-system-safe stamp for files set aside, e.g. 2024-05-01T12-00-00-000Z. */
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[:.]/g, '-');

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable; some platforms cannot fsync a directory, which is fine there.
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}

/** Write temp, fsync, rename over, fsync the directory: readers see the old file or the new, never half. */
async function writeFileAtomic(dir: string, name: string, data: string | Readable): Promise<void> {
  const target = join(dir, name);
  const temp = join(dir, `${name}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(temp, 'w', FILE_MODE);
    try {
      if (typeof data === 'string') await handle.writeFile(data, 'utf8');
      else for await (const chunk of data as AsyncIterable<Buffer>) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** State holds offers' contact details, session hashes and the audit log: the service's user reads it, no one else. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** dataDir cannot hold state: a file where the folder should be, or one this user cannot write. */
export class DataDirUnusableError extends Error {
  override readonly name = 'DataDirUnusableError';
}

/** Creates dataDir if need be and checks this user can write in it: a clear reason to refuse to start, not an OS error. */
export async function prepareDataDir(dataDir: string): Promise<void> {
  const unusable = (why: string) => new DataDirUnusableError(`dataDir ${dataDir}: ${why}`);
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw unusable('not a directory (a file is in the way)');
    throw unusable(dataDirProblem(code, (err as Error).message));
  }
  if (!(await stat(dataDir)).isDirectory()) throw unusable('not a directory (a file is in the way)');
  try {
    await access(dataDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw unusable(dataDirProblem((err as NodeJS.ErrnoException).code, (err as Error).message));
  }
}

function dataDirProblem(code: string | undefined, message: string): string {
  if (code === 'EACCES' || code === 'EPERM') return `not writable by this user (${code}); give the service's user write access, or choose another dataDir`;
  if (code === 'EROFS') return 'on a read-only file system (EROFS)';
  return message;
}

/** The file under dataDir naming the process whose memory store owns it: its pid and a newline. */
export const LOCK_FILE = 'mirrorgate.lock';

/** Another live process holds dataDir's lock: this one must not start on it. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`${dataDir} is in use by another instance (pid ${pid}); use Redis (REDIS_URL) to run several instances`);
  }
}

/** Lock files this process holds: a lock naming our own pid that we do not hold is a previous life's (a container's pid 1). */
const heldLocks = new Set<string>();

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, it just is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process its parent has not reaped yet still answers signal 0: on Linux, its state says "zombie".
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || !/\)\s+Z\s/.test(stat);
}

async function lockHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Takes `<dataDir>/mirrorgate.lock` for this process, or throws DataDirInUseError naming the live process
 * that holds it. The pid is written to a temp file first and hard-linked into place (link fails if the lock
 * exists), so a lock is never seen half written. A lock whose process is gone (SIGKILL, a crash, a
 * restarted container) is taken over with a warning. Resolves to the release, which removes the file only
 * while it still names us.
 */
export async function lockDataDir(dataDir: string, log: StoreLog): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  const temp = `${file}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
  await writeFile(temp, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = await lockHolder(file);
      const live = holder !== undefined && (holder === process.pid ? heldLocks.has(file) : await processAlive(holder));
      if (live) throw new DataDirInUseError(dataDir, holder);
      log.warn({ file, pid: holder ?? null }, 'stale dataDir lock taken over: the process that held it is gone');
      await rm(file, { force: true });
    }
  } finally {
    await rm(temp, { force: true });
  }
  heldLocks.add(file);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    heldLocks.delete(file);
    if ((await lockHolder(file)) === process.pid) await rm(file, { force: true });
  };
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;

  private readonly stateDir: string;
  private readonly inventoryDir: string;
  private readonly clock: () => number;
  private readonly log: StoreLog;
  private readonly flushDelayMs: number;

  private readonly overrides = new Map<string, MirrorOverride>();
  private readonly health = new Map<string, HealthRecord>();
  private readonly offers = new Map<string, Offer>();
  private readonly statsDays = new Map<string, StatsDay>();
  private readonly inventories = new Map<string, InventoryRecord>();
  private readonly audit: AuditEntry[] = [];
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly logos = new Map<string, StoredLogo>();
  /** Origin file arrivals by path (core/arrivals.ts). */
  private readonly arrivals = new Map<string, ArrivalRecord>();
  private readonly listeners = new Set<(change: Change) => void>();

  private readonly dirty = new Set<SnapshotKind>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** Snapshot flushes run one at a time, in order. */
  private flushChain: Promise<void> = Promise.resolve();
  private auditChain: Promise<void> = Promise.resolve();
  private offersChain: Promise<void> = Promise.resolve();
  private offersHandle: FileHandle | undefined;
  /** Lines in the offers log, superseded ones included. */
  private offerLines = 0;
  private auditHandle: FileHandle | undefined;
  /** Per mirror, so two scans of one mirror cannot race their renames. */
  private readonly inventoryChains = new Map<string, Promise<void>>();
  private closed = false;
  /** Releases dataDir's lock (lockDataDir), once everything is flushed. */
  private releaseLock: (() => Promise<void>) | undefined;

  constructor(options: MemoryStoreOptions) {
    this.stateDir = join(options.dataDir, 'state');
    this.inventoryDir = join(this.stateDir, INVENTORY_DIR);
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? consoleStoreLog;
    this.flushDelayMs = options.flushDelayMs ?? 200;
  }

  /** Opens a store on dataDir, loading what an earlier run persisted. */
  static async open(options: MemoryStoreOptions): Promise<MemoryStore> {
    const store = new MemoryStore(options);
    // Locked before anything is read: a second instance must not even tidy temp files the first is writing.
    if (options.lockDataDir) store.releaseLock = await lockDataDir(options.dataDir, store.log);
    try {
      await store.load();
    } catch (err) {
      await store.releaseLock?.();
      throw err;
    }
    return store;
  }

  // ---- loading ----

  private async load(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: DIR_MODE });
    // Something else where the inventories folder belongs is set aside, not a reason not to start.
    const inventories = await stat(this.inventoryDir).catch(() => undefined);
    if (inventories && !inventories.isDirectory()) await this.setAside(this.stateDir, INVENTORY_DIR, 'not a directory');
    await mkdir(this.inventoryDir, { recursive: true, mode: DIR_MODE });
    await this.removeTempFiles(this.stateDir);
    await this.removeTempFiles(this.inventoryDir);

    // The audit log first: a lost or damaged staff change is rebuilt from it.
    await this.loadAudit();
    await this.loadOverrides();
    const health = await this.loadJson('health.json', healthFileSchema);
    for (const [mirror, record] of Object.entries(health?.health ?? {})) this.health.set(mirror, record);
    await this.loadOffers();
    const stats = await this.loadJson('stats.json', statsFileSchema);
    for (const [day, counters] of Object.entries(stats?.days ?? {})) this.statsDays.set(day, counters);
    const tokens = await this.loadJson('tokens.json', tokensFileSchema);
    for (const token of tokens?.tokens ?? []) this.tokens.set(token.id, token);
    const sessions = await this.loadJson('sessions.json', sessionsFileSchema);
    const now = this.clock();
    for (const [key, session] of Object.entries(sessions?.sessions ?? {})) if (session.expiresAt > now) this.sessions.set(key, session);
    const logos = await this.loadJson('logos.json', logosFileSchema);
    for (const [mirror, logo] of Object.entries(logos?.logos ?? {})) this.logos.set(mirror, logo);
    const arrivals = await this.loadJson('arrivals.json', arrivalsFileSchema);
    for (const record of arrivals?.arrivals ?? []) this.arrivals.set(record.path, record);
    await this.loadInventories();
  }

  /** A crash between write and rename leaves a temp file; it never holds the only copy of anything. */
  private async removeTempFiles(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      if (!name.includes(TEMP_MARK)) continue;
      // A directory by that name is not one of our temp files: set aside, not removed, not a crash.
      await rm(join(dir, name), { force: true }).catch(() => this.setAside(dir, name, 'not a temp file we wrote'));
    }
  }

  private async setAside(dir: string, name: string, reason: string): Promise<void> {
    const movedTo = `${name}.corrupt-${stamp(this.clock())}`;
    await rename(join(dir, name), join(dir, movedTo));
    this.log.error({ file: join(dir, name), movedTo: join(dir, movedTo), reason }, 'corrupt store file set aside; starting without its contents');
  }

  /**
   * Staff changes, each checked with the API's rules (stateCheck.ts). A bad record takes its mirror's
   * last audited state, else leaves the mirror unconfirmed (no downloads until staff change it); a
   * lost or unreadable file is rebuilt from the audit log, never replaced by "no changes".
   */
  private async loadOverrides(): Promise<void> {
    const file = await this.loadJson('overrides.json', overridesFileSchema);
    let fromAudit: Map<string, MirrorOverride> | undefined;
    const audited = () => (fromAudit ??= overridesFromAudit(this.audit));
    const overrides = file ? checkOverrides(Object.entries(file.overrides), this.log, join(this.stateDir, 'overrides.json'), audited) : audited();
    if (!file && overrides.size > 0) {
      this.log.error(
        { file: join(this.stateDir, 'overrides.json'), mirrors: [...overrides.keys()] },
        'staff state missing or unreadable: rebuilt from the audit log',
      );
      this.markDirty('overrides');
    }
    for (const [mirror, override] of overrides) this.overrides.set(mirror, override);
  }

  private async loadJson<T>(name: string, schema: z.ZodType<T>): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.stateDir, name), 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
        await this.setAside(this.stateDir, name, 'a directory, not a file');
        return undefined;
      }
      throw err; // unreadable (permissions, I/O) is not corruption: refuse to start rather than start empty
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      await this.setAside(this.stateDir, name, `not JSON: ${(err as Error).message}`);
      return undefined;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      await this.setAside(this.stateDir, name, parsed.error.message);
      return undefined;
    }
    return parsed.data;
  }

  /**
   * Unlike the snapshot files, a bad audit log keeps its good lines: the original is set aside
   * and reported, and the readable entries are rewritten, since the audit trail matters most.
   */
  private async loadAudit(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.stateDir, AUDIT_FILE), 'utf8');
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    const badLines: number[] = [];
    const lines = text.split('\n');
    // Every append ends in '\n'; anything after the last one is a torn append.
    const torn = lines.pop();
    if (torn !== undefined && torn !== '') badLines.push(lines.length + 1);
    lines.forEach((line, index) => {
      if (line === '') return;
      try {
        const parsed = auditEntrySchema.safeParse(JSON.parse(line));
        if (parsed.success) this.audit.push(parsed.data);
        else badLines.push(index + 1);
      } catch {
        badLines.push(index + 1);
      }
    });
    if (badLines.length === 0) return;
    await this.setAside(this.stateDir, AUDIT_FILE, `unreadable lines ${badLines.join(', ')}; kept the rest`);
    await writeFileAtomic(this.stateDir, AUDIT_FILE, this.audit.map((entry) => JSON.stringify(entry) + '\n').join(''));
  }

  /**
   * Offers are a log of JSON lines: each put appends the offer as it now is (the last line of an id
   * wins), so one offer costs one append, never a rewrite of every offer. The older offers.json is
   * read once and turned into the log; a log holding mostly superseded or unreadable lines is
   * rewritten at start (the original set aside when lines were unreadable).
   */
  private async loadOffers(): Promise<void> {
    const legacy = await this.loadJson('offers.json', offersFileSchema);
    for (const offer of legacy?.offers ?? []) this.offers.set(offer.id, offer);
    let text = '';
    try {
      text = await readFile(join(this.stateDir, OFFERS_LOG), 'utf8');
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const lines = text.split('\n');
    let bad = lines.pop() ? 1 : 0; // a torn last append
    for (const line of lines) {
      if (line === '') continue;
      let parsed: ReturnType<typeof offerSchema.safeParse> | undefined;
      try {
        parsed = offerSchema.safeParse(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) this.offers.set(parsed.data.id, parsed.data);
      else bad++;
    }
    this.offerLines = lines.length;
    if (!legacy && bad === 0 && this.offerLines <= 2 * this.offers.size + 100) return;
    if (bad > 0) await this.setAside(this.stateDir, OFFERS_LOG, `${bad} unreadable offer line(s); kept the rest`);
    await writeFileAtomic(this.stateDir, OFFERS_LOG, [...this.offers.values()].map((o) => JSON.stringify(o) + '\n').join(''));
    this.offerLines = this.offers.size;
    if (legacy) await rm(join(this.stateDir, 'offers.json'), { force: true });
  }

  private async loadInventories(): Promise<void> {
    for (const name of await readdir(this.inventoryDir)) {
      if (!name.endsWith(INVENTORY_SUFFIX)) continue;
      // A name we did not write (bad percent-encoding, no mirror id, a directory) is set aside, not a crash.
      const mirror = decodeFileName(name.slice(0, -INVENTORY_SUFFIX.length));
      if (mirror === undefined || !isMirrorId(mirror)) {
        await this.setAside(this.inventoryDir, name, 'not the name of a mirror inventory');
        continue;
      }
      let record: InventoryRecord;
      try {
        record = await readInventory(createReadStream(join(this.inventoryDir, name)));
      } catch (err) {
        if (!(err instanceof InventoryFormatError) && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
        await this.setAside(this.inventoryDir, name, (err as Error).message);
        continue;
      }
      this.inventories.set(mirror, record);
    }
  }

  // ---- snapshot persistence ----

  private snapshotText(kind: SnapshotKind): string {
    switch (kind) {
      case 'overrides':
        return JSON.stringify({ version: 1, overrides: Object.fromEntries(this.overrides) });
      case 'health':
        return JSON.stringify({ version: 1, health: Object.fromEntries(this.health) });
      case 'offers':
        return JSON.stringify({ version: 1, offers: [...this.offers.values()] });
      case 'stats':
        return JSON.stringify({ version: 1, days: Object.fromEntries(this.statsDays) });
      case 'tokens':
        return JSON.stringify({ version: 1, tokens: [...this.tokens.values()] });
      case 'sessions':
        return JSON.stringify({ version: 1, sessions: Object.fromEntries(this.sessions) });
      case 'logos':
        return JSON.stringify({ version: 1, logos: Object.fromEntries(this.logos) });
      case 'arrivals':
        return JSON.stringify({ version: 1, arrivals: [...this.arrivals.values()] });
    }
  }

  private markDirty(kind: SnapshotKind): void {
    this.dirty.add(kind);
    this.scheduleFlush(this.flushDelayMs);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush().catch(() => this.scheduleFlush(RETRY_DELAY_MS));
    }, delayMs);
  }

  /** Writes every changed snapshot file now; rejects if one could not be written (it stays dirty). */
  flush(): Promise<void> {
    const run = this.flushChain.then(async () => {
      const kinds = [...this.dirty];
      this.dirty.clear();
      let failure: unknown;
      for (const kind of kinds) {
        try {
          // Serialised when written, not when changed: one write carries every change so far.
          await writeFileAtomic(this.stateDir, SNAPSHOT_FILES[kind], this.snapshotText(kind));
        } catch (err) {
          this.dirty.add(kind);
          failure ??= err;
          this.log.error({ file: join(this.stateDir, SNAPSHOT_FILES[kind]), err: (err as Error).message }, 'store write failed');
        }
      }
      if (failure !== undefined) throw failure;
    });
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
  }

  /**
   * A write the caller waits on to be durable. A file-system failure (a read-only or full disk, a
   * dataDir the service user cannot write) is the store being unavailable, answered 503 as a Redis
   * outage is, not an internal error. `after` says what already holds, for writes that follow their audit entry.
   */
  private async durably(file: string, write: Promise<void>, after = ''): Promise<void> {
    try {
      await write;
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      // What stayed unwritten is still dirty: try again at the retry pace, as a debounced write would.
      this.scheduleFlush(RETRY_DELAY_MS);
      const { code, message } = err as NodeJS.ErrnoException;
      throw new StoreUnavailableError(`cannot write ${join(this.stateDir, file)} (${code ?? message})${after}`);
    }
  }

  // ---- Store ----

  async getOverrides(): Promise<Map<string, MirrorOverride>> {
    return structuredClone(this.overrides);
  }

  async putOverride(mirror: string, override: MirrorOverride | null): Promise<void> {
    this.assertOpen();
    if (override === null) this.overrides.delete(mirror);
    else this.overrides.set(mirror, structuredClone(override));
    // Staff changes are rare and audited: durable before the promise resolves, like the audit line.
    this.dirty.add('overrides');
    // Its audit entry was written first (adminService.change): on disk there, it is rolled forward at the next start.
    await this.durably(SNAPSHOT_FILES.overrides, this.flush(), '; the change is in force and in the audit log, which applies it again at the next start');
  }

  async getHealth(): Promise<Map<string, HealthRecord>> {
    return structuredClone(this.health);
  }

  async putHealth(mirror: string, record: HealthRecord): Promise<void> {
    this.assertOpen();
    this.health.set(mirror, structuredClone(record));
    this.markDirty('health');
  }

  /** The stored record itself (a million entries are not copied per read): treat it as read-only. */
  async getInventory(mirror: string): Promise<InventoryRecord | undefined> {
    return this.inventories.get(mirror);
  }

  putInventory(mirror: string, record: InventoryRecord): Promise<void> {
    // Our own copy of the entry list, so a caller reusing its array cannot change what we persisted.
    const stored: InventoryRecord = { scannedAt: record.scannedAt, source: record.source, entries: record.entries.slice() };
    return this.onInventory(mirror, async () => {
      await writeFileAtomic(this.inventoryDir, inventoryFileName(mirror), gzipInventory(stored));
      this.inventories.set(mirror, stored);
    });
  }

  deleteInventory(mirror: string): Promise<void> {
    return this.onInventory(mirror, async () => {
      await rm(join(this.inventoryDir, inventoryFileName(mirror)), { force: true });
      await syncDir(this.inventoryDir);
      this.inventories.delete(mirror);
    });
  }

  private onInventory(mirror: string, task: () => Promise<void>): Promise<void> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = (this.inventoryChains.get(mirror) ?? Promise.resolve()).then(task);
    const settled = run.catch(() => undefined);
    this.inventoryChains.set(mirror, settled);
    void settled.then(() => {
      if (this.inventoryChains.get(mirror) === settled) this.inventoryChains.delete(mirror);
    });
    return run;
  }

  async listInventories(): Promise<string[]> {
    return [...this.inventories.keys()].sort();
  }

  async getOffers(): Promise<Offer[]> {
    return structuredClone([...this.offers.values()]).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async getOffer(id: string): Promise<Offer | undefined> {
    const offer = this.offers.get(id);
    return offer === undefined ? undefined : structuredClone(offer);
  }

  /** One fsync'd append to the offers log (see loadOffers), like an audit entry. */
  putOffer(offer: Offer): Promise<void> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const stored = structuredClone(offer);
    const run = this.offersChain.then(async () => {
      this.offersHandle ??= await open(join(this.stateDir, OFFERS_LOG), 'a', FILE_MODE);
      await this.offersHandle.write(JSON.stringify(stored) + '\n');
      await this.offersHandle.datasync();
      this.offers.set(stored.id, stored);
      this.offerLines++;
    });
    this.offersChain = run.catch(() => undefined);
    return this.durably(OFFERS_LOG, run);
  }

  async addStats(batch: StatsBatch): Promise<void> {
    this.assertOpen();
    addBatch(this.statsDays, statsBatchSchema.parse(batch));
    this.markDirty('stats');
  }

  async queryStats(query: StatsQuery): Promise<StatsResult> {
    return summarizeStats(this.statsDays, query);
  }

  /** Resolves only once the entry is fsync'd: an audited change must survive a crash. */
  appendAudit(entry: AuditEntry): Promise<void> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const stored = structuredClone(entry);
    const run = this.auditChain.then(async () => {
      this.auditHandle ??= await open(join(this.stateDir, AUDIT_FILE), 'a', FILE_MODE);
      await this.auditHandle.write(JSON.stringify(stored) + '\n');
      await this.auditHandle.datasync();
      this.audit.push(stored);
    });
    this.auditChain = run.catch(() => undefined);
    return this.durably(AUDIT_FILE, run);
  }

  /** Merged entries go where their time puts them; the file is rewritten whole (rare: a store restore). */
  mergeAudit(entries: readonly AuditEntry[]): Promise<number> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.auditChain.then(async () => {
      const known = new Set(this.audit.map((e) => e.id));
      const added: AuditEntry[] = [];
      for (const entry of entries) {
        if (known.has(entry.id)) continue;
        known.add(entry.id);
        added.push(structuredClone(entry));
      }
      if (added.length === 0) return 0;
      const merged = [...this.audit, ...added].sort((a, b) => a.at - b.at);
      await this.auditHandle?.close();
      this.auditHandle = undefined;
      await writeFileAtomic(this.stateDir, AUDIT_FILE, merged.map((entry) => JSON.stringify(entry) + '\n').join(''));
      this.audit.splice(0, this.audit.length, ...merged);
      return added.length;
    });
    this.auditChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async getTokens(): Promise<TokenRecord[]> {
    return structuredClone([...this.tokens.values()]).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async putToken(token: TokenRecord): Promise<void> {
    this.assertOpen();
    this.tokens.set(token.id, structuredClone(token));
    // A revocation must hold after a crash: durable before it is acknowledged.
    this.dirty.add('tokens');
    await this.durably(SNAPSHOT_FILES.tokens, this.flush());
  }

  async getSession(key: string): Promise<SessionRecord | undefined> {
    const session = this.sessions.get(key);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.clock()) {
      this.sessions.delete(key);
      this.markDirty('sessions');
      return undefined;
    }
    return structuredClone(session);
  }

  async putSession(key: string, session: SessionRecord | null): Promise<void> {
    this.assertOpen();
    const now = this.clock();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
    if (session === null) this.sessions.delete(key);
    else this.sessions.set(key, structuredClone(session));
    this.dirty.add('sessions');
    await this.durably(SNAPSHOT_FILES.sessions, this.flush());
  }

  async getLogos(): Promise<Map<string, StoredLogo>> {
    return structuredClone(this.logos);
  }

  async putLogo(mirror: string, logo: StoredLogo | null): Promise<void> {
    this.assertOpen();
    if (logo === null) this.logos.delete(mirror);
    else this.logos.set(mirror, structuredClone(logo));
    this.dirty.add('logos');
    await this.durably(SNAPSHOT_FILES.logos, this.flush());
  }

  async noteArrivals(records: readonly ArrivalRecord[]): Promise<ArrivalRecord[]> {
    this.assertOpen();
    const kept = records.map((r) => {
      const k = keptArrival(this.arrivals.get(r.path), r);
      this.arrivals.set(r.path, k);
      return { ...k };
    });
    // Not worth a write of its own: lost in a crash, the files arrived only as far back as the restart says.
    if (records.length > 0) this.markDirty('arrivals');
    return kept;
  }

  async getArrivals(forgetBefore: number): Promise<ArrivalRecord[]> {
    const out: ArrivalRecord[] = [];
    let forgot = false;
    for (const [path, r] of this.arrivals) {
      if (r.at >= forgetBefore) out.push({ ...r });
      else forgot = this.arrivals.delete(path);
    }
    if (forgot && !this.closed) this.markDirty('arrivals');
    return out;
  }

  /** The files under dataDir are the whole truth and cannot be lost behind our back: one epoch for ever. */
  async epoch(): Promise<string> {
    return 'memory';
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    // Newest first = reverse append order (appends are serialised, so this is the order changes happened).
    for (let i = this.audit.length - 1; i >= 0 && found.length < limit; i--) {
      const entry = this.audit[i];
      if (entry !== undefined && matchesAudit(entry, query)) found.push(entry);
    }
    return structuredClone(found);
  }

  async publish(change: Change): Promise<void> {
    this.assertOpen();
    for (const listener of [...this.listeners]) {
      const copy = structuredClone(change);
      // Asynchronous like Redis delivery, so callers cannot come to rely on synchronous re-entry.
      queueMicrotask(() => {
        try {
          listener(copy);
        } catch (err) {
          this.log.error({ change: copy, err: (err as Error).message }, 'change listener failed');
        }
      });
    }
  }

  subscribe(listener: (change: Change) => void): () => void {
    // Wrapped so the same function subscribed twice is two subscriptions, each removed on its own.
    const entry = (change: Change): void => listener(change);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Claimed keys per claim length; one process, so this is the whole truth. Not persisted: a claim lives minutes. */
  private readonly claims = new Map<number, FirstSightings>();

  async claimOnce(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    this.assertOpen();
    const now = this.clock();
    let claimed = this.claims.get(ttlMs);
    if (!claimed) this.claims.set(ttlMs, (claimed = new FirstSightings(ttlMs, MAX_CLAIMS)));
    return keys.map((key) => claimed.first(key, now));
  }

  /** Rate-limit windows; like claims, not persisted (a window lives minutes) and bounded. */
  private readonly hitWindows = new HitWindows(MAX_CLAIMS);

  async countHit(key: string, windowMs: number, delta: HitDelta): Promise<HitCount> {
    this.assertOpen();
    return this.hitWindows.count(key, windowMs, delta, this.clock());
  }

  /** One process is the whole deployment, so it always holds every lease. */
  async acquireLease(_name: string, _holder: string, _ttlMs: number): Promise<boolean> {
    return true;
  }

  status(): StoreStatus {
    return { available: true };
  }

  onStatus(_listener: (status: StoreStatus) => void): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    if (this.closed) {
      await this.flushChain;
      return;
    }
    this.closed = true;
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.listeners.clear();
    await Promise.all([...this.inventoryChains.values()]);
    await this.auditChain;
    await this.auditHandle?.close();
    this.auditHandle = undefined;
    await this.offersChain;
    await this.offersHandle?.close();
    this.offersHandle = undefined;
    try {
      await this.flush();
    } finally {
      await this.releaseLock?.();
    }
  }
}
