// Which mirror may carry which file: include/exclude rule classes and compiled inventories.
import type { FileIndex } from './fileIndex.js';
import { compileLinearGlob, linearGlob } from './globMatch.js';
import type { InventoryEntry, MirrorSpec } from './model.js';

/** A set of file numbers (or mirror numbers) as 32-bit words. */
export function newBitset(size: number): Uint32Array {
  return new Uint32Array((size + 31) >>> 5);
}

export function bitGet(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}

export function bitSet(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = bits[i >>> 5]! | (1 << (i & 31));
}

export function bitCount(bits: Uint32Array): number {
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let v = bits[w]!;
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return n;
}

/** The canonical key of a mirror's content rules: mirrors with equal keys share one rule set. */
export function ruleKey(content: MirrorSpec['content']): string {
  return JSON.stringify([content.include, content.exclude]);
}

/**
 * Files grouped by which rule sets cover them. Most files of a real network fall into a
 * handful of classes, so a file costs one Uint32 (its class) instead of a set of mirrors.
 */
export interface RuleClasses {
  readonly files: FileIndex;
  /** Distinct rule keys, in the order their bits appear in `membership`. */
  readonly ruleKeys: readonly string[];
  /** Class number of each file. */
  readonly fileClass: Uint32Array;
  /** For each class, a bitset over rule keys. */
  readonly membership: readonly Uint32Array[];
}

/** Groups the files by the rule sets `ruleKeys` (in that bit order) cover. */
export function computeRuleClasses(files: FileIndex, ruleKeys: readonly string[]): RuleClasses {
  return runSteps(computeRuleClassesSteps(files, ruleKeys));
}

/**
 * A build as steps: the generator yields after each chunk of files (its argument, the files done so far)
 * and returns the rule classes, so a caller may spread it over several turns of the event loop and
 * give up on it (SnapshotBuilder does); the synchronous functions here simply run it to its end.
 */
export type RuleClassSteps = Generator<number, RuleClasses, void>;

