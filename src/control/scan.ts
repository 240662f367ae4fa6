// Scans a mirror (rsync listing or HTTP manifest) against the origin index: what it really holds, and how complete it is.
import { Readable, pipeline } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { compileGlob, UNMATCHED_KEPT } from '../core/availability.js';
import type { FileIndex } from '../core/fileIndex.js';
import type { InventoryEntry } from '../core/model.js';
import type { InventoryRecord } from '../core/records.js';
import { parseMirrorManifestText, readMirrorManifest, type ManifestProblem } from './manifest.js';
import { pinHost } from './guardedLookup.js';
import { RsyncError, rsyncList } from './rsyncListing.js';

export interface ScanTarget {
  id: string;
  rsyncUrl?: string;
  /** A JSON Lines inventory (`{"path","size","mtime"?}` per line) over HTTP(S), plain or gzip'd. */
  manifestUrl?: string;
  /** The same in a local file (config content.manifest), read whole. */
  manifestFile?: string;
  content: { include: string[]; exclude: string[] };
}

export interface ScanReport {
  /** File entries in the listing, origin files or not. */
  entries: number;
  /** Origin files the mirror's include/exclude rules cover. */
  expected: number;
  /** Expected files listed with the origin's size (and mtime, where both are known). */
  current: number;
  /** Expected files not listed at all. */
  missing: number;
  /** Expected files listed with another size or mtime. */
  stale: number;
  /** current / expected, 0..1; 1 when nothing is expected. */
  completion: number;
  /** The first missing / stale paths in origin order, at most `sampleSize` each. */
  missingSample: string[];
  staleSample: string[];
  /** Listed files that are not in the origin file set (dropped). */
  foreign: number;
  /** Listing or manifest lines that could not be read (dropped). */
  unparsed: number;
}

export interface ScanResult {
  record: InventoryRecord;
  report: ScanReport;
}

/** The fetch this module needs; undici's by default, a test or Worker may pass its own. */
export type ScanFetch = typeof undiciFetch;

export interface ScanOptions {
  /** Called with the number of listing entries read so far, every PROGRESS_EVERY entries and at the end. */
  onProgress?(entries: number): void;
  /** Deadline for the whole scan; default 30 minutes (config `scan.timeout`). */
  timeoutMs?: number;
  fetch?: ScanFetch;
  /** How the mirror's host name is resolved (guardedLookup: no loopback, link-local or metadata addresses): on connect for a manifest, before rsync runs for an rsyncUrl, which rsync then gets with the checked address (pinHost). */
  lookup?: LookupFunction;
  signal?: AbortSignal;
  /** rsync binary, default `rsync` from PATH. */
  rsyncPath?: string;
  /** Which listing to use when the target has both; default rsync, the mirror's real tree. */
  prefer?: 'rsync' | 'http-manifest';
  /** Called for each line that could not be read (manifest problems carry their line number). */
  onProblem?(problem: ManifestProblem): void;
  /** Length of missingSample and staleSample; default 20. */
  sampleSize?: number;
  /** Epoch ms clock for `scannedAt`. */
  now?: () => number;
}

const PROGRESS_EVERY = 10_000;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

// Per-file state while the listing streams: one byte per origin file instead of an object per entry.
const NOT_LISTED = 0;
const LISTED_CURRENT = 1;
const LISTED_STALE = 2;

/**
 * Lists a mirror and compares it with the origin. `record.entries` holds the mirror's copies of
 * origin files (at most one per origin file) and, in listing order among them, up to UNMATCHED_KEPT
 * of the paths the origin index does not have (yet: a file published just after it was read matches
 * them when it does).
 * Throws when the listing fails at any point: a partial listing is never returned as a scan.
 */
