// Reads origin manifests and mirror inventories (JSON Lines) line by line, keeping every good line and naming every bad one.

import { open } from 'node:fs/promises';
import { z } from 'zod';
import {
  decodeSha256,
  FileIndex,
  FileIndexBuilder,
  isPieceLength,
  MAX_PIECE_LENGTH,
  MIN_PIECE_LENGTH,
  pieceCount,
  type PieceHashes,
} from '../core/fileIndex.js';
import type { InventoryEntry, OriginFile } from '../core/model.js';
import { validateOriginPath } from '../core/paths.js';

/** One skipped manifest line and why. */
export interface ManifestProblem {
  file: string;
  /** 1-based. */
  line: number;
  reason: string;
  /** The line's file was kept all the same: only its piece hashes were dropped. */
  kept?: boolean;
}

export interface ManifestOptions {
  /** Called as each problem is found, e.g. to log it before the whole file is read. */
  onProblem?(problem: ManifestProblem): void;
}

export interface OriginManifest {
  files: OriginFile[];
  problems: ManifestProblem[];
}

/** An origin manifest read straight into the index: no object per file on the way. */
export interface OriginIndexManifest {
  index: FileIndex;
  problems: ManifestProblem[];
}

export interface MirrorManifest {
  files: InventoryEntry[];
  problems: ManifestProblem[];
}

/** The `file:line: reason` form used in logs and CLI output. */
export function formatManifestProblem(problem: ManifestProblem): string {
  return `${problem.file}:${problem.line}: ${problem.reason}`;
}

// Epoch values above this are milliseconds: 1e11 seconds is the year 5138, while 1e11 ms is 1973.
const MILLISECONDS_THRESHOLD = 1e11;

/** Epoch seconds from an epoch number in seconds or milliseconds. */
function epochSeconds(value: number): number {
  return value > MILLISECONDS_THRESHOLD ? value / 1000 : value;
}

const mtimeSchema = z
  .union([z.number().nonnegative(), z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'expected epoch seconds or milliseconds, or an ISO-8601 date-time with a time zone',
  })
  .transform((value, ctx) => {
    const seconds = typeof value === 'number' ? epochSeconds(value) : Date.parse(value) / 1000;
    if (!Number.isFinite(seconds) || seconds < 0) {
      ctx.addIssue({ code: 'custom', message: 'not a date on or after 1970-01-01' });
      return z.NEVER;
    }
    return Math.floor(seconds);
  });

const sizeSchema = z.int({ error: 'expected a non-negative integer' }).nonnegative({
  error: 'expected a non-negative integer',
});

const pathSchema = z.string({ error: 'expected a string' });

// The schema's own test, shared with the hand-written check so both accept the same hashes.
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

const originLineSchema = z.object({
  path: pathSchema,
  size: sizeSchema,
  mtime: mtimeSchema.optional(),
  sha256: z
    .string({ error: 'expected 64 hex characters' })
    .regex(SHA256_HEX, { error: 'expected 64 hex characters' })
    .transform((hex) => hex.toLowerCase())
    .optional(),
});

const PIECE_LENGTH_ERROR = `expected a power of two from ${MIN_PIECE_LENGTH} to ${MAX_PIECE_LENGTH}`;

// Checked apart from the line: bad piece hashes drop the pieces, never the file.
const piecesSchema = z.object(
  {
    length: z.int({ error: PIECE_LENGTH_ERROR }).refine(isPieceLength, { error: PIECE_LENGTH_ERROR }),
    sha256: z.array(z.string({ error: 'expected 64 hex characters' }).regex(SHA256_HEX, { error: 'expected 64 hex characters' }), {
      error: 'expected an array of 64-hex-character strings',
    }),
  },
  { error: 'expected {"length": <bytes>, "sha256": [<hex>, …]}' },
);

const mirrorLineSchema = z.object({
  path: pathSchema,
  size: sizeSchema,
  mtime: mtimeSchema.optional(),
});