function runSteps(steps: RuleClassSteps): RuleClasses {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

export function computeRuleClassesSteps(files: FileIndex, ruleKeys: readonly string[]): RuleClassSteps {
  // All files in one class that no rule set covers yet, then split by every key.
  const none: RuleClasses = { files, ruleKeys: [], fileClass: new Uint32Array(files.count), membership: [new Uint32Array(0)] };
  return extendRuleClassesSteps(none, ruleKeys);
}

/**
 * Reuses `previous` when it was computed over the same file index: as it is when it covers every
 * rule key, extended by the new keys otherwise. Keys no mirror uses any more stay (a superset is
 * still correct) until they outnumber the used ones; then, or for a new file index, everything is
 * recomputed with the keys sorted, so instances that start from the same config agree bit for bit.
 */
export function ruleClassesFor(files: FileIndex, mirrors: readonly MirrorSpec[], previous?: RuleClasses): RuleClasses {
  return runSteps(ruleClassesForSteps(files, mirrors, previous));
}

/** ruleClassesFor as steps (see RuleClassSteps); finishes at once when `previous` covers every rule key. */
export function* ruleClassesForSteps(files: FileIndex, mirrors: readonly MirrorSpec[], previous?: RuleClasses): RuleClassSteps {
  const keys = [...new Set(mirrors.map((m) => ruleKey(m.content)))].sort();
  if (!previous || previous.files !== files) return yield* computeRuleClassesSteps(files, keys);
  const known = new Set(previous.ruleKeys);
  const added = keys.filter((k) => !known.has(k));
  if (added.length === 0) return previous;
  const unused = previous.ruleKeys.length - (keys.length - added.length);
  if (unused > keys.length) return yield* computeRuleClassesSteps(files, keys);
  return yield* extendRuleClassesSteps(previous, added);
}

/**
 * The rule classes of `within` split by rule keys it does not know yet, appended after its own so
 * its membership bits keep their meaning. Only the added rule sets are evaluated: one mirror's rule
 * edit costs a pass over its few globs, not over every rule set of the network.
 *
 * Files are told apart by their glob-hit signature (one bit per distinct glob of `ruleKeys`, plus
 * the class in `within`), and the rule sets are evaluated once per signature, not per file: a
 * million files show only a few hundred signatures. A first build and a rule edit run the same
 * code (no branch between them), so an edit meets code the first build already optimised.
 */
export function extendRuleClasses(within: RuleClasses, ruleKeys: readonly string[]): RuleClasses {
  return runSteps(extendRuleClassesSteps(within, ruleKeys));
}

export function* extendRuleClassesSteps(within: RuleClasses, ruleKeys: readonly string[]): RuleClassSteps {
  const { files } = within;
  const { globs, sets } = parseRuleKeys(ruleKeys);
  const parts = pathParts(files);
  const hitWords = (globs.length + 31) >>> 5;
  const ids = new SignatureIds(hitWords + 1);
  const fileClass = yield* signatureOfFiles(files, parts, planGlobs(globs, parts), within.fileClass, ids);

  const offset = within.ruleKeys.length;
  const classOfSignature = new Uint32Array(ids.count);
  const classByMembership = new Map<string, number>();
  const membership: Uint32Array[] = [];
  for (let id = 0; id < ids.count; id++) {
    const signature = ids.signature(id);
    const bits = newBitset(offset + ruleKeys.length);
    bits.set(within.membership[signature[hitWords]!]!);
    for (let r = 0; r < sets.length; r++) if (covers(sets[r]!, signature)) bitSet(bits, offset + r);
    const key = bits.join(',');
    let cls = classByMembership.get(key);
    if (cls === undefined) {
      cls = membership.push(bits) - 1;
      classByMembership.set(key, cls);
    }
    classOfSignature[id] = cls;
  }
  renumber(fileClass, classOfSignature);
  return { files, ruleKeys: [...within.ruleKeys, ...ruleKeys], fileClass, membership };
}

/**
 * Each file's signature id: its glob hits (those its first segment and extension imply, then those
 * that need a look at the whole path) followed by its class in `outerClass`.
 */
function* signatureOfFiles(
  files: FileIndex,
  parts: PathParts,
  plans: GlobPlans,
  outerClass: Uint32Array,
  ids: SignatureIds,
): Generator<number, Uint32Array, void> {
  const out = new Uint32Array(files.count);
  const signature = new Uint32Array(ids.words);
  // In chunks: a function called many times is optimised as a whole and stays so for the next
  // build, where one call looping a million times would be optimised mid-loop, anew each build.
  // Between chunks the caller may hand the event loop back (a step of the generator).
  for (let from = 0; from < files.count; from += SIGNATURE_CHUNK) {
    const to = Math.min(files.count, from + SIGNATURE_CHUNK);
    signaturesOf(files, parts, plans, outerClass, ids, signature, out, from, to);
    yield to;
  }
  return out;
}

const SIGNATURE_CHUNK = 8192;

/** The hot loop of a build: signature ids of files `from` to `to` into `out`. */
function signaturesOf(
  files: FileIndex,
  parts: PathParts,
  plans: GlobPlans,
  outerClass: Uint32Array,
  ids: SignatureIds,
  signature: Uint32Array,
  out: Uint32Array,
  from: number,
  to: number,
): void {
  const hitWords = ids.words - 1;
  for (let f = from; f < to; f++) {
    const plan = plans.bySegment[parts.segmentOf[f]!]!;
    const extensionHits = plans.byExtension[parts.extensionOf[f]!]!;
    for (let w = 0; w < hitWords; w++) signature[w] = plan.hits[w]! | extensionHits[w]!;
    const tests = plan.tests;
    for (let i = 0; i < tests.length; i++) {
      const g = tests[i]!;
      if (plans.matchers[g]!(files.paths[f]!)) bitSet(signature, g);
    }
    signature[hitWords] = outerClass[f]!;
    out[f] = ids.idOf(signature);
  }
}

/**
 * Signature ids to classes, in place. Both number in order of first sight, so equal configs number
 * alike. A function of its own so its million-step loop is optimised however its caller fares.
 */
function renumber(fileClass: Uint32Array, classOfSignature: Uint32Array): void {
  for (let f = 0; f < fileClass.length; f++) fileClass[f] = classOfSignature[fileClass[f]!]!;
}

/** A rule set with its globs as numbers into one shared list: each distinct glob is tested once per file. */
interface RuleSet {
  readonly include: readonly number[];
  readonly exclude: readonly number[];
  /** False when a glob is outside the dialect (globMatch.ts): such a set covers nothing, excludes or not. */
  readonly valid: boolean;
}

function parseRuleKeys(ruleKeys: readonly string[]): { globs: readonly string[]; sets: RuleSet[] } {
  const globs = new Numbering();
  const sets = ruleKeys.map((key) => {
    const [include, exclude] = JSON.parse(key) as [string[], string[]];
    const valid = [...include, ...exclude].every(isCompilable);
    return { include: include.map((g) => globs.of(g)), exclude: exclude.map((g) => globs.of(g)), valid };
  });
  return { globs: globs.names, sets };
}

/** Covered = some include glob matches and no exclude glob does (the rule scan.ts applies too). */
function covers(set: RuleSet, hits: Uint32Array): boolean {
  return set.valid && set.include.some((g) => bitGet(hits, g)) && !set.exclude.some((g) => bitGet(hits, g));
}

/**
 * The glob hits of the paths under one first segment: the sure ones, and the globs left to test
 * per path. Typed arrays only, so the hot loop meets the same shapes in every build (no deopt).
 */
interface SegmentPlan {
  readonly hits: Uint32Array;
  readonly tests: Uint32Array;
}

/** Plans by first segment and hits by extension (numbered as in PathParts), predicates by glob number. */
interface GlobPlans {
  readonly matchers: readonly ((path: string) => boolean)[];
  readonly bySegment: readonly SegmentPlan[];
  readonly byExtension: readonly Uint32Array[];
}

/**
 * A path is tested only against the globs that can match it and do not surely. A glob with a
 * plain first segment ("debian/**", "tails/*\/amd64/**") can only match under that segment, and
 * "debian/**" matches all there; "**\/*.iso" matches exactly the paths with extension "iso".
 * The rest are tested on every path.
 */
function planGlobs(globs: readonly string[], parts: PathParts): GlobPlans {
  const always = newBitset(globs.length);
  const anywhere: number[] = [];
  const bySegment = new Map<string, number[]>();
  const byExtension = new Map<string, Uint32Array>();
  globs.forEach((glob, bit) => {
    const segment = literalFirstSegment(glob);
    const extension = fileExtension(glob);
    if (glob === '**') bitSet(always, bit);
    else if (extension !== undefined) {
      let hits = byExtension.get(extension);
      if (!hits) byExtension.set(extension, (hits = newBitset(globs.length)));
      bitSet(hits, bit);
    } else if (segment === undefined) anywhere.push(bit);
    else bySegment.set(segment, [...(bySegment.get(segment) ?? []), bit]);
  });
  const elsewhere: SegmentPlan = { hits: always, tests: Uint32Array.from(anywhere) };
  const noHits = newBitset(globs.length);
  return {
    matchers: globs.map(compileGlob),
    bySegment: parts.segments.map((segment) => {
      const bits = bySegment.get(segment);
      if (!bits) return elsewhere;
      const hits = always.slice();
      const tests = [...anywhere];
      for (const bit of bits) {
        if (globs[bit] === `${segment}/**`) bitSet(hits, bit);
        else tests.push(bit);
      }
      return { hits, tests: Uint32Array.from(tests) };
    }),
    byExtension: parts.extensions.map((extension) => byExtension.get(extension) ?? noHits),
  };
}

/**
 * The first segment of a glob when it is plain text, so the glob can only match paths with that
 * first segment. None for a glob with "|" anywhere: picomatch reads it as an alternative of the whole.
 */
function literalFirstSegment(glob: string): string | undefined {
  if (glob.includes('|')) return undefined;
  const slash = glob.indexOf('/');
  const first = slash < 0 ? glob : glob.slice(0, slash);
  return first === '' || first === '.' || first === '..' || GLOB_CHARS.test(first) ? undefined : first;
}

/**
 * "iso" for "**\/*.iso": a glob that matches exactly the paths with that extension (PathParts),
 * as its compileGlob fast shape does (endsWith ".iso").
 */
function fileExtension(glob: string): string | undefined {
  if (!glob.startsWith('**/*.') || GLOB_CHARS.test(glob.slice(5))) return undefined;
  const extension = glob.slice(5);
  return extension.includes('.') || extension.includes('/') ? undefined : extension;
}

/** Each file's first segment and extension ("iso" of "a/b.iso") as numbers into the distinct ones. */
interface PathParts {
  readonly segments: readonly string[];
  readonly segmentOf: Uint32Array;
  readonly extensions: readonly string[];
  readonly extensionOf: Uint32Array;
}

// The extension of a name without a dot: "/" is in no extension.
const NO_EXTENSION = '/';

// Once per file index: every later rule edit reads two numbers instead of slicing a million paths.
const pathPartsOf = new WeakMap<FileIndex, PathParts>();

function pathParts(files: FileIndex): PathParts {
  let parts = pathPartsOf.get(files);
  if (parts) return parts;
  const segments = new Numbering();
  const extensions = new Numbering();
  const segmentOf = new Uint32Array(files.count);
  const extensionOf = new Uint32Array(files.count);
  for (let f = 0; f < files.count; f++) {
    const path = files.paths[f]!;
    const slash = path.indexOf('/');
    segmentOf[f] = segments.of(slash < 0 ? path : path.slice(0, slash));
    const dot = path.lastIndexOf('.');
    extensionOf[f] = extensions.of(dot > path.lastIndexOf('/') ? path.slice(dot + 1) : NO_EXTENSION);
  }
  parts = { segments: segments.names, segmentOf, extensions: extensions.names, extensionOf };
  pathPartsOf.set(files, parts);
  return parts;
}

/** Distinct strings numbered in order of first sight. */
class Numbering {
  readonly names: string[] = [];
  private readonly numbers = new Map<string, number>();

  of(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) this.numbers.set(name, (n = this.names.push(name) - 1));
    return n;
  }
}