export async function scanMirror(target: ScanTarget, files: FileIndex, opts: ScanOptions = {}): Promise<ScanResult> {
  const scannedAt = (opts.now ?? Date.now)();
  const useRsync = target.rsyncUrl !== undefined && (opts.prefer !== 'http-manifest' || target.manifestUrl === undefined);
  const useFile = !useRsync && target.manifestUrl === undefined && target.manifestFile !== undefined;
  const url = useRsync ? target.rsyncUrl : (target.manifestUrl ?? target.manifestFile);
  if (url === undefined) throw new Error(`mirror ${target.id}: nothing to scan (no rsyncUrl and no manifest)`);
  const source: InventoryRecord['source'] = useRsync ? 'rsync' : useFile ? 'config-manifest' : 'http-manifest';

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;

  let unparsed = 0;
  const onProblem = (problem: ManifestProblem) => {
    unparsed++;
    opts.onProblem?.(problem);
  };
  let rsyncLine = 0;
  const guarded = !useRsync && !useFile && opts.lookup && !opts.fetch ? new Agent({ connect: { lookup: opts.lookup } }) : undefined;
  const fetch: ScanFetch = guarded ? (input, init) => undiciFetch(input, { ...init, dispatcher: guarded }) : (opts.fetch ?? undiciFetch);
  // rsync resolves names itself: it is handed the address the guard checked (pinHost) once the listing starts.
  const listing = useRsync
    ? pinnedListing(opts.lookup ? () => pinHost(url, opts.lookup) : async () => [url], (address) =>
        rsyncList(address, {
          timeoutMs,
          signal,
          ...(opts.rsyncPath !== undefined && { rsyncPath: opts.rsyncPath }),
          onUnparsed: (_line, reason) => onProblem({ file: url, line: ++rsyncLine, reason }),
        }),
      )
    : useFile
      ? fileManifestList(url, onProblem)
      : httpManifestList(url, { signal, fetch, onProblem });

  const state = new Uint8Array(files.count);
  const entries: InventoryEntry[] = [];
  let listed = 0;
  let foreign = 0;
  try {
    for await (const entry of listing) {
      listed++;
      const f = files.lookupListed(entry.path);
      if (f < 0) {
        // Kept (up to UNMATCHED_KEPT): a file the origin index does not show yet may be one it is about to.
        if (foreign++ < UNMATCHED_KEPT) entries.push(entry);
      } else if (state[f] === NOT_LISTED) {
        const current = files.isCurrent(f, entry.size, entry.mtime);
        state[f] = current ? LISTED_CURRENT : LISTED_STALE;
        // The index's own path string: the listing's copy can then be collected.
        const kept: InventoryEntry = { path: files.paths[f]!, size: entry.size };
        // A copy listed without its mtime (a manifest may leave it out) is the origin's version of now: kept with
        // that version's mtime, so the stored inventory does not vouch for a later version of the same size
        // when it is read again (a restart, another instance).
        const mtime = entry.mtime ?? (current ? files.mtime(f) : undefined);
        if (mtime !== undefined) kept.mtime = mtime;
        entries.push(kept);
      }
      if (listed % PROGRESS_EVERY === 0) opts.onProgress?.(listed);
    }
  } catch (error) {
    const why = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeError(error);
    throw new Error(`scan of mirror ${target.id} via ${url} failed after ${listed} entries: ${why}`, { cause: error });
  } finally {
    void guarded?.close();
  }
  // A listing of nothing but unreadable lines (an HTML error page served with 200) is a failure, not an empty mirror.
  if (listed === 0 && unparsed > 0) {
    throw new Error(`scan of mirror ${target.id} via ${url} failed: none of its ${unparsed} lines is a listing entry`);
  }
  // Nothing at all where the mirror should carry files is far likelier an unmounted disk or a wrong module than
  // an empty mirror: not taken as its inventory (which would take it out of rotation until the next scan).
  if (listed === 0 && files.count > 0) {
    throw new Error(`scan of mirror ${target.id} via ${url} listed no file at all (an unmounted disk, or the wrong module?)`);
  }
  opts.onProgress?.(listed);

  const report = compare(target.content, files, state, opts.sampleSize ?? 20);
  return {
    record: { scannedAt, source, entries },
    report: { entries: listed, foreign, unparsed, ...report },
  };
}

/** A local manifest file's entries, judged as at start (readMirrorManifest); throws when it cannot be read. */
async function* fileManifestList(file: string, onProblem: (problem: ManifestProblem) => void): AsyncGenerator<InventoryEntry> {
  const { files, problems } = await readMirrorManifest(file);
  for (const p of problems) onProblem(p);
  yield* files;
}

/** rsync's exit codes for "could not reach the daemon": socket I/O (10), daemon connection timeout (35). */
const UNREACHED = new Set([10, 35]);

/**
 * A listing from the first of `urls` (one per checked address) whose rsync reaches its daemon, as rsync
 * itself tries a name's addresses in turn. Lazy like the listings themselves, so a failure surfaces at
 * the first entry; once an address has given entries, its failure is the scan's.
 */