/** Which kind of manifest a line belongs to: origin lines carry a sha256, inventory lines do not. */
export type LineKind = 'origin' | 'mirror';

/** A good line's fields; `path` is as written (not yet validated). */
export interface LineFields {
  path: string;
  size: number;
  mtime: number | undefined;
  /** The line had a sha256, decoded into the caller's hash buffer. */
  sha256: boolean;
  /** The line's piece hashes, decoded; absent when it has none (or none to have: an empty file). */
  pieces?: PieceHashes;
  /** Why the line's piece hashes were dropped; the file itself is good. */
  piecesProblem?: string;
}

/**
 * The common line shape checked by hand: zod costs microseconds a line, which is seconds on a
 * million-line manifest. Accepts only lines the schema accepts, with the same result; anything
 * else (ISO dates, nulls, a problem to word) is undefined and goes to the schema. A sha256 is
 * decoded into `hash` (32 bytes).
 */
export function quickLineFields(json: Record<string, unknown>, kind: LineKind, hash: Uint8Array): LineFields | undefined {
  const path = json.path;
  if (typeof path !== 'string') return undefined;
  const size = json.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  let mtime = json.mtime;
  if (mtime !== undefined) {
    if (typeof mtime !== 'number' || !Number.isFinite(mtime) || mtime < 0) return undefined;
    mtime = Math.floor(epochSeconds(mtime));
  }
  let sha256 = false;
  if (kind === 'origin' && json.sha256 !== undefined) {
    // Decoding checks the digits too, in the one pass: the schema's regex alone costs more.
    if (typeof json.sha256 !== 'string' || !decodeSha256(json.sha256, hash)) return undefined;
    sha256 = true;
  }
  const fields: LineFields = { path, size, mtime: mtime as number | undefined, sha256 };
  if (kind === 'origin' && json.pieces !== undefined) {
    const pieces = quickPieces(json.pieces, size);
    if (pieces === false) return undefined;
    if (pieces !== undefined) fields.pieces = pieces;
  }
  return fields;
}

/**
 * Piece hashes checked and decoded by hand (a line may carry thousands): the pieces, undefined
 * for an empty file's empty list, or false for anything the schema would word as a problem.
 */
function quickPieces(value: unknown, size: number): PieceHashes | undefined | false {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { length, sha256 } = value as Record<string, unknown>;
  if (typeof length !== 'number' || !isPieceLength(length) || !Array.isArray(sha256)) return false;
  const count = pieceCount(size, length);
  if (sha256.length !== count) return false;
  const hashes = new Uint8Array(count * 32);
  for (let k = 0; k < count; k++) {
    const hex: unknown = sha256[k];
    if (typeof hex !== 'string' || !decodeSha256(hex, hashes.subarray(k * 32, k * 32 + 32))) return false;
  }
  return count === 0 ? undefined : { length, hashes };
}

/** The schema's verdict on a line's piece hashes: decoded, undefined (none to have), or the problem. */
function schemaPieces(value: unknown, size: number): PieceHashes | undefined | string {
  const parsed = piecesSchema.safeParse(value);
  if (!parsed.success) {
    // One issue is enough to fix a list of thousands; say how many more there are.
    const [first, ...rest] = parsed.error.issues;
    const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
    return `${describeIssue({ ...first!, path: ['pieces', ...first!.path] })}${more}`;
  }
  const { length, sha256 } = parsed.data;
  const count = pieceCount(size, length);
  if (sha256.length !== count) return `pieces.sha256: expected ${count} hashes (size ${size} in pieces of ${length}), got ${sha256.length}`;
  if (count === 0) return undefined;
  const hashes = new Uint8Array(count * 32);
  sha256.forEach((hex, k) => decodeSha256(hex, hashes.subarray(k * 32, k * 32 + 32)));
  return { length, hashes };
}