/** Fixed-width signatures → dense ids (0, 1, 2… in order of first sight), by open addressing: no string per lookup. */
class SignatureIds {
  private keys: Uint32Array;
  private slots: Int32Array;
  count = 0;

  // Small at first, so growing runs (and is seen by the optimiser) within the first few files
  // rather than mid-build, where its first run would throw away the optimised hot loop.
  constructor(readonly words: number) {
    this.keys = new Uint32Array(2 * words);
    this.slots = new Int32Array(4).fill(-1);
  }

  signature(id: number): Uint32Array {
    return this.keys.subarray(id * this.words, (id + 1) * this.words);
  }

  idOf(signature: Uint32Array): number {
    const mask = this.slots.length - 1;
    for (let s = hashWords(signature) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s]!;
      if (id < 0) return this.add(signature, s);
      if (this.equals(id, signature)) return id;
    }
  }

  private equals(id: number, signature: Uint32Array): boolean {
    const at = id * this.words;
    for (let w = 0; w < this.words; w++) if (this.keys[at + w] !== signature[w]) return false;
    return true;
  }

  private add(signature: Uint32Array, slot: number): number {
    const id = this.count++;
    if (this.keys.length < this.count * this.words) {
      const keys = new Uint32Array(this.keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys.set(signature, id * this.words);
    this.slots[slot] = id;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = this.slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let s = hashWords(this.signature(id)) & mask;
      while (this.slots[s]! >= 0) s = (s + 1) & mask;
      this.slots[s] = id;
    }
  }
}

