// Which mirror may carry which file: include/exclude rule classes and compiled inventories.
import picomatch from 'picomatch';
import type { FileIndex } from './fileIndex.js';
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

export function computeRuleClasses(files: FileIndex, ruleKeys: readonly string[]): RuleClasses {
  // Each distinct glob is tested once per file, however many rule sets share it.
  const globs: string[] = [];
  const globNumber = (g: string) => {
    const at = globs.indexOf(g);
    return at >= 0 ? at : globs.push(g) - 1;
  };
  const sets = ruleKeys.map((key) => {
    const [include, exclude] = JSON.parse(key) as [string[], string[]];
    return { include: include.map(globNumber), exclude: exclude.map(globNumber) };
  });
  const matchers = globs.map(compileGlob);
  const hits = new Uint8Array(globs.length);

  const fileClass = new Uint32Array(files.count);
  const membership: Uint32Array[] = [];
  const classByKey = new Map<string, number>();
  const bits = newBitset(ruleKeys.length);
  for (let f = 0; f < files.count; f++) {
    const path = files.paths[f]!;
    for (let g = 0; g < matchers.length; g++) hits[g] = matchers[g]!(path) ? 1 : 0;
    bits.fill(0);
    for (let r = 0; r < sets.length; r++) {
      const set = sets[r]!;
      if (set.include.some((g) => hits[g]) && !set.exclude.some((g) => hits[g])) bitSet(bits, r);
    }
    const key = bits.join(',');
    let cls = classByKey.get(key);
    if (cls === undefined) {
      cls = membership.length;
      classByKey.set(key, cls);
      membership.push(bits.slice());
    }
    fileClass[f] = cls;
  }
  return { files, ruleKeys, fileClass, membership };
}

const GLOB_CHARS = /[*?[\]{}()!+@\\]/;

/**
 * A glob as a predicate. The shapes real mirror configs use ("project/**", "**\/*.iso", "**")
 * become plain string tests, which is what keeps a million-file build in seconds;
 * everything else goes to picomatch.
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
  return picomatch(glob, { dot: true });
}

/** Reuses `previous` when it was computed over the same file index and covers every rule key. */
export function ruleClassesFor(
  files: FileIndex,
  mirrors: readonly MirrorSpec[],
  previous?: RuleClasses,
): RuleClasses {
  const keys = [...new Set(mirrors.map((m) => ruleKey(m.content)))].sort();
  if (previous && previous.files === files && keys.every((k) => previous.ruleKeys.includes(k))) return previous;
  return computeRuleClasses(files, keys);
}

/**
 * A mirror's inventory compiled against the origin index: bit f is set when the mirror
 * holds the current origin copy of file f (same size, and same mtime where both are known).
 */
export function compileInventory(entries: Iterable<InventoryEntry>, files: FileIndex): Uint32Array {
  const bits = newBitset(files.count);
  for (const e of entries) {
    const f = files.lookup(e.path);
    if (f >= 0 && files.isCurrent(f, e.size, e.mtime)) bitSet(bits, f);
  }
  return bits;
}

/**
 * Carries an inventory over to a new origin index: a file keeps its bit only when the origin
 * copy did not change, because a file changed at the origin is not on a mirror until seen there.
 */
export function rebaseInventory(bits: Uint32Array, from: FileIndex, to: FileIndex): Uint32Array {
  if (from === to) return bits;
  const out = newBitset(to.count);
  for (let f = 0; f < to.count; f++) {
    const old = from.lookup(to.paths[f]!);
    if (old >= 0 && bitGet(bits, old) && from.isCurrent(old, to.size(f), to.mtime(f))) bitSet(out, f);
  }
  return out;
}
