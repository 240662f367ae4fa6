// A routing snapshot split for the edge: a small core (mirrors, live state, routing) and file shards fetched on demand.
import { bitGet, bitSet, newBitset, ruleKey, type RuleClasses } from './availability.js';
import { type ArrivalColumns, FileIndex, type PieceColumns } from './fileIndex.js';
import { fmix32, hashString } from './hash.js';
import { fileSetFacts } from './mirrorStatus.js';
import type { MirrorSpec, MirrorState } from './model.js';
import { buildSnapshot, type FileSetFacts, type RoutingOptions, type Snapshot } from './snapshot.js';
import { decodeSnapshot, encodeSnapshot, SnapshotFormatError } from './snapshotCodec.js';
import { runCooperatively, runSteps, type Cooperation, type Steps } from './steps.js';

/** Files a loop walks between two yields of a split in steps. */
const FILES_PER_STEP = 50_000;

/**
 * How many files a shard should hold at most: small enough that an edge isolate that lacks a file's
 * shard decodes it within the 5 ms a cold download may spend (scripts/edge-measure.ts: about 1 µs a
 * file, so 2,500 files, 1,250–2,500 a shard, decode in 1–3 ms), large enough that the per-shard part
 * (a header naming the inventoried mirrors, the rule-class table: ~60 KB at 500 mirrors) stays a
 * fraction of the ~115 bytes each file costs (paths, sizes, mtimes, hashes, its class, a bit per
 * inventoried mirror). 1,000,000 files make 512 shards of ~280 KB. Piece hashes come on top, 32
 * bytes a piece (up to 32 KiB for a 1 GiB file hashed by origin.root).
 */
export const SHARD_TARGET_FILES = 2_500;

/** /2: shards name rule keys by tag (ruleKeyTag), resolved against the core's mirrors (resolveRuleKeys). */
export const CORE_FORMAT = 'mirrorgate-core/2';

/**
 * Shards for a file count: the smallest power of two with at most `target` files per shard.
 * A power of two (not ceil(files / target)) so the numbering changes only when the file set
 * doubles or halves; a change of N re-keys every file, so every shard changes with it.
 */
export function shardCount(files: number, target = SHARD_TARGET_FILES): number {
  const need = Math.max(1, Math.ceil(files / Math.max(1, target)));
  let n = 1;
  while (n < need) n *= 2;
  return n;
}

/** The shard holding `path`: FNV-1a of the path (finished with fmix32, see core/hash.ts) modulo n. */
export function shardOf(path: string, n: number): number {
  return n <= 1 ? 0 : hashString(path) % n;
}

/** What the core says about one shard. */
export interface CoreShard {
  /** Content hash of the shard's bytes: the shard's ETag; unchanged bytes keep it. */
  hash: string;
  files: number;
  bytes: number;
}

/** The core: everything but the files. Small (mirror specs and states), changes with every probe. */
export interface SnapshotCore {
  format: typeof CORE_FORMAT;
  version: number;
  builtAtMs: number;
  origin: { baseUrl: string };
  routing: RoutingOptions;
  /** ruleTag: the tag of the mirror's rule key (ruleKeyTag), so an edge need not hash every mirror's globs. */
  mirrors: { spec: MirrorSpec; state: MirrorState; ruleTag?: string }[];
  /** Files in the whole snapshot (the shards' sum). */
  fileCount: number;
  /** Whole-set facts for the status pages (carried files per mirror, examples); absent from older cores. */
  fileSet?: FileSetFacts;
  /** Shard k holds the files with shardOf(path, shards.length) === k. */
  shards: CoreShard[];
}

/** The file shards of one snapshot's file set, rule classes and inventories. */
export interface ShardSet {
  readonly count: number;
  readonly shards: readonly Uint8Array[];
  readonly info: readonly CoreShard[];
}

/** A decoded shard: its files, the global rule classes restricted to them, and inventories (and listings) numbered within it. */
export interface DecodedShard {
  readonly files: FileIndex;
  readonly rules: RuleClasses;
  readonly inventories: ReadonlyMap<string, Uint32Array>;
  /** Per inventory with stale copies, the files it lists in any version (see SnapshotInput.listings). */
  readonly listings: ReadonlyMap<string, Uint32Array>;
  readonly bytes: number;
}

/** Shards carry no routing facts: mirrors, states and routing come from the core at the edge. */
const SHARD_ROUTING: RoutingOptions = { bandKm: 0, maxAlternatives: 0, maxLagSeconds: 0 };
const SHARD_ORIGIN = { baseUrl: '' };