function hashWords(words: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let w = 0; w < words.length; w++) h = Math.imul(h ^ words[w]!, 0x01000193) ^ (h >>> 15);
  return h >>> 0;
}

// "|" too: picomatch reads "a|b/**" as an alternative, not as the directory "a|b".
const GLOB_CHARS = /[*?[\]{}()!+@\\|]/;

/**
 * A glob as a predicate. The shapes real mirror configs use ("project/**", "**\/*.iso", "**",
 * "*\/testing/**", "**\/debug/**", "tails/*\/amd64/**") become plain string tests, which is what
 * keeps a million-file build fast; everything else goes to the linear matcher. Like the origin paths they
 * test (validateOriginPath), the fast shapes assume no empty, "." or ".." segments.
 */
export function compileGlob(glob: string): (path: string) => boolean {
  if (glob === '**') return () => true;
  if (glob.endsWith('/**') && !GLOB_CHARS.test(glob.slice(0, -3))) {
    const prefix = glob.slice(0, -2);
    const dir = glob.slice(0, -3);
    return (path) => path.startsWith(prefix) || path === dir;
  }
  if (glob.startsWith('**/*.') && !GLOB_CHARS.test(glob.slice(5))) {
    const suffix = glob.slice(4);
    return (path) => path.endsWith(suffix);
  }
  // Everything else: an automaton that never backtracks (globMatch.ts); a glob outside its dialect matches nothing.
  return segmentGlob(glob) ?? linearGlob(glob);
}

