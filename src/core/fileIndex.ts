// The origin file set as compact parallel arrays: file number → path, size, mtime, sha-256.
import type { OriginFile } from './model.js';

const HASH_BYTES = 32;

export interface FileColumns {
  paths: readonly string[];
  sizes: Float64Array;
  /** NaN where unknown. */
  mtimes: Float64Array;
  /** 32 bytes per file. */
  hashes: Uint8Array;
  hashKnown: Uint8Array;
}

/**
 * Immutable index of the origin's files. Numbers are dense (0..count-1) so per-file facts
 * (availability bits, rule classes) can live in typed arrays instead of one object per file.
 */
export class FileIndex {
  readonly count: number;
  readonly paths: readonly string[];
  private readonly byPath: Map<string, number>;
  private readonly sizes: Float64Array;
  /** NaN where the manifest gave no mtime. */
  private readonly mtimes: Float64Array;
  private readonly hashes: Uint8Array;
  private readonly hashKnown: Uint8Array;

  private constructor(files: readonly OriginFile[]) {
    const n = files.length;
    this.count = n;
    const paths = new Array<string>(n);
    this.byPath = new Map();
    this.sizes = new Float64Array(n);
    this.mtimes = new Float64Array(n);
    this.hashes = new Uint8Array(n * HASH_BYTES);
    this.hashKnown = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const f = files[i]!;
      paths[i] = f.path;
      this.byPath.set(f.path, i);
      this.sizes[i] = f.size;
      this.mtimes[i] = f.mtime ?? Number.NaN;
      if (f.sha256 && /^[0-9a-f]{64}$/.test(f.sha256)) {
        this.hashKnown[i] = 1;
        for (let b = 0; b < HASH_BYTES; b++) {
          this.hashes[i * HASH_BYTES + b] = parseInt(f.sha256.slice(b * 2, b * 2 + 2), 16);
        }
      }
    }
    this.paths = paths;
  }

  /** The raw columns, for the snapshot codec (shared, not copied: treat as read-only). */
  columns(): FileColumns {
    return { paths: this.paths, sizes: this.sizes, mtimes: this.mtimes, hashes: this.hashes, hashKnown: this.hashKnown };
  }

  /** Rebuilds an index from columns made by columns(), without re-parsing hex hashes. */
  static fromColumns(cols: FileColumns): FileIndex {
    const index = Object.create(FileIndex.prototype) as FileIndex;
    const byPath = new Map<string, number>();
    for (let i = 0; i < cols.paths.length; i++) byPath.set(cols.paths[i]!, i);
    Object.assign(index, {
      count: cols.paths.length,
      paths: cols.paths,
      byPath,
      sizes: cols.sizes,
      mtimes: cols.mtimes,
      hashes: cols.hashes,
      hashKnown: cols.hashKnown,
    });
    return index;
  }

  /** Builds an index; later duplicates of a path are ignored (manifest readers report them). */
  static from(files: readonly OriginFile[]): FileIndex {
    const seen = new Set<string>();
    const unique = files.filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)));
    return new FileIndex(unique);
  }

  /** File number for a path, or -1. */
  lookup(path: string): number {
    return this.byPath.get(path) ?? -1;
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** Epoch seconds, or undefined when unknown. */
  mtime(i: number): number | undefined {
    const m = this.mtimes[i]!;
    return Number.isNaN(m) ? undefined : m;
  }

  sha256Hex(i: number): string | undefined {
    if (!this.hashKnown[i]) return undefined;
    let hex = '';
    for (let b = 0; b < HASH_BYTES; b++) hex += this.hashes[i * HASH_BYTES + b]!.toString(16).padStart(2, '0');
    return hex;
  }

  sha256Base64(i: number): string | undefined {
    if (!this.hashKnown[i]) return undefined;
    return bytesToBase64(this.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  }

  file(i: number): OriginFile {
    const f: OriginFile = { path: this.paths[i]!, size: this.sizes[i]! };
    const mtime = this.mtime(i);
    if (mtime !== undefined) f.mtime = mtime;
    const sha256 = this.sha256Hex(i);
    if (sha256 !== undefined) f.sha256 = sha256;
    return f;
  }

  /** True when a copy with this size and mtime is the current origin copy of file i. */
  isCurrent(i: number, size: number, mtime: number | undefined): boolean {
    if (this.sizes[i] !== size) return false;
    const m = this.mtimes[i]!;
    return mtime === undefined || Number.isNaN(m) || m === mtime;
  }

  *files(): IterableIterator<OriginFile> {
    for (let i = 0; i < this.count; i++) yield this.file(i);
  }
}

// btoa exists on Node 20 and Workers alike; Buffer does not exist on Workers.
function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}
