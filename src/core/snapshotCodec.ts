// A routing snapshot as bytes: what the control plane publishes and an edge instance (Workers) decodes.
import { type RuleClasses } from './availability.js';
import { type ArrivalColumns, FileIndex, isPieceLength, pieceCount, type PieceColumns } from './fileIndex.js';
import type { MirrorSpec, MirrorState } from './model.js';
import { buildSnapshot, type RoutingOptions, type Snapshot } from './snapshot.js';

/**
 * Layout: "MGS1", u32 header length, the JSON header, then 8-byte aligned sections of raw
 * typed arrays. Typed arrays are viewed in place on decode, so a large file set costs one
 * copy of the bytes, not a parse per number. Paths are one UTF-8 blob split on "\n"
 * (origin paths never hold control characters). Piece hashes, when any file has them, are four
 * more sections (the index's side table as it is); a decoder that does not know them skips them,
 * and bytes without them decode to a file set without piece hashes.
 */
const MAGIC = 0x3153474d; // "MGS1" little-endian

interface Section {
  name: string;
  offset: number;
  length: number;
}

interface Header {
  version: number;
  builtAtMs: number;
  origin: { baseUrl: string };
  routing: RoutingOptions;
  /** inventory / listed: names of the sections with the mirror's inventory bits and, where some copies are stale, its listing bits. */
  mirrors: { spec: MirrorSpec; state: MirrorState; inventory?: string; listed?: string }[];
  ruleKeys: string[];
  fileCount: number;
  classCount: number;
  sections: Section[];
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const cols = snapshot.files.columns();
  const parts: { name: string; bytes: Uint8Array }[] = [];
  const add = (name: string, view: ArrayBufferView) => parts.push({ name, bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) });
  add('paths', new TextEncoder().encode(cols.paths.join('\n')));
  add('sizes', cols.sizes);
  add('mtimes', cols.mtimes);
  add('hashes', cols.hashes);
  add('hashKnown', cols.hashKnown);
  // Only when present: a file set without piece hashes keeps the bytes (and shard ETags) it had.
  if (cols.pieces) {
    add('pieceFiles', cols.pieces.files);
    add('pieceLengths', cols.pieces.lengths);
    add('pieceStarts', cols.pieces.starts);
    add('pieceHashes', cols.pieces.hashes);
  }
  // Likewise only when some file arrived while the control plane watched (the edge compares last syncs with them too).
  if (cols.arrivals) {
    add('arrivalFiles', cols.arrivals.files);
    add('arrivalAt', cols.arrivals.at);
    add('arrivalNew', cols.arrivals.isNew);
  }
  add('fileClass', snapshot.rules.fileClass);
  const words = snapshot.rules.membership[0]?.length ?? 0;
  const membership = new Uint32Array(snapshot.rules.membership.length * words);
  snapshot.rules.membership.forEach((m, i) => membership.set(m, i * words));
  add('membership', membership);

  const mirrors = snapshot.mirrors.map((m) => {
    const entry: Header['mirrors'][number] = { spec: m.spec, state: m.state };
    if (m.inventory) {
      entry.inventory = `inv:${m.spec.id}`;
      add(entry.inventory, m.inventory);
    }
    // Which files it lists in another version: ?mirrorlist says stale-copy for those, at the edge too.
    if (m.inventory && m.listed) {
      entry.listed = `listed:${m.spec.id}`;
      add(entry.listed, m.listed);
    }
    return entry;
  });

  const sections: Section[] = [];
  let offset = 0;
  for (const p of parts) {
    sections.push({ name: p.name, offset, length: p.bytes.byteLength });
    offset = align8(offset + p.bytes.byteLength);
  }
  const header: Header = {
    version: snapshot.version,
    builtAtMs: snapshot.builtAtMs,
    origin: snapshot.origin,
    routing: snapshot.routing,
    mirrors,
    ruleKeys: [...snapshot.rules.ruleKeys],
    fileCount: snapshot.files.count,
    classCount: snapshot.rules.membership.length,
    sections,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const bodyStart = align8(8 + headerBytes.byteLength);
  const out = new Uint8Array(bodyStart + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, headerBytes.byteLength, true);
  out.set(headerBytes, 8);
  parts.forEach((p, i) => out.set(p.bytes, bodyStart + sections[i]!.offset));
  return out;
}

export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
}