/** Placeholder spec for an inventoried mirror inside a shard (only its id matters there). */
function stubSpec(id: string): MirrorSpec {
  return { id, name: id, baseUrl: '', country: '', asn: [], weight: 0, countryOnly: false, enabled: false, content: { include: [], exclude: [] } };
}

/**
 * Which files go to which shard, and each shard's FileIndex: depends on the file index and the
 * shard count only, so rule or inventory changes reuse it.
 */
export interface ShardLayout {
  readonly files: FileIndex;
  readonly count: number;
  /** Global file numbers of each shard, ascending. */
  readonly members: readonly Int32Array[];
  /** Per global file: its shard, and its number within the shard. */
  readonly shardOfFile: Int32Array;
  readonly localOfFile: Int32Array;
  readonly shardFiles: readonly FileIndex[];
}

export function shardLayout(files: FileIndex, targetFiles = SHARD_TARGET_FILES): ShardLayout {
  return runSteps(shardLayoutSteps(files, targetFiles));
}

function* shardLayoutSteps(files: FileIndex, targetFiles: number): Steps<ShardLayout> {
  const n = shardCount(files.count, targetFiles);
  const counts = new Int32Array(n);
  const shardOfFile = new Int32Array(files.count);
  const localOfFile = new Int32Array(files.count);
  for (let f = 0; f < files.count; f++) {
    const k = shardOf(files.paths[f]!, n);
    shardOfFile[f] = k;
    localOfFile[f] = counts[k]!++;
    if (f % FILES_PER_STEP === FILES_PER_STEP - 1) yield;
  }
  const members = Array.from({ length: n }, (_, k) => new Int32Array(counts[k]!));
  for (let f = 0; f < files.count; f++) members[shardOfFile[f]!]![localOfFile[f]!] = f;
  const cols = files.columns();
  const pieces = cols.pieces ? shardPieces(cols.pieces, n, shardOfFile, localOfFile) : [];
  const arrivals = cols.arrivals ? shardArrivals(cols.arrivals, n, shardOfFile, localOfFile) : [];
  yield;
  const shardFiles: FileIndex[] = [];
  for (let k = 0; k < n; k++) {
    const list = members[k]!;
    const count = list.length;
    const paths = new Array<string>(count);
    const sizes = new Float64Array(count);
    const mtimes = new Float64Array(count);
    const hashes = new Uint8Array(count * 32);
    const hashKnown = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const f = list[i]!;
      paths[i] = cols.paths[f]!;
      sizes[i] = cols.sizes[f]!;
      mtimes[i] = cols.mtimes[f]!;
      hashes.set(cols.hashes.subarray(f * 32, f * 32 + 32), i * 32);
      hashKnown[i] = cols.hashKnown[f]!;
    }
    const shardPieceTable = pieces[k];
    const shardArrivalTable = arrivals[k];
    shardFiles.push(
      FileIndex.fromColumns({
        paths,
        sizes,
        mtimes,
        hashes,
        hashKnown,
        ...(shardPieceTable ? { pieces: shardPieceTable } : {}),
        ...(shardArrivalTable ? { arrivals: shardArrivalTable } : {}),
      }),
    );
    yield;
  }
  return { files, count: n, members, shardOfFile, localOfFile, shardFiles };
}

/**
 * The piece table split by shard, renumbered to the shard's files (undefined for a shard
 * without any). Rows stay in file order: local numbers rise with global ones within a shard.
 */
function shardPieces(table: PieceColumns, n: number, shardOfFile: Int32Array, localOfFile: Int32Array): (PieceColumns | undefined)[] {
  const rows = new Int32Array(n);
  const pieces = new Float64Array(n);
  for (let r = 0; r < table.files.length; r++) {
    const k = shardOfFile[table.files[r]!]!;
    rows[k]!++;
    pieces[k]! += table.starts[r + 1]! - table.starts[r]!;
  }
  const out = Array.from({ length: n }, (_, k): PieceColumns | undefined =>
    rows[k] === 0
      ? undefined
      : {
          files: new Uint32Array(rows[k]!),
          lengths: new Uint32Array(rows[k]!),
          starts: new Uint32Array(rows[k]! + 1),
          hashes: new Uint8Array(pieces[k]! * 32),
        },
  );
  const filled = new Int32Array(n);
  for (let r = 0; r < table.files.length; r++) {
    const f = table.files[r]!;
    const part = out[shardOfFile[f]!]!;
    const row = filled[shardOfFile[f]!]!++;
    part.files[row] = localOfFile[f]!;
    part.lengths[row] = table.lengths[r]!;
    const from = part.starts[row]!;
    const count = table.starts[r + 1]! - table.starts[r]!;
    part.starts[row + 1] = from + count;
    part.hashes.set(table.hashes.subarray(table.starts[r]! * 32, table.starts[r + 1]! * 32), from * 32);
  }
  return out;
}