/** The schema's verdict on a line: its fields (a sha256 decoded into `hash`), or the problem worded field by field. */
export function schemaLineFields(json: Record<string, unknown>, kind: LineKind, hash: Uint8Array): LineFields | string {
  if (kind === 'mirror') {
    const parsed = mirrorLineSchema.safeParse(json);
    if (!parsed.success) return parsed.error.issues.map(describeIssue).join('; ');
    return { path: parsed.data.path, size: parsed.data.size, mtime: parsed.data.mtime, sha256: false };
  }
  const parsed = originLineSchema.safeParse(json);
  if (!parsed.success) return parsed.error.issues.map(describeIssue).join('; ');
  const { sha256 } = parsed.data;
  const fields: LineFields = {
    path: parsed.data.path,
    size: parsed.data.size,
    mtime: parsed.data.mtime,
    sha256: sha256 !== undefined && decodeSha256(sha256, hash),
  };
  if (json.pieces !== undefined) {
    const pieces = schemaPieces(json.pieces, fields.size);
    if (typeof pieces === 'string') fields.piecesProblem = pieces;
    else if (pieces !== undefined) fields.pieces = pieces;
  }
  return fields;
}

/**
 * What keep() did with a line whose path an earlier line had (line `earlier`): the same version again
 * (skipped), or another one, which replaces it: a manifest appended to (`gen >> manifest`) says the
 * current version last.
 */
type Duplicate = { earlier: number; replaced: boolean };

/** Where good lines go; `hash` holds the sha256 bytes when fields.sha256. */
interface LineSink {
  keep(fields: LineFields, hash: Uint8Array, line: number): Duplicate | undefined;
}

/** Origin lines straight into the index columns. */
class IndexSink implements LineSink {
  readonly builder = new FileIndexBuilder();
  // File number -> the line it last came from, to name both lines of a duplicate.
  private readonly lines: number[] = [];

  keep(fields: LineFields, hash: Uint8Array, line: number): Duplicate | undefined {
    const sha256 = fields.sha256 ? hash : undefined;
    const i = this.builder.add(fields.path, fields.size, fields.mtime, sha256, fields.pieces);
    if (i >= 0) {
      this.lines.push(line);
      return undefined;
    }
    const f = this.builder.lookup(fields.path);
    const earlier = this.lines[f]!;
    if (this.builder.isVersion(f, fields.size, fields.mtime, sha256)) return { earlier, replaced: false };
    this.builder.replace(f, fields.size, fields.mtime, sha256);
    this.lines[f] = line;
    return { earlier, replaced: true };
  }
}

/** Mirror inventory lines as entries. */
class InventorySink implements LineSink {
  readonly entries: InventoryEntry[] = [];
  // Path -> its entry's place and the line it last came from, to name both lines of a duplicate.
  private readonly seen = new Map<string, { at: number; line: number }>();

  keep(fields: LineFields, _hash: Uint8Array, line: number): Duplicate | undefined {
    // Built by hand so absent keys stay absent: results compare and serialise cleanly.
    const entry: InventoryEntry = { path: fields.path, size: fields.size };
    if (fields.mtime !== undefined) entry.mtime = fields.mtime;
    const before = this.seen.get(fields.path);
    if (before === undefined) {
      this.seen.set(fields.path, { at: this.entries.length, line });
      this.entries.push(entry);
      return undefined;
    }
    const old = this.entries[before.at]!;
    const earlier = before.line;
    if (old.size === entry.size && old.mtime === entry.mtime) return { earlier, replaced: false };
    this.entries[before.at] = entry;
    before.line = line;
    return { earlier, replaced: true };
  }
}

/**
 * Judges the lines of one manifest in order: shared by the streaming file readers and the
 * in-memory text parsers so both judge a line exactly alike.
 */
class ManifestLineParser {
  readonly problems: ManifestProblem[] = [];
  private line = 0;
  // The current line's sha256 bytes, reused from line to line.
  private readonly hash = new Uint8Array(32);