/** Whether compileGlob reads `glob` as written (a fast shape, or in globMatch.ts's dialect). */
function isCompilable(glob: string): boolean {
  return glob === '**' || segmentGlob(glob) !== undefined || compileLinearGlob(glob) !== undefined;
}

/**
 * Globs of whole segments, each plain text or "*", with "**" only first and/or last
 * ("**\/debug/**", "*\/testing/**"), matched segment by segment; undefined for other shapes.
 */
function segmentGlob(glob: string): ((path: string) => boolean) | undefined {
  const parts = glob.split('/');
  const atAnyDepth = parts[0] === '**';
  if (atAnyDepth) parts.shift();
  const withAnyBelow = parts.length > 0 && parts[parts.length - 1] === '**';
  if (withAnyBelow) parts.pop();
  const plain = (s: string) => s !== '' && s !== '.' && s !== '..' && !GLOB_CHARS.test(s);
  if (parts.length === 0 || !parts.every((s) => s === '*' || plain(s))) return undefined;
  const matchesFrom = (path: string, start: number) => {
    const end = segmentsEnd(path, start, parts);
    return end === path.length || (end >= 0 && withAnyBelow);
  };
  if (!atAnyDepth) return (path) => matchesFrom(path, 0);
  const first = parts[0]!;
  if (first === '*') {
    return (path) => {
      for (let s = 0; s >= 0; s = nextSegment(path, s)) if (matchesFrom(path, s)) return true;
      return false;
    };
  }
  // Jump straight to where the first plain segment occurs.
  return (path) => {
    for (let s = path.indexOf(first); s >= 0; s = path.indexOf(first, s + 1)) {
      if ((s === 0 || path.charCodeAt(s - 1) === SLASH) && matchesFrom(path, s)) return true;
    }
    return false;
  };
}

const SLASH = 0x2f;

/** Start of the segment after the one at `at`, or -1 at the last. */
function nextSegment(path: string, at: number): number {
  const slash = path.indexOf('/', at);
  return slash < 0 ? -1 : slash + 1;
}

/** Where `parts` matched segment by segment from `start` end (a "/" or the path's end), or -1. */
function segmentsEnd(path: string, start: number, parts: readonly string[]): number {
  let at = start;
  let end = -1;
  for (const part of parts) {
    if (at > path.length) return -1;
    end = path.indexOf('/', at);
    if (end < 0) end = path.length;
    if (part === '*') {
      if (end === at) return -1;
    } else if (end - at !== part.length || !path.startsWith(part, at)) return -1;
    at = end + 1;
  }
  return end;
}