/** The arrival table split by shard, renumbered to the shard's files (undefined for a shard without any). */
function shardArrivals(table: ArrivalColumns, n: number, shardOfFile: Int32Array, localOfFile: Int32Array): (ArrivalColumns | undefined)[] {
  const rows: number[][] = Array.from({ length: n }, () => []);
  // Rows stay ascending within a shard: local numbers rise with global ones.
  for (let r = 0; r < table.files.length; r++) rows[shardOfFile[table.files[r]!]!]!.push(r);
  return rows.map((list) =>
    list.length === 0
      ? undefined
      : {
          files: Uint32Array.from(list, (r) => localOfFile[table.files[r]!]!),
          at: Float64Array.from(list, (r) => table.at[r]!),
          isNew: Uint8Array.from(list, (r) => table.isNew[r]!),
        },
  );
}

/** The global rule classes restricted to each shard: its files' classes, the global membership and rule keys. */
export function shardRules(layout: ShardLayout, rules: RuleClasses): RuleClasses[] {
  return layout.members.map((list, k) => {
    const fileClass = new Uint32Array(list.length);
    for (let i = 0; i < list.length; i++) fileClass[i] = rules.fileClass[list[i]!]!;
    return { files: layout.shardFiles[k]!, ruleKeys: rules.ruleKeys, fileClass, membership: rules.membership };
  });
}

/** An inventory (a bit per global file) as one bitset per shard, numbered within the shard. */
export function shardInventory(layout: ShardLayout, bits: Uint32Array): Uint32Array[] {
  const out = layout.members.map((list) => newBitset(list.length));
  // Walk the set bits only: inventories are sparse wherever a mirror's rules cover little.
  for (let w = 0; w < bits.length; w++) {
    let v = bits[w]!;
    while (v !== 0) {
      const low = v & -v;
      const f = (w << 5) + (31 - Math.clz32(low));
      v ^= low;
      if (f < layout.shardOfFile.length) bitSet(out[layout.shardOfFile[f]!]!, layout.localOfFile[f]!);
    }
  }
  return out;
}

/**
 * Encodes the shards of a layout with its rule classes and the split inventories (mirror id →
 * per-shard bits), and the split listings of the inventories that have some stale copies.
 */
export function encodeShards(
  layout: ShardLayout,
  rules: readonly RuleClasses[],
  inventories: ReadonlyMap<string, readonly Uint32Array[]>,
  listings: ReadonlyMap<string, readonly Uint32Array[]> = new Map(),
): ShardSet {
  return runSteps(encodeShardsSteps(layout, rules, inventories, listings));
}

function* encodeShardsSteps(
  layout: ShardLayout,
  rules: readonly RuleClasses[],
  inventories: ReadonlyMap<string, readonly Uint32Array[]>,
  listings: ReadonlyMap<string, readonly Uint32Array[]>,
): Steps<ShardSet> {
  const ids = [...inventories.keys()];
  // Rule keys are the mirrors' include/exclude globs as JSON: hundreds of KB for a large network, the
  // same in every shard. Shards carry a 16-digit tag per key instead; the edge maps tags back to keys
  // through the core's mirrors (resolveRuleKeys), which have every key a routable mirror can have.
  const tagged = rules.length ? rules[0]!.ruleKeys.map(ruleKeyTag) : [];
  const shards: Uint8Array[] = [];
  const info: CoreShard[] = [];
  for (let k = 0; k < layout.count; k++) {
    const files = layout.shardFiles[k]!;
    const shard = buildSnapshot({
      version: 0,
      nowMs: 0,
      files,
      mirrors: ids.map(stubSpec),
      states: new Map(),
      inventories: new Map(ids.map((id) => [id, inventories.get(id)![k]!])),
      listings: new Map([...listings].filter(([id]) => inventories.has(id)).map(([id, parts]) => [id, parts[k]!])),
      origin: SHARD_ORIGIN,
      routing: SHARD_ROUTING,
      rules: { ...rules[k]!, ruleKeys: tagged },
    });
    const bytes = encodeSnapshot(shard);
    shards.push(bytes);
    info.push({ hash: contentHash(bytes), files: files.count, bytes: bytes.byteLength });
    yield;
  }
  return { count: layout.count, shards, info };
}

