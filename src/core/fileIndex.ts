// The origin file set as compact parallel arrays: file number → path, size, mtime, sha-256, and piece hashes where known.
import type { FilePieces, OriginFile } from './model.js';

const HASH_BYTES = 32;
/** Smallest and largest piece length a file's piece hashes may use (powers of two between). */
export const MIN_PIECE_LENGTH = 16 * 1024;
// aria2 keeps the piece length in an int32: 2^30 is the largest power of two it can take.
export const MAX_PIECE_LENGTH = 2 ** 30;
const LOWER_HEX_64 = /^[0-9a-f]{64}$/;
// Room for this many files before the builder's columns first grow.
const INITIAL_CAPACITY = 1024;

export interface FileColumns {
  paths: readonly string[];
  sizes: Float64Array;
  /** NaN where unknown. */
  mtimes: Float64Array;
  /** 32 bytes per file. */
  hashes: Uint8Array;
  hashKnown: Uint8Array;
  /** Piece hashes of the few files that have them; absent when none has. */
  pieces?: PieceColumns;
  /** When the files that changed or appeared while we watched the origin did so; absent when none has. */
  arrivals?: ArrivalColumns;
}

/**
 * A sparse side table, like the piece table: row r says file `files[r]` (ascending) arrived in its
 * current version at `at[r]` (epoch seconds, this service's clock), new as a path where `isNew[r]` is 1.
 * Files in the index as first loaded have no row: their history is not known.
 */
export interface ArrivalColumns {
  files: Uint32Array;
  at: Float64Array;
  isNew: Uint8Array;
}

/** A file's arrival, by file number (see ArrivalColumns). */
export interface Arrival {
  file: number;
  at: number;
  isNew: boolean;
}

/**
 * A sparse side table: most files have no piece hashes, so they cost nothing here. Row r holds
 * file `files[r]` (ascending), its piece length and pieces starts[r]..starts[r + 1] of `hashes`.
 */
export interface PieceColumns {
  files: Uint32Array;
  /** Bytes; a power of two from MIN_PIECE_LENGTH to MAX_PIECE_LENGTH. */
  lengths: Uint32Array;
  /** Piece numbers, one more entry than rows; starts[rows] is the piece count. */
  starts: Uint32Array;
  /** 32 bytes per piece. */
  hashes: Uint8Array;
}

/** A file's piece hashes as bytes: `hashes` holds 32 bytes per piece, in file order. */
export interface PieceHashes {
  length: number;
  hashes: Uint8Array;
}

/** True for a piece length piece hashes may use: a power of two from 16 KiB to 1 GiB. */
export function isPieceLength(length: number): boolean {
  return Number.isInteger(length) && length >= MIN_PIECE_LENGTH && length <= MAX_PIECE_LENGTH && (length & (length - 1)) === 0;
}

/** How many pieces of `length` bytes a file of `size` bytes has (the last one may be short). */
export function pieceCount(size: number, length: number): number {
  return Math.ceil(size / length);
}

// Builds a FileIndex from its private parts; set in FileIndex's static block so the constructor stays private.
let assemble: (cols: FileColumns, byPath: PathTable) => FileIndex;

/**
 * Immutable index of the origin's files. Numbers are dense (0..count-1) so per-file facts
 * (availability bits, rule classes) can live in typed arrays instead of one object per file.
 * Its paths passed validateOriginPath: the readers (manifest, tree) check every one, and a
 * download path found here needs no second check.
 */
export class FileIndex {
  readonly count: number;
  readonly paths: readonly string[];
  private readonly byPath: PathTable;
  private readonly sizes: Float64Array;
  /** NaN where the manifest gave no mtime. */
  private readonly mtimes: Float64Array;
  private readonly hashes: Uint8Array;
  private readonly hashKnown: Uint8Array;
  private readonly pieces: PieceColumns | undefined;
  private readonly arrivals: ArrivalColumns | undefined;
  /** max(mtime, arrival) per file where some file has an arrival (else the mtimes themselves): see syncKey. */
  private readonly syncKeys: Float64Array;
  /** sha256Base64 of files asked for lately (every 302 carries it): downloads crowd on few files. */
  private readonly base64Seen = new Map<number, string>();

