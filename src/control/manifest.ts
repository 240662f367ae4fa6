// Reads origin manifests and mirror inventories (JSON Lines) line by line, keeping every good line and naming every bad one.

import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { InventoryEntry, OriginFile } from '../core/model.js';
import { validateOriginPath } from '../core/paths.js';

/** One skipped manifest line and why. */
export interface ManifestProblem {
  file: string;
  /** 1-based. */
  line: number;
  reason: string;
}

export interface ManifestOptions {
  /** Called as each problem is found, e.g. to log it before the whole file is read. */
  onProblem?(problem: ManifestProblem): void;
}

export interface OriginManifest {
  files: OriginFile[];
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

const mtimeSchema = z
  .union([z.number().nonnegative(), z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'expected epoch seconds or milliseconds, or an ISO-8601 date-time with a time zone',
  })
  .transform((value, ctx) => {
    const seconds =
      typeof value === 'number'
        ? value > MILLISECONDS_THRESHOLD
          ? value / 1000
          : value
        : Date.parse(value) / 1000;
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

const originLineSchema = z.object({
  path: pathSchema,
  size: sizeSchema,
  mtime: mtimeSchema.optional(),
  sha256: z
    .string({ error: 'expected 64 hex characters' })
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'expected 64 hex characters' })
    .transform((hex) => hex.toLowerCase())
    .optional(),
});

const mirrorLineSchema = z.object({
  path: pathSchema,
  size: sizeSchema,
  mtime: mtimeSchema.optional(),
});

/** How one kind of manifest line is checked and turned into its domain object. */
interface LineKind<S extends z.ZodType<{ path: string }>, T> {
  schema: S;
  toItem(line: z.output<S>, path: string): T;
}

const originLine: LineKind<typeof originLineSchema, OriginFile> = {
  schema: originLineSchema,
  // Built by hand so absent keys stay absent: results compare and serialise cleanly.
  toItem(line: z.output<typeof originLineSchema>, path: string): OriginFile {
    const file: OriginFile = { path, size: line.size };
    if (line.mtime !== undefined) file.mtime = line.mtime;
    if (line.sha256 !== undefined) file.sha256 = line.sha256;
    return file;
  },
};

const mirrorLine: LineKind<typeof mirrorLineSchema, InventoryEntry> = {
  schema: mirrorLineSchema,
  toItem(line: z.output<typeof mirrorLineSchema>, path: string): InventoryEntry {
    const entry: InventoryEntry = { path, size: line.size };
    if (line.mtime !== undefined) entry.mtime = line.mtime;
    return entry;
  },
};

/**
 * Accumulates the lines of one manifest: shared by the streaming file readers and the
 * in-memory text parsers so both judge a line exactly alike.
 */
class ManifestLineParser<S extends z.ZodType<{ path: string }>, T> {
  readonly items: T[] = [];
  readonly problems: ManifestProblem[] = [];
  // Path -> line it was first seen on, to name both lines of a duplicate.
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly kind: LineKind<S, T>,
    private readonly name: string,
    private readonly onProblem: ((problem: ManifestProblem) => void) | undefined,
  ) {}

  push(text: string, line: number): void {
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
    const parsed = this.kind.schema.safeParse(json);
    if (!parsed.success) {
      this.problem(line, parsed.error.issues.map(describeIssue).join('; '));
      return;
    }
    let path = parsed.data.path;
    // Manifests made with `find /srv/pub` style tools often carry a leading slash; it means the same file.
    if (path.charCodeAt(0) === 0x2f) path = path.slice(1);
    const invalid = validateOriginPath(path);
    if (invalid !== undefined) {
      this.problem(line, `path: ${invalid}`);
      return;
    }
    const firstLine = this.seen.get(path);
    if (firstLine !== undefined) {
      this.problem(line, `path: duplicate of line ${firstLine}`);
      return;
    }
    this.seen.set(path, line);
    this.items.push(this.kind.toItem(parsed.data, path));
  }

  private problem(line: number, reason: string): void {
    const problem = { file: this.name, line, reason };
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

function parseText<S extends z.ZodType<{ path: string }>, T>(
  kind: LineKind<S, T>,
  text: string,
  name: string,
  opts: ManifestOptions | undefined,
): { files: T[]; problems: ManifestProblem[] } {
  const parser = new ManifestLineParser(kind, name, opts?.onProblem);
  let start = 0;
  let line = 1;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    parser.push(text.slice(start, end), line);
    start = end + 1;
    line++;
  }
  return { files: parser.items, problems: parser.problems };
}

async function readManifestFile<S extends z.ZodType<{ path: string }>, T>(
  kind: LineKind<S, T>,
  file: string,
  opts: ManifestOptions | undefined,
): Promise<{ files: T[]; problems: ManifestProblem[] }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`cannot read manifest ${file}: ${why}`, { cause: error });
  }
  const parser = new ManifestLineParser(kind, file, opts?.onProblem);
  // The stream owns the handle from here and closes it when it ends or fails.
  const input = handle.createReadStream({ encoding: 'utf8', highWaterMark: 256 * 1024 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) parser.push(text, ++line);
  } catch (error) {
    throw new Error(`cannot read manifest ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    lines.close();
    input.destroy();
  }
  return { files: parser.items, problems: parser.problems };
}

/** Reads an origin manifest (`{"path","size","mtime"?,"sha256"?}` per line) without holding its text in memory. */
export function readOriginManifest(file: string, opts?: ManifestOptions): Promise<OriginManifest> {
  return readManifestFile(originLine, file, opts);
}

/** Reads a mirror inventory (`{"path","size","mtime"?}` per line) without holding its text in memory. */
export function readMirrorManifest(file: string, opts?: ManifestOptions): Promise<MirrorManifest> {
  return readManifestFile(mirrorLine, file, opts);
}

/** Parses an origin manifest already in memory (fetched over HTTP, or in a Worker); `name` labels problems. */
export function parseOriginManifestText(text: string, name: string, opts?: ManifestOptions): OriginManifest {
  return parseText(originLine, text, name, opts);
}

/** Parses a mirror inventory already in memory; `name` labels problems. */
export function parseMirrorManifestText(text: string, name: string, opts?: ManifestOptions): MirrorManifest {
  return parseText(mirrorLine, text, name, opts);
}
