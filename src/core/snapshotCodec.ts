// A routing snapshot as bytes: what the control plane publishes and an edge instance (Workers) decodes.
import { type RuleClasses } from './availability.js';
import { FileIndex } from './fileIndex.js';
import type { MirrorSpec, MirrorState } from './model.js';
import { buildSnapshot, type RoutingOptions, type Snapshot } from './snapshot.js';

/**
 * Layout: "MGS1", u32 header length, the JSON header, then 8-byte aligned sections of raw
 * typed arrays. Typed arrays are viewed in place on decode, so a large file set costs one
 * copy of the bytes, not a parse per number. Paths are one UTF-8 blob split on "\n"
 * (origin paths never hold control characters).
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
  mirrors: { spec: MirrorSpec; state: MirrorState; inventory?: string }[];
  ruleKeys: string[];
  fileCount: number;
  classCount: number;
  sections: Section[];
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const cols = snapshot.files.columns();
  const parts: { name: string; bytes: Uint8Array }[] = [];
  const add = (name: string, view: ArrayBufferView) =>
    parts.push({ name, bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) });
  add('paths', new TextEncoder().encode(cols.paths.join('\n')));
  add('sizes', cols.sizes);
  add('mtimes', cols.mtimes);
  add('hashes', cols.hashes);
  add('hashKnown', cols.hashKnown);
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
  const files = FileIndex.fromColumns({
    paths,
    sizes: f64('sizes'),
    mtimes: f64('mtimes'),
    hashes: u8('hashes'),
    hashKnown: u8('hashKnown'),
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
  for (const m of header.mirrors) {
    states.set(m.spec.id, m.state);
    if (m.inventory) inventories.set(m.spec.id, u32(m.inventory));
  }
  const snapshot = buildSnapshot({
    version: header.version,
    nowMs,
    files,
    mirrors: header.mirrors.map((m) => m.spec),
    states,
    inventories,
    origin: header.origin,
    routing: header.routing,
    rules,
  });
  return { ...snapshot, builtAtMs: header.builtAtMs };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