/**
 * A mirror's inventory compiled against the origin index: bit f is set when the mirror
 * holds the current origin copy of file f (same size, and same mtime where both are known).
 */
export function compileInventory(entries: Iterable<InventoryEntry>, files: FileIndex): Uint32Array {
  const bits = newBitset(files.count);
  for (const e of entries) {
    const f = files.lookupListed(e.path);
    if (f >= 0 && files.isCurrent(f, e.size, e.mtime)) bitSet(bits, f);
  }
  return bits;
}

/**
 * An inventory in one pass: the files it holds current (compileInventory's bits) and, when it lists
 * some in another version, every file it lists at all (so ?mirrorlist can say "stale copy").
 */
export function compileInventoryListing(
  entries: Iterable<InventoryEntry>,
  files: FileIndex,
): { current: Uint32Array; listed: Uint32Array | undefined; unmatched: InventoryEntry[] } {
  const current = newBitset(files.count);
  let listed: Uint32Array | undefined;
  const unmatched: InventoryEntry[] = [];
  for (const e of entries) {
    const f = files.lookupListed(e.path);
    if (f < 0) {
      if (unmatched.length < UNMATCHED_KEPT) unmatched.push(e);
      continue;
    }
    if (files.isCurrent(f, e.size, e.mtime)) bitSet(current, f);
    else bitSet((listed ??= newBitset(files.count)), f);
  }
  if (listed) for (let w = 0; w < listed.length; w++) listed[w] = listed[w]! | current[w]!;
  return { current, listed, unmatched };
}

/**
 * Entries of an inventory that name no origin file, kept at most: a scan taken before the origin index
 * showed a file the mirror already holds lists it here, and a later index can match it (matchUnmatched).
 */
export const UNMATCHED_KEPT = 100_000;

/**
 * Sets in `current` (bits over `files`) the files of a new origin index that entries unmatched so far
 * hold in their current version; answers the entries still unmatched.
 */
export function matchUnmatched(unmatched: readonly InventoryEntry[], current: Uint32Array, files: FileIndex): InventoryEntry[] {
  const still: InventoryEntry[] = [];
  for (const e of unmatched) {
    const f = files.lookupListed(e.path);
    if (f < 0) still.push(e);
    else if (files.isCurrent(f, e.size, e.mtime)) bitSet(current, f);
  }
  return still;
}

/**
 * What an inventory lists, carried over to a new origin index with its current bits (`current`,
 * already rebased): a file it held whose origin copy changed is now a stale copy there.
 * Undefined when it lists nothing but its current files.
 */
export function rebaseListing(
  current: Uint32Array,
  listed: Uint32Array | undefined,
  oldCurrent: Uint32Array,
  from: FileIndex,
  to: FileIndex,
): Uint32Array | undefined {
  if (from === to || from.paths === to.paths) return listed;
  const held = listed ?? oldCurrent;
  const out = newBitset(to.count);
  let stale = false;
  for (let f = 0; f < to.count; f++) {
    const old = from.lookup(to.paths[f]!);
    if (old >= 0 && bitGet(held, old)) {
      bitSet(out, f);
      if (!bitGet(current, f)) stale = true;
    }
  }
  return stale ? out : undefined;
}

/**
 * Carries an inventory over to a new origin index: a file keeps its bit only when the origin
 * copy did not change, because a file changed at the origin is not on a mirror until seen there.
 */
export function rebaseInventory(bits: Uint32Array, from: FileIndex, to: FileIndex): Uint32Array {
  // The same columns (an index given arrivals): the same files.
  if (from === to || from.paths === to.paths) return bits;
  const out = newBitset(to.count);
  for (let f = 0; f < to.count; f++) {
    const old = from.lookup(to.paths[f]!);
    if (old >= 0 && bitGet(bits, old) && from.sameVersion(old, to, f)) bitSet(out, f);
  }
  return out;
}