  static {
    assemble = (cols, byPath) => new FileIndex(cols, byPath);
  }

  private constructor(cols: FileColumns, byPath: PathTable) {
    this.count = cols.paths.length;
    this.paths = cols.paths;
    this.byPath = byPath;
    this.sizes = cols.sizes;
    this.mtimes = cols.mtimes;
    this.hashes = cols.hashes;
    this.hashKnown = cols.hashKnown;
    this.pieces = cols.pieces !== undefined && cols.pieces.files.length > 0 ? cols.pieces : undefined;
    this.arrivals = cols.arrivals !== undefined && cols.arrivals.files.length > 0 ? cols.arrivals : undefined;
    this.syncKeys = this.arrivals === undefined ? this.mtimes : syncKeysOf(this.mtimes, this.arrivals);
  }

  /** The raw columns, for the snapshot codec (shared, not copied: treat as read-only). */
  columns(): FileColumns {
    const cols: FileColumns = { paths: this.paths, sizes: this.sizes, mtimes: this.mtimes, hashes: this.hashes, hashKnown: this.hashKnown };
    if (this.pieces !== undefined) cols.pieces = this.pieces;
    if (this.arrivals !== undefined) cols.arrivals = this.arrivals;
    return cols;
  }

  /** The same files with these arrivals (any earlier ones replaced); columns and path table are shared. */
  withArrivals(arrivals: Iterable<Arrival>): FileIndex {
    const sorted = [...arrivals].filter((a) => a.file >= 0 && a.file < this.count).sort((a, b) => a.file - b.file);
    // One row per file (the table is searched and checked as strictly ascending): the last given wins.
    const rows = sorted.filter((a, k) => k + 1 === sorted.length || sorted[k + 1]!.file !== a.file);
    const cols = this.columns();
    delete cols.arrivals;
    if (rows.length > 0)
      cols.arrivals = {
        files: Uint32Array.from(rows, (a) => a.file),
        at: Float64Array.from(rows, (a) => a.at),
        isNew: Uint8Array.from(rows, (a) => (a.isNew ? 1 : 0)),
      };
    return assemble(cols, this.byPath);
  }

  /** Rebuilds an index from columns made by columns() (each path once), without re-parsing hex hashes. */
  static fromColumns(cols: FileColumns): FileIndex {
    const byPath = new PathTable(cols.paths, cols.paths.length);
    for (let i = 0; i < cols.paths.length; i++) byPath.putIfAbsent(cols.paths[i]!, i);
    return new FileIndex(cols, byPath);
  }

  /**
   * Builds an index; later duplicates of a path are ignored (manifest readers report them).
   * Only a lower-case 64-digit sha256 counts as known, as OriginFile promises; piece hashes
   * only when all of them are lower-case hex, as many as the size and piece length call for.
   */
  static from(files: Iterable<OriginFile>): FileIndex {
    const builder = new FileIndexBuilder();
    const hash = new Uint8Array(HASH_BYTES);
    for (const f of files) {
      const known = f.sha256 !== undefined && LOWER_HEX_64.test(f.sha256) && decodeSha256(f.sha256, hash);
      builder.add(f.path, f.size, f.mtime, known ? hash : undefined, f.pieces === undefined ? undefined : decodePieces(f.pieces, f.size));
    }
    return builder.build();
  }

  /** File number for a path, or -1. */
  lookup(path: string): number {
    return this.byPath.get(path);
  }