/** Decodes bytes from encodeSnapshot; `nowMs` is when the edge builds it (drains are judged then). */
export function decodeSnapshot(bytes: Uint8Array, nowMs: number): Snapshot {
  if (bytes.byteLength < 8) throw new SnapshotFormatError('snapshot too short');
  // Typed array views need aligned offsets; copy once if the input is not 8-aligned.
  const buf = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new SnapshotFormatError('not a Mirrorgate snapshot');
  const headerLength = dv.getUint32(4, true);
  if (8 + headerLength > buf.byteLength) throw new SnapshotFormatError('snapshot header truncated');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLength))) as Header;
  } catch {
    throw new SnapshotFormatError('snapshot header is not JSON');
  }
  const bodyStart = buf.byteOffset + align8(8 + headerLength);
  const byName = new Map(header.sections.map((s) => [s.name, s]));
  const section = (name: string) => {
    const s = byName.get(name);
    if (!s || bodyStart - buf.byteOffset + s.offset + s.length > buf.byteLength) {
      throw new SnapshotFormatError(`snapshot section ${name} missing or truncated`);
    }
    return { offset: bodyStart + s.offset, length: s.length };
  };
  const u8 = (name: string) => {
    const s = section(name);
    return new Uint8Array(buf.buffer, s.offset, s.length);
  };
  const f64 = (name: string) => {
    const s = section(name);
    return new Float64Array(buf.buffer, s.offset, s.length / 8);
  };
  const u32 = (name: string) => {
    const s = section(name);
    return new Uint32Array(buf.buffer, s.offset, s.length / 4);
  };

  const pathText = new TextDecoder().decode(u8('paths'));
  const paths = header.fileCount === 0 ? [] : pathText.split('\n');
  if (paths.length !== header.fileCount) throw new SnapshotFormatError('snapshot path count mismatch');
  const sizes = f64('sizes');
  const files = FileIndex.fromColumns({
    paths,
    sizes,
    mtimes: f64('mtimes'),
    hashes: u8('hashes'),
    hashKnown: u8('hashKnown'),
    ...(byName.has('pieceFiles')
      ? { pieces: checkedPieces({ files: u32('pieceFiles'), lengths: u32('pieceLengths'), starts: u32('pieceStarts'), hashes: u8('pieceHashes') }, sizes) }
      : {}),
    ...(byName.has('arrivalFiles')
      ? { arrivals: checkedArrivals({ files: u32('arrivalFiles'), at: f64('arrivalAt'), isNew: u8('arrivalNew') }, paths.length) }
      : {}),
  });
  const membershipFlat = u32('membership');
  const words = header.classCount ? membershipFlat.length / header.classCount : 0;
  const rules: RuleClasses = {
    files,
    ruleKeys: header.ruleKeys,
    fileClass: u32('fileClass'),
    membership: Array.from({ length: header.classCount }, (_, i) => membershipFlat.subarray(i * words, (i + 1) * words)),
  };
  const states = new Map<string, MirrorState>();
  const inventories = new Map<string, Uint32Array>();
  const listings = new Map<string, Uint32Array>();
  for (const m of header.mirrors) {
    states.set(m.spec.id, m.state);
    if (m.inventory) inventories.set(m.spec.id, u32(m.inventory));
    if (m.inventory && m.listed) listings.set(m.spec.id, u32(m.listed));
  }
  const snapshot = buildSnapshot({
    version: header.version,
    nowMs,
    files,
    mirrors: header.mirrors.map((m) => m.spec),
    states,
    inventories,
    listings,
    origin: header.origin,
    routing: header.routing,
    rules,
  });
  return { ...snapshot, builtAtMs: header.builtAtMs };
}

/** The arrival table as decoded, after checking it fits the files. */
function checkedArrivals(a: ArrivalColumns, fileCount: number): ArrivalColumns {
  const rows = a.files.length;
  if (a.at.length !== rows || a.isNew.length !== rows) throw new SnapshotFormatError('snapshot arrival table has mismatched columns');
  for (let r = 0; r < rows; r++) {
    const f = a.files[r]!;
    if (f >= fileCount || (r > 0 && f <= a.files[r - 1]!)) throw new SnapshotFormatError('snapshot arrival table names files out of order or range');
  }
  return a;
}

/** The piece table as decoded, after checking it fits the files: a bad one must not read out of bounds later. */
function checkedPieces(p: PieceColumns, sizes: Float64Array): PieceColumns {
  const rows = p.files.length;
  const bad = (why: string) => new SnapshotFormatError(`snapshot piece table ${why}`);
  if (p.lengths.length !== rows || p.starts.length !== rows + 1 || p.starts[0] !== 0) throw bad('has mismatched columns');
  if (p.hashes.length !== p.starts[rows]! * 32) throw bad('has the wrong number of hashes');
  for (let r = 0; r < rows; r++) {
    const f = p.files[r]!;
    if (f >= sizes.length || (r > 0 && f <= p.files[r - 1]!)) throw bad('names files out of order or range');
    const count = p.starts[r + 1]! - p.starts[r]!;
    if (!isPieceLength(p.lengths[r]!) || count < 1 || count !== pieceCount(sizes[f]!, p.lengths[r]!)) throw bad(`does not fit file ${f}`);
  }
  return p;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