  constructor(
    private readonly kind: LineKind,
    private readonly sink: LineSink,
    private readonly name: string,
    private readonly onProblem: ((problem: ManifestProblem) => void) | undefined,
  ) {}

  /** The next line's text, without its line break. */
  push(text: string): void {
    const line = ++this.line;
    // Editors on Windows save JSONL with a byte-order mark that JSON.parse refuses.
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (isBlankOrComment(text)) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      this.problem(line, `malformed JSON: ${(error as Error).message}`);
      return;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.problem(line, 'expected a JSON object');
      return;
    }
    const object = json as Record<string, unknown>;
    const fields = quickLineFields(object, this.kind, this.hash) ?? schemaLineFields(object, this.kind, this.hash);
    if (typeof fields === 'string') {
      this.problem(line, fields);
      return;
    }
    // Manifests made with `find /srv/pub` style tools often carry a leading slash; it means the same file.
    if (fields.path.charCodeAt(0) === 0x2f) fields.path = fields.path.slice(1);
    const invalid = validateOriginPath(fields.path);
    if (invalid !== undefined) {
      this.problem(line, `path: ${invalid}`);
      return;
    }
    const duplicate = this.sink.keep(fields, this.hash, line);
    if (duplicate?.replaced)
      this.problem(
        line,
        `path: replaces line ${duplicate.earlier} (the later line for a path is its current ${this.kind === 'origin' ? 'version; kept without piece hashes' : 'copy'})`,
        true,
      );
    else if (duplicate) this.problem(line, `path: duplicate of line ${duplicate.earlier}`);
    // Bad piece hashes cost the file its piece hashes only: clients still get it, checked whole.
    else if (fields.piecesProblem !== undefined) this.problem(line, `${fields.piecesProblem}; file kept without piece hashes`, true);
  }

  private problem(line: number, reason: string, kept?: boolean): void {
    const problem: ManifestProblem = { file: this.name, line, reason };
    if (kept) problem.kept = true;
    this.problems.push(problem);
    this.onProblem?.(problem);
  }
}

function isBlankOrComment(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Space, tab, and CR (a CRLF file read by a '\n' splitter).
    if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
    return c === 0x23; // '#'
  }
  return true;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join('.') : 'line';
  return `${where}: ${issue.message}`;
}

/**
 * Cuts streamed text into lines where node:readline does (`\n`, `\r\n`, or a lone `\r`), so line
 * numbers match what readers of the file see; calls onLine synchronously, without readline's
 * await per line.
 */
class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (text: string) => void) {}

  push(chunk: string): void {
    // A chunk without a break only lengthens the current line: keeps a huge line linear, not quadratic.
    if (chunk.indexOf('\n') === -1 && chunk.indexOf('\r') === -1) {
      this.rest += chunk;
      return;
    }
    const text = this.rest === '' ? chunk : this.rest + chunk;
    this.rest = text.slice(splitLines(text, false, this.onLine));
  }

  end(): void {
    splitLines(this.rest, true, this.onLine);
    this.rest = '';
  }
}

/** Calls onLine for each complete line of `text` and returns where the unfinished rest starts. */
function splitLines(text: string, final: boolean, onLine: (text: string) => void): number {
  let start = 0;
  let cr = text.indexOf('\r');
  for (;;) {
    const lf = text.indexOf('\n', start);
    if (cr !== -1 && (lf === -1 || cr < lf - 1)) {
      // A CR that is not part of a CRLF ends a line of its own, as in readline. At the very end
      // of a chunk it waits: the next chunk may open with the LF of a CRLF.
      if (cr === text.length - 1 && !final) break;
      onLine(text.slice(start, cr));
      start = cr + 1;
      cr = text.indexOf('\r', start);
      continue;
    }
    if (lf === -1) break;
    onLine(text.slice(start, cr !== -1 && cr === lf - 1 ? cr : lf));
    start = lf + 1;
    if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
  }
  if (final && start < text.length) {
    onLine(text.slice(start));
    start = text.length;
  }
  return start;
}