/**
 * Splits the file side of a snapshot into shards. Each shard is an ordinary encoded snapshot
 * (core/snapshotCodec.ts) holding only its files: the FileIndex subset, the file classes with
 * the GLOBAL class membership and rule keys, and each inventoried mirror's bitset renumbered to
 * the shard. Version, build time, mirror states and routing are left out (fixed placeholders),
 * so a shard's bytes, and its hash, change only when its own files, rules or inventories do.
 */
export function splitFiles(snapshot: Snapshot, targetFiles = SHARD_TARGET_FILES): ShardSet {
  const layout = shardLayout(snapshot.files, targetFiles);
  const inventories = new Map<string, Uint32Array[]>();
  const listings = new Map<string, Uint32Array[]>();
  for (const m of snapshot.mirrors) {
    if (!m.inventory) continue;
    inventories.set(m.spec.id, shardInventory(layout, m.inventory));
    if (m.listed) listings.set(m.spec.id, shardInventory(layout, m.listed));
  }
  return encodeShards(layout, shardRules(layout, snapshot.rules), inventories, listings);
}

/** The core of a snapshot whose files were split into `shards`, as UTF-8 JSON. */
export function encodeCore(snapshot: Snapshot, shards: ShardSet): Uint8Array {
  const core: SnapshotCore = {
    format: CORE_FORMAT,
    version: snapshot.version,
    builtAtMs: snapshot.builtAtMs,
    origin: snapshot.origin,
    routing: snapshot.routing,
    mirrors: snapshot.mirrors.map((m) => ({ spec: m.spec, state: m.state, ruleTag: ruleKeyTag(ruleKey(m.spec.content)) })),
    fileCount: snapshot.files.count,
    fileSet: fileSetFacts(snapshot),
    shards: [...shards.info],
  };
  return new TextEncoder().encode(JSON.stringify(core));
}

/** The whole split: the core bytes and every shard's bytes. */
export function splitSnapshot(snapshot: Snapshot, targetFiles = SHARD_TARGET_FILES): { core: Uint8Array; shards: Uint8Array[] } {
  const set = splitFiles(snapshot, targetFiles);
  return { core: encodeCore(snapshot, set), shards: [...set.shards] };
}

export function decodeCore(bytes: Uint8Array): SnapshotCore {
  let core: SnapshotCore;
  try {
    core = JSON.parse(new TextDecoder().decode(bytes)) as SnapshotCore;
  } catch {
    throw new SnapshotFormatError('snapshot core is not JSON');
  }
  // /1 (a control plane not yet updated): its shards carry the rule keys themselves, which
  // resolveRuleKeys leaves as they are, so a newer edge reads both.
  if (core?.format !== CORE_FORMAT && (core as { format?: unknown } | undefined)?.format !== 'mirrorgate-core/1') {
    throw new SnapshotFormatError('not a Mirrorgate snapshot core');
  }
  if (!Array.isArray(core.mirrors) || !Array.isArray(core.shards) || core.shards.length < 1) {
    throw new SnapshotFormatError('snapshot core without mirrors or shards');
  }
  return core;
}

/** Decodes a shard's bytes (views on them: keep the bytes alive as long as the shard). */
export function decodeShard(bytes: Uint8Array): DecodedShard {
  const s = decodeSnapshot(bytes, 0);
  const inventories = new Map<string, Uint32Array>();
  const listings = new Map<string, Uint32Array>();
  for (const m of s.mirrors) {
    if (m.inventory) inventories.set(m.spec.id, m.inventory);
    if (m.inventory && m.listed) listings.set(m.spec.id, m.listed);
  }
  return { files: s.files, rules: s.rules, inventories, listings, bytes: bytes.byteLength };
}

/**
 * The routing snapshot for the files of one shard: the shard's files, rule classes and
 * inventories with the core's mirrors, states and routing. decide() over it gives, for every
 * file of the shard, the answer decide() gives over the whole snapshot. A core mirror whose
 * rule key the shard does not know (a mirror added since the shard was built) gets ruleBit -1
 * and so carries nothing there: never routed to a file we cannot show it has.
 */