  /**
   * lookup for a path a mirror reported (a listing, a manifest): as given, else in Unicode NFC, since a
   * mirror's file system or tools may spell an accented name decomposed where the origin does not.
   */
  lookupListed(path: string): number {
    const f = this.byPath.get(path);
    if (f >= 0 || isAscii(path)) return f;
    const nfc = path.normalize('NFC');
    return nfc === path ? -1 : this.byPath.get(nfc);
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** Epoch seconds, or undefined when unknown. */
  mtime(i: number): number | undefined {
    const m = this.mtimes[i]!;
    return Number.isNaN(m) ? undefined : m;
  }

  /**
   * What a mirror's last sync is compared with to tell whether it can hold file i's current version:
   * its mtime, or the time we saw that version arrive where that is later (a file copied in with an
   * older mtime kept is still new); -Infinity when neither is known.
   */
  syncKey(i: number): number {
    const k = this.syncKeys[i]!;
    return k === k ? k : -Infinity; // NaN: unknown
  }

  /** When file i's current version arrived while we watched, or undefined when it was there from the first load. */
  arrival(i: number): Arrival | undefined {
    const r = sparseRow(this.arrivals?.files, i);
    if (r < 0) return undefined;
    const table = this.arrivals!;
    return { file: i, at: table.at[r]!, isNew: table.isNew[r] === 1 };
  }

  /** The arrivals known for this index, by file number. */
  *knownArrivals(): IterableIterator<Arrival> {
    const table = this.arrivals;
    if (table === undefined) return;
    for (let r = 0; r < table.files.length; r++) yield { file: table.files[r]!, at: table.at[r]!, isNew: table.isNew[r] === 1 };
  }

  /** True when file j of `other` is the same version as file i here: size, and mtime and sha-256 where both know them. */
  sameVersion(i: number, other: FileIndex, j: number): boolean {
    if (this.sizes[i] !== other.sizes[j]) return false;
    const a = this.mtimes[i]!;
    const b = other.mtimes[j]!;
    if (a === a && b === b && a !== b) return false;
    if (!this.hashKnown[i] || !other.hashKnown[j]) return true;
    const x = i * HASH_BYTES;
    const y = j * HASH_BYTES;
    for (let k = 0; k < HASH_BYTES; k++) if (this.hashes[x + k] !== other.hashes[y + k]) return false;
    return true;
  }

  sha256Hex(i: number): string | undefined {
    if (!this.hashKnown[i]) return undefined;
    const at = i * HASH_BYTES;
    for (let b = 0; b < HASH_BYTES; b++) {
      const byte = this.hashes[at + b]!;
      hexCodes[2 * b] = HEX_CODES[byte >> 4]!;
      hexCodes[2 * b + 1] = HEX_CODES[byte & 15]!;
    }
    // One flat string: `+=` of 32 pieces leaves a tree of 31 cons strings behind each hash kept.
    return String.fromCharCode.apply(null, hexCodes as unknown as number[]);
  }

  sha256Base64(i: number): string | undefined {
    if (!this.hashKnown[i]) return undefined;
    let b64 = this.base64Seen.get(i);
    if (b64 === undefined) {
      b64 = bytesToBase64(this.hashes, i * HASH_BYTES, HASH_BYTES);
      // Bounded by starting over: a few MB at most, and the popular files are back in at once.
      if (this.base64Seen.size >= BASE64_KEPT) this.base64Seen.clear();
      this.base64Seen.set(i, b64);
    }
    return b64;
  }

  /** The row of file i in the piece table, or -1 when it has no piece hashes. */
  private pieceRow(i: number): number {
    return sparseRow(this.pieces?.files, i);
  }

  /** File i's piece length and count, or undefined when it has no piece hashes. */
  pieceInfo(i: number): { length: number; count: number } | undefined {
    const r = this.pieceRow(i);
    if (r < 0) return undefined;
    const table = this.pieces!;
    return { length: table.lengths[r]!, count: table.starts[r + 1]! - table.starts[r]! };
  }

  /** File i's piece hashes as bytes (a view into the index: read-only), or undefined. */
  pieceHashes(i: number): PieceHashes | undefined {
    const r = this.pieceRow(i);
    if (r < 0) return undefined;
    const table = this.pieces!;
    return { length: table.lengths[r]!, hashes: table.hashes.subarray(table.starts[r]! * HASH_BYTES, table.starts[r + 1]! * HASH_BYTES) };
  }

  /** File i as a record; `pieces: false` leaves out the piece hashes (thousands of them for a large file). */
  file(i: number, opts?: { pieces?: boolean }): OriginFile {
    const f: OriginFile = { path: this.paths[i]!, size: this.sizes[i]! };
    const mtime = this.mtime(i);
    if (mtime !== undefined) f.mtime = mtime;
    const sha256 = this.sha256Hex(i);
    if (sha256 !== undefined) f.sha256 = sha256;
    const pieces = opts?.pieces === false ? undefined : this.pieceHashes(i);
    if (pieces !== undefined) f.pieces = { length: pieces.length, sha256: bytesToHex(pieces.hashes) };
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

/**
 * Grows the index columns one file at a time, so a large manifest never exists as one object
 * per file: each file costs its path string, 49 bytes of columns and a path-table slot.
 */
export class FileIndexBuilder {
  private readonly paths: string[] = [];
  private readonly byPath = new PathTable(this.paths, INITIAL_CAPACITY);
  private capacity = INITIAL_CAPACITY;
  private sizes = new Float64Array(INITIAL_CAPACITY);
  private mtimes = new Float64Array(INITIAL_CAPACITY);
  private hashes = new Uint8Array(INITIAL_CAPACITY * HASH_BYTES);
  private hashKnown = new Uint8Array(INITIAL_CAPACITY);
  // The piece table grows apart from the columns: most files add nothing to it.
  private pieceFiles: number[] = [];
  private pieceLengths: number[] = [];
  private pieceStarts: number[] = [0];
  private pieceBytes = new Uint8Array(0);
  private built = false;
  /** Files whose piece hashes a later version (replace) took away: their rows are left out at build. */
  private readonly droppedPieces = new Set<number>();

  get count(): number {
    return this.paths.length;
  }

  /** File number of a path added so far, or -1. */
  lookup(path: string): number {
    return this.byPath.get(path);
  }

  /**
   * Adds a file and returns its number, or -1 when the path is already in: the first one wins.
   * `sha256` is the hash's 32 bytes (see decodeSha256), copied; so are `pieces`, which must
   * have a valid length (isPieceLength) and exactly pieceCount(size, length) hashes: a
   * RangeError otherwise, since callers check both before. A file of no bytes has no pieces.
   */
  add(path: string, size: number, mtime: number | undefined, sha256?: Uint8Array, pieces?: PieceHashes): number {
    if (pieces !== undefined && (!isPieceLength(pieces.length) || pieces.hashes.length !== pieceCount(size, pieces.length) * HASH_BYTES)) {
      throw new RangeError(`FileIndexBuilder: ${path}: piece hashes do not fit a size of ${size} bytes in pieces of ${pieces.length}`);
    }
    if (this.built) throw new Error('FileIndexBuilder: add after build');
    const i = this.paths.length;
    if (this.byPath.putIfAbsent(path, i) !== -1) return -1;
    if (i === this.capacity) this.grow();
    this.paths.push(path);
    this.sizes[i] = size;
    this.mtimes[i] = mtime ?? Number.NaN;
    if (sha256 !== undefined) {
      // A plain loop: set() on a 32-byte view costs more than the copy.
      const hashes = this.hashes;
      const at = i * HASH_BYTES;
      for (let b = 0; b < HASH_BYTES; b++) hashes[at + b] = sha256[b]!;
      this.hashKnown[i] = 1;
    }
    if (pieces !== undefined && pieces.hashes.length > 0) this.addPieces(i, pieces);
    return i;
  }

  /**
   * Gives file i another version (a later manifest line for the same path): size, mtime and sha-256 as
   * given; piece hashes it had are dropped (the table grows in file order only), and new ones are not taken.
   */
  replace(i: number, size: number, mtime: number | undefined, sha256?: Uint8Array): void {
    if (this.built) throw new Error('FileIndexBuilder: replace after build');
    this.sizes[i] = size;
    this.mtimes[i] = mtime ?? Number.NaN;
    const at = i * HASH_BYTES;
    if (sha256 !== undefined) for (let b = 0; b < HASH_BYTES; b++) this.hashes[at + b] = sha256[b]!;
    else this.hashes.fill(0, at, at + HASH_BYTES);
    this.hashKnown[i] = sha256 !== undefined ? 1 : 0;
    this.droppedPieces.add(i);
  }

  /** True when file i as added so far has this size, mtime and sha-256 (unknown on either side matches). */
  isVersion(i: number, size: number, mtime: number | undefined, sha256?: Uint8Array): boolean {
    if (this.sizes[i] !== size) return false;
    const m = this.mtimes[i]!;
    if (mtime !== undefined && m === m && m !== mtime) return false;
    if (sha256 === undefined || !this.hashKnown[i]) return true;
    const at = i * HASH_BYTES;
    for (let b = 0; b < HASH_BYTES; b++) if (this.hashes[at + b] !== sha256[b]) return false;
    return true;
  }

  private addPieces(i: number, pieces: PieceHashes): void {
    const at = this.pieceStarts[this.pieceStarts.length - 1]! * HASH_BYTES;
    const need = at + pieces.hashes.length;
    if (need > this.pieceBytes.length) this.pieceBytes = withCapacity(this.pieceBytes, Math.max(need, 2 * this.pieceBytes.length, 64 * 1024));
    this.pieceBytes.set(pieces.hashes, at);
    this.pieceFiles.push(i);
    this.pieceLengths.push(pieces.length);
    this.pieceStarts.push(need / HASH_BYTES);
  }

  /** The finished index; the builder is spent afterwards. */
  build(): FileIndex {
    if (this.built) throw new Error('FileIndexBuilder: build called twice');
    this.built = true;
    const n = this.paths.length;
    // Exact-length copies: a doubled column can be half empty, and the index lives long.
    const cols: FileColumns = {
      paths: this.paths,
      sizes: this.sizes.slice(0, n),
      mtimes: this.mtimes.slice(0, n),
      hashes: this.hashes.slice(0, n * HASH_BYTES),
      hashKnown: this.hashKnown.slice(0, n),
    };
    if (this.droppedPieces.size > 0) this.dropPieceRows();
    if (this.pieceFiles.length > 0) {
      const pieceCount = this.pieceStarts[this.pieceStarts.length - 1]!;
      cols.pieces = {
        files: Uint32Array.from(this.pieceFiles),
        lengths: Uint32Array.from(this.pieceLengths),
        starts: Uint32Array.from(this.pieceStarts),
        hashes: this.pieceBytes.slice(0, pieceCount * HASH_BYTES),
      };
    }
    const index = assemble(cols, this.byPath);
    this.sizes = this.mtimes = new Float64Array(0);
    this.hashes = this.hashKnown = this.pieceBytes = new Uint8Array(0);
    this.pieceFiles = this.pieceLengths = this.pieceStarts = [];
    return index;
  }

  /** Leaves out the piece rows of replaced files, compacting the hashes after them. */
  private dropPieceRows(): void {
    const files: number[] = [];
    const lengths: number[] = [];
    const starts = [0];
    let to = 0;
    for (let r = 0; r < this.pieceFiles.length; r++) {
      if (this.droppedPieces.has(this.pieceFiles[r]!)) continue;
      const from = this.pieceStarts[r]! * HASH_BYTES;
      const bytes = this.pieceStarts[r + 1]! * HASH_BYTES - from;
      this.pieceBytes.copyWithin(to, from, from + bytes);
      to += bytes;
      files.push(this.pieceFiles[r]!);
      lengths.push(this.pieceLengths[r]!);
      starts.push(to / HASH_BYTES);
    }
    this.pieceFiles = files;
    this.pieceLengths = lengths;
    this.pieceStarts = starts;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    this.sizes = withCapacity(this.sizes, capacity);
    this.mtimes = withCapacity(this.mtimes, capacity);
    this.hashes = withCapacity(this.hashes, capacity * HASH_BYTES);
    this.hashKnown = withCapacity(this.hashKnown, capacity);
    this.capacity = capacity;
  }
}

/** Row of file i in a sparse side table's ascending file column, or -1. */
function sparseRow(files: Uint32Array | undefined, i: number): number {
  if (files === undefined) return -1;
  // Binary search: the table is sparse and sorted, and a Map would cost an entry per row.
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const f = files[mid]!;
    if (f === i) return mid;
    if (f < i) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function syncKeysOf(mtimes: Float64Array, arrivals: ArrivalColumns): Float64Array {
  const keys = mtimes.slice();
  for (let r = 0; r < arrivals.files.length; r++) {
    const f = arrivals.files[r]!;
    const m = keys[f]!;
    const at = arrivals.at[r]!;
    keys[f] = m === m && m >= at ? m : at;
  }
  return keys;
}

function withCapacity<T extends Float64Array | Uint8Array>(column: T, length: number): T {
  const grown = new (column.constructor as new (length: number) => T)(length);
  grown.set(column);
  return grown;
}

/**
 * Path -> file number by open addressing over one Int32Array, in place of a Map: filling a Map
 * with a million freshly parsed paths took about a second of the manifest load (the engine
 * hashes each new string and tracks each young key in an old table), this about half that, in
 * 16 MB instead of 28. Slots are pairs [file + 1 (0: empty), hash], at most half full, probed
 * linearly; paths are compared only when hashes match.
 */
class PathTable {
  private slots: Int32Array;
  private mask: number;
  private size = 0;

  /** `paths` is the file number -> path column the stored numbers point into. */
  constructor(
    private readonly paths: readonly string[],
    expected: number,
  ) {
    let count = 16;
    while (count < 2 * expected) count *= 2;
    this.slots = new Int32Array(2 * count);
    this.mask = count - 1;
  }

  /** The file number stored for `path`, or -1. */
  get(path: string): number {
    const h = hashPath(path);
    const slots = this.slots;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const file = slots[2 * i]! - 1;
      if (file < 0) return -1;
      if (slots[2 * i + 1] === h && this.paths[file] === path) return file;
    }
  }

  /** Stores `file` for `path` unless the path has a number already; returns that number, or -1 when it stored. */
  putIfAbsent(path: string, file: number): number {
    const h = hashPath(path);
    const slots = this.slots;
    let i = h & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const had = slots[2 * i]! - 1;
      if (had < 0) break;
      if (slots[2 * i + 1] === h && this.paths[had] === path) return had;
    }
    slots[2 * i] = file + 1;
    slots[2 * i + 1] = h;
    if (2 * ++this.size > this.mask + 1) this.grow();
    return -1;
  }

  private grow(): void {
    const old = this.slots;
    const count = 2 * (this.mask + 1);
    const mask = count - 1;
    const slots = new Int32Array(2 * count);
    for (let j = 0; j < old.length; j += 2) {
      if (old[j] === 0) continue;
      let i = old[j + 1]! & mask;
      while (slots[2 * i] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[j]!;
      slots[2 * i + 1] = old[j + 1]!;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** MurmurHash3 (32-bit) over the UTF-16 units, two per word: well mixed, so linear probing stays short. */
function hashPath(s: string): number {
  const n = s.length;
  let h = n;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    h ^= murmurWord(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) h ^= murmurWord(s.charCodeAt(i));
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function murmurWord(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

// Char codes of the lower-case hex digits, and scratch for one hash's 64 of them (calls never overlap).
const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const hexCodes = new Uint8Array(2 * HASH_BYTES);

// Hex digit value by char code (0xff: not a digit), read once per digit instead of parseInt on a slice.
const HEX_DIGIT = new Uint8Array(128).fill(0xff);
for (let d = 0; d < 10; d++) HEX_DIGIT[0x30 + d] = d;
for (let d = 0; d < 6; d++) HEX_DIGIT[0x41 + d] = HEX_DIGIT[0x61 + d] = 10 + d;

/**
 * Decodes a sha256 of 64 hex digits (either case) into `out`'s first 32 bytes; false for anything
 * else, leaving `out` undefined. Checking and decoding in one pass: faster than a regex test alone.
 */
export function decodeSha256(hex: string, out: Uint8Array): boolean {
  if (hex.length !== 2 * HASH_BYTES) return false;
  let bad = 0;
  for (let b = 0; b < HASH_BYTES; b++) {
    const hi = hex.charCodeAt(2 * b);
    const lo = hex.charCodeAt(2 * b + 1);
    const h = hi < 0x80 ? HEX_DIGIT[hi]! : 0xff;
    const l = lo < 0x80 ? HEX_DIGIT[lo]! : 0xff;
    bad |= h | l;
    out[b] = (h << 4) | l;
  }
  // A non-digit sets bits above the low nibble.
  return bad < 0x10;
}

/**
 * OriginFile pieces as bytes: undefined unless the length is valid and the hex holds exactly
 * the piece count's lower-case 64-digit hashes, as OriginFile promises.
 */
function decodePieces(pieces: FilePieces, size: number): PieceHashes | undefined {
  if (!isPieceLength(pieces.length) || typeof pieces.sha256 !== 'string') return undefined;
  const count = pieceCount(size, pieces.length);
  if (pieces.sha256.length !== count * 2 * HASH_BYTES || !LOWER_HEX.test(pieces.sha256)) return undefined;
  const hashes = new Uint8Array(count * HASH_BYTES);
  const one = new Uint8Array(HASH_BYTES);
  for (let k = 0; k < count; k++) {
    decodeSha256(pieces.sha256.slice(k * 2 * HASH_BYTES, (k + 1) * 2 * HASH_BYTES), one);
    hashes.set(one, k * HASH_BYTES);
  }
  return { length: pieces.length, hashes };
}

const LOWER_HEX = /^[0-9a-f]*$/;

/** Lower-case hex of any number of bytes, as one flat string (a piece list can run to thousands of hashes). */
export function bytesToHex(bytes: Uint8Array): string {
  const codes = new Uint8Array(2 * bytes.length);
  for (let b = 0; b < bytes.length; b++) {
    const byte = bytes[b]!;
    codes[2 * b] = HEX_CODES[byte >> 4]!;
    codes[2 * b + 1] = HEX_CODES[byte & 15]!;
  }
  return asciiDecoder.decode(codes);
}

const asciiDecoder = new TextDecoder();
const BASE64_KEPT = 50_000;

// btoa exists on Node 20 and Workers alike; Buffer does not exist on Workers.
const BASE64_CODES = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) => c.charCodeAt(0));
const base64Scratch = new Uint8Array(Math.ceil(HASH_BYTES / 3) * 4);

/** Standard base64 with padding of bytes[start, start + length), length ≤ HASH_BYTES: on every 302 (Digest), so by table, into one flat string. */
function bytesToBase64(bytes: Uint8Array, start: number, length: number): string {
  const out = base64Scratch;
  const n = start + length;
  let o = 0;
  let i = start;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = BASE64_CODES[v >>> 18]!;
    out[o++] = BASE64_CODES[(v >>> 12) & 63]!;
    out[o++] = BASE64_CODES[(v >>> 6) & 63]!;
    out[o++] = BASE64_CODES[v & 63]!;
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    out[o++] = BASE64_CODES[v >>> 18]!;
    out[o++] = BASE64_CODES[(v >>> 12) & 63]!;
    out[o++] = i + 1 < n ? BASE64_CODES[(v >>> 6) & 63]! : 61;
    out[o++] = 61;
  }
  return String.fromCharCode.apply(null, out.subarray(0, o) as unknown as number[]);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