/** Parses in-memory text, split on `\n` only (a CR before it is blank space to the line judge). */
function parseText(parser: ManifestLineParser, text: string): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    parser.push(text.slice(start, end));
    start = end + 1;
  }
}

/** Feeds streamed text to the parser line by line. */
async function parseStream(text: AsyncIterable<string>, parser: ManifestLineParser): Promise<void> {
  const lines = new LineSplitter((line) => parser.push(line));
  for await (const chunk of text) lines.push(chunk);
  lines.end();
}

/** Streams a manifest file through the parser without holding its text in memory. */
async function readManifestFile(file: string, parser: ManifestLineParser): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`cannot read manifest ${file}: ${why}`, { cause: error });
  }
  // The stream owns the handle from here and closes it when it ends or fails.
  const input = handle.createReadStream({ encoding: 'utf8', highWaterMark: 256 * 1024 });
  try {
    await parseStream(input as AsyncIterable<string>, parser);
  } catch (error) {
    throw new Error(`cannot read manifest ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    input.destroy();
  }
}

/**
 * Reads an origin manifest (`{"path","size","mtime"?,"sha256"?,"pieces"?}` per line) straight
 * into a FileIndex: the way to load a large one, holding neither its text nor an object per file.
 * `pieces` is `{"length": <bytes, a power of two from 16 KiB to 1 GiB>, "sha256": [<hex>, …]}`
 * with ceil(size / length) hashes; a line whose pieces are bad keeps its file without them, and
 * says why in a problem marked `kept`.
 */
export async function readOriginIndex(file: string, opts?: ManifestOptions): Promise<OriginIndexManifest> {
  const sink = new IndexSink();
  const parser = new ManifestLineParser('origin', sink, file, opts?.onProblem);
  await readManifestFile(file, parser);
  return { index: sink.builder.build(), problems: parser.problems };
}

/**
 * readOriginIndex for text from elsewhere (an HTTP body, decoded): any chunking, lines cut as in
 * a file; `name` labels problems. Errors of the stream pass through as they are.
 */
export async function readOriginIndexFrom(text: AsyncIterable<string>, name: string, opts?: ManifestOptions): Promise<OriginIndexManifest> {
  const sink = new IndexSink();
  const parser = new ManifestLineParser('origin', sink, name, opts?.onProblem);
  await parseStream(text, parser);
  return { index: sink.builder.build(), problems: parser.problems };
}

/** Reads an origin manifest as OriginFile objects (first copy of each path, in file order). */
export async function readOriginManifest(file: string, opts?: ManifestOptions): Promise<OriginManifest> {
  const { index, problems } = await readOriginIndex(file, opts);
  return { files: [...index.files()], problems };
}

/** Reads a mirror inventory (`{"path","size","mtime"?}` per line) without holding its text in memory. */
export async function readMirrorManifest(file: string, opts?: ManifestOptions): Promise<MirrorManifest> {
  const sink = new InventorySink();
  const parser = new ManifestLineParser('mirror', sink, file, opts?.onProblem);
  await readManifestFile(file, parser);
  return { files: sink.entries, problems: parser.problems };
}

/** Parses an origin manifest already in memory (fetched over HTTP, or in a Worker); `name` labels problems. */
export function parseOriginManifestText(text: string, name: string, opts?: ManifestOptions): OriginManifest {
  const sink = new IndexSink();
  const parser = new ManifestLineParser('origin', sink, name, opts?.onProblem);
  parseText(parser, text);
  return { files: [...sink.builder.build().files()], problems: parser.problems };
}

/** Parses a mirror inventory already in memory; `name` labels problems. */
export function parseMirrorManifestText(text: string, name: string, opts?: ManifestOptions): MirrorManifest {
  const sink = new InventorySink();
  const parser = new ManifestLineParser('mirror', sink, name, opts?.onProblem);
  parseText(parser, text);
  return { files: sink.entries, problems: parser.problems };
}