export function composeShardSnapshot(core: SnapshotCore, shard: Uint8Array | DecodedShard, nowMs: number): Snapshot {
  const decoded = shard instanceof Uint8Array ? decodeShard(shard) : shard;
  const s = { ...decoded, rules: { ...decoded.rules, ruleKeys: resolveRuleKeys(decoded.rules.ruleKeys, core.mirrors) } };
  const states = new Map<string, MirrorState>();
  for (const m of core.mirrors) states.set(m.spec.id, m.state);
  const snapshot = buildSnapshot({
    version: core.version,
    nowMs,
    files: s.files,
    mirrors: core.mirrors.map((m) => m.spec),
    states,
    inventories: s.inventories,
    listings: s.listings,
    origin: core.origin,
    routing: core.routing,
    rules: s.rules,
  });
  return { ...snapshot, builtAtMs: core.builtAtMs, ...(core.fileSet ? { fileSet: core.fileSet } : {}) };
}

/** What a shard carries for a rule key: "h:" and a content hash of the key (a real key is JSON and starts with "["). */
export function ruleKeyTag(key: string): string {
  let tag = tags.get(key);
  if (tag === undefined) {
    tag = `h:${contentHash(new TextEncoder().encode(key))}`;
    // Rule keys change rarely: remembered, so a core or split re-encoded on every probe does not hash them again.
    if (tags.size >= 4096) tags.clear();
    tags.set(key, tag);
  }
  return tag;
}
const tags = new Map<string, string>();

/**
 * A shard's rule keys (tags) as the keys of the core's mirrors, in the shard's bit order. A tag no
 * core mirror has (its mirror is gone, or changed its rules since the split) stays a tag, which
 * no mirror's key equals: such a mirror carries nothing in that shard until the shard is renewed.
 */
export function resolveRuleKeys(shardKeys: readonly string[], mirrors: readonly { spec: MirrorSpec; ruleTag?: string }[]): string[] {
  const byTag = new Map<string, string>();
  for (const m of mirrors) {
    const key = ruleKey(m.spec.content);
    byTag.set(m.ruleTag ?? ruleKeyTag(key), key);
  }
  return shardKeys.map((t) => byTag.get(t) ?? t);
}

/** The core alone, with an empty file set: for answers that need no file (mirror pages, logos, /readyz). */
export function composeCoreSnapshot(core: SnapshotCore, nowMs: number): Snapshot {
  const files = FileIndex.from([]);
  const states = new Map<string, MirrorState>();
  for (const m of core.mirrors) states.set(m.spec.id, m.state);
  const snapshot = buildSnapshot({
    version: core.version,
    nowMs,
    files,
    mirrors: core.mirrors.map((m) => m.spec),
    states,
    inventories: new Map(),
    origin: core.origin,
    routing: core.routing,
    rules: { files, ruleKeys: [], fileClass: new Uint32Array(0), membership: [] },
  });
  return { ...snapshot, builtAtMs: core.builtAtMs, ...(core.fileSet ? { fileSet: core.fileSet } : {}) };
}

/**
 * 64-bit content hash (two murmur3-style 32-bit lanes over the little-endian words, then the
 * tail and the length), as 16 hex digits. Synchronous and fast (about 1 GB/s): not a
 * cryptographic digest, an ETag.
 */