async function* pinnedListing(urls: () => Promise<string[]>, list: (url: string) => AsyncGenerator<InventoryEntry>): AsyncGenerator<InventoryEntry> {
  const candidates = await urls();
  for (let i = 0; ; i++) {
    let listed = false;
    try {
      for await (const entry of list(candidates[i]!)) {
        listed = true;
        yield entry;
      }
      return;
    } catch (error) {
      const unreached = error instanceof RsyncError && error.exitCode !== null && UNREACHED.has(error.exitCode);
      if (listed || !unreached || i === candidates.length - 1) throw error;
    }
  }
}

/** An error's message with its causes ("fetch failed: connect ECONNREFUSED …"), which is where undici puts the reason. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) {
    if (!parts.some((p) => p.includes(e.message))) parts.push(e.message);
  }
  return parts.length > 0 ? parts.join(': ') : String(error);
}

/** File number of a listed path; tries NFC too, since a mirror on a decomposing filesystem (HFS+) lists NFD names. */

function compare(
  content: ScanTarget['content'],
  files: FileIndex,
  state: Uint8Array,
  sampleSize: number,
): Omit<ScanReport, 'entries' | 'foreign' | 'unparsed'> {
  // Same rule semantics as computeRuleClasses: covered = some include matches and no exclude does.
  const include = content.include.map(compileGlob);
  const exclude = content.exclude.map(compileGlob);
  let expected = 0;
  let current = 0;
  let missing = 0;
  let stale = 0;
  const missingSample: string[] = [];
  const staleSample: string[] = [];
  for (let f = 0; f < files.count; f++) {
    const path = files.paths[f]!;
    if (!include.some((m) => m(path)) || exclude.some((m) => m(path))) continue;
    expected++;
    const s = state[f];
    if (s === LISTED_CURRENT) current++;
    else if (s === LISTED_STALE) {
      stale++;
      if (staleSample.length < sampleSize) staleSample.push(path);
    } else {
      missing++;
      if (missingSample.length < sampleSize) missingSample.push(path);
    }
  }
  return { expected, current, missing, stale, completion: expected === 0 ? 1 : current / expected, missingSample, staleSample };
}

export interface HttpManifestOptions {
  signal?: AbortSignal;
  fetch?: ScanFetch;
  onProblem?(problem: ManifestProblem): void;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Streams a mirror inventory over HTTP line by line, judging each line exactly as the config
 * manifest reader does. Gzip is recognised by its magic bytes rather than by `.gz` or headers,
 * because fetch already undoes Content-Encoding and servers label `.gz` files every which way.
 * Throws on a non-2xx answer and on any transport or decompression error.
 */
export async function* httpManifestList(url: string, opts: HttpManifestOptions = {}): AsyncGenerator<InventoryEntry> {
  const fetch = opts.fetch ?? undiciFetch;
  // At most one redirect, on the same host, as the prober follows them: a redirect to an address (an IP
  // literal never goes through the guarded lookup) must not take the scan into the host's own services.
  let current = new URL(url);
  let response: Awaited<ReturnType<ScanFetch>>;
  for (let hop = 0; ; hop++) {
    response = await fetch(current.href, {
      headers: { accept: 'application/jsonl, application/x-ndjson, text/plain;q=0.9, */*;q=0.1', 'accept-encoding': 'gzip' },
      redirect: 'manual',
      ...(opts.signal && { signal: opts.signal }),
    });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) break;
    await response.body?.cancel().catch(() => {});
    let target: URL;
    try {
      target = new URL(location, current);
    } catch {
      throw new Error(`bad redirect (${location.slice(0, 100)}) from ${url}`);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`bad redirect (${target.protocol}) from ${url}`);
    if (target.hostname !== current.hostname) throw new Error(`redirect to another host (${target.host}) from ${url}`);
    if (hop >= 1) throw new Error(`too many redirects from ${url}`);
    current = target;
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} from ${url}`);
  }
  if (!response.body) return;

  const raw = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>);
  const chunks = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  if (first.done) return;
  const head = first.value;
  const rest = Readable.from(
    (async function* () {
      yield head;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value;
      }
    })(),
    { objectMode: false },
  );
  let input: Readable = rest;
  if (head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1) {
    const gunzip = createGunzip();
    // pipeline destroys gunzip with the source's error, so the line reader below sees it.
    pipeline(rest, gunzip, () => {});
    input = gunzip;
  }

  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo++;
      // The shared line judge, one line at a time: problems come back as line 1 and are renumbered here.
      const parsed = parseMirrorManifestText(text, url);
      for (const p of parsed.problems) opts.onProblem?.({ ...p, line: lineNo });
      const entry = parsed.files[0];
      if (entry) yield entry;
    }
  } finally {
    lines.close();
    input.destroy();
    raw.destroy();
  }
}