export function contentHash(bytes: Uint8Array): string {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >>> 2);
  let h1 = 0x9747b28c;
  let h2 = 0x5bd1e995;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let j = Math.imul(w, 0x85ebca6b);
    j = (j << 17) | (j >>> 15);
    j = Math.imul(j, 0xc2b2ae35);
    h2 ^= j;
    h2 = (h2 << 11) | (h2 >>> 21);
    h2 = (Math.imul(h2, 9) + 0x38b34ae5) | 0;
  }
  for (let i = words.length * 4; i < aligned.byteLength; i++) {
    h1 = Math.imul(h1 ^ aligned[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ aligned[i]!, 0x01000193);
  }
  h1 = fmix32((h1 ^ bytes.byteLength) >>> 0);
  h2 = fmix32((h2 ^ Math.floor(bytes.byteLength / 4294967296) ^ h1) >>> 0);
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/**
 * Keeps the last split so a state-only change (a probe, a drain) re-encodes only the core. The
 * parts are reused by identity (SnapshotBuilder keeps the objects across rebuilds): the layout
 * while the file index (and shard size) is the same, the per-shard rule classes while the rule
 * classes are, each mirror's split inventory while its inventory array is; the shards are then
 * re-encoded only when one of those changed.
 *
 * A server calls the cooperative forms (shardsCooperatively, coreCooperatively): a split of a million
 * files takes seconds, and in steps the event loop keeps answering downloads and timing probes meanwhile.
 * They run one at a time; a second caller waits for the first and then finds the parts ready. The plain
 * forms run at once, for tests and tools, and must not be mixed with a cooperative run under way.
 */
export class ShardCache {
  private layout: ShardLayout | undefined;
  private rules: { of: RuleClasses; parts: RuleClasses[] } | undefined;
  private inventories = new Map<string, { of: Uint32Array; parts: Uint32Array[] }>();
  private listings = new Map<string, { of: Uint32Array; parts: Uint32Array[] }>();
  private set: ShardSet | undefined;
  private readonly cores = new WeakMap<Snapshot, { target: number; bytes: Uint8Array }>();

  private running: Promise<unknown> = Promise.resolve();

  shards(snapshot: Snapshot, targetFiles = SHARD_TARGET_FILES): ShardSet {
    return runSteps(this.shardsSteps(snapshot, targetFiles));
  }

  shardsCooperatively(snapshot: Snapshot, targetFiles: number, how: Cooperation): Promise<ShardSet> {
    const run = this.running.then(() => runCooperatively(this.shardsSteps(snapshot, targetFiles), how));
    this.running = run.catch(() => undefined);
    return run;
  }

  private *shardsSteps(snapshot: Snapshot, targetFiles: number): Steps<ShardSet> {
    let changed = false;
    let layout = this.layout;
    if (!layout || layout.files !== snapshot.files || layout.count !== shardCount(snapshot.files.count, targetFiles)) {
      // Kept only once whole: a run that fails half-way leaves the cache as it was.
      layout = yield* shardLayoutSteps(snapshot.files, targetFiles);
      this.layout = layout;
      this.rules = undefined;
      this.inventories = new Map();
      this.listings = new Map();
      changed = true;
    }
    if (this.rules?.of !== snapshot.rules) {
      this.rules = { of: snapshot.rules, parts: shardRules(layout, snapshot.rules) };
      changed = true;
    }
    const inventories = new Map<string, { of: Uint32Array; parts: Uint32Array[] }>();
    const listings = new Map<string, { of: Uint32Array; parts: Uint32Array[] }>();
    const reuse = (held: Map<string, { of: Uint32Array; parts: Uint32Array[] }>, into: typeof held, id: string, bits: Uint32Array): boolean => {
      const was = held.get(id);
      if (was?.of === bits) {
        into.set(id, was);
        return false;
      }
      into.set(id, { of: bits, parts: shardInventory(layout, bits) });
      changed = true;
      return true;
    };
    for (const m of snapshot.mirrors) {
      if (!m.inventory) continue;
      const split = reuse(this.inventories, inventories, m.spec.id, m.inventory);
      if (m.listed && reuse(this.listings, listings, m.spec.id, m.listed)) yield;
      else if (split) yield;
    }
    // A mirror's inventory or listing dropped, or the mirrors reordered (the order is part of the shard bytes).
    if ([...inventories.keys()].join('\n') !== [...this.inventories.keys()].join('\n')) changed = true;
    if ([...listings.keys()].join('\n') !== [...this.listings.keys()].join('\n')) changed = true;
    this.inventories = inventories;
    this.listings = listings;
    if (changed || !this.set) {
      // Cleared first: parts above are already the new ones, so a run that fails here must re-encode next time.
      this.set = undefined;
      const parts = (m: Map<string, { parts: Uint32Array[] }>) => new Map([...m].map(([id, v]) => [id, v.parts]));
      this.set = yield* encodeShardsSteps(layout, this.rules!.parts, parts(inventories), parts(listings));
    }
    return this.set;
  }

  core(snapshot: Snapshot, targetFiles = SHARD_TARGET_FILES): Uint8Array {
    return this.coreOf(snapshot, targetFiles, this.shards(snapshot, targetFiles));
  }

  async coreCooperatively(snapshot: Snapshot, targetFiles: number, how: Cooperation): Promise<Uint8Array> {
    const hit = this.cores.get(snapshot);
    if (hit && hit.target === targetFiles) return hit.bytes;
    return this.coreOf(snapshot, targetFiles, await this.shardsCooperatively(snapshot, targetFiles, how));
  }

  private coreOf(snapshot: Snapshot, targetFiles: number, set: ShardSet): Uint8Array {
    const hit = this.cores.get(snapshot);
    if (hit && hit.target === targetFiles) return hit.bytes;
    const bytes = encodeCore(snapshot, set);
    this.cores.set(snapshot, { target: targetFiles, bytes });
    return bytes;
  }
}
