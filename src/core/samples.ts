// Picks the few files a probe checks on a mirror: a deterministic sample that rotates every round, so over time probes cover the whole file set.
import type { FileIndex } from './fileIndex.js';
import { fmix32, hashString } from './hash.js';

export interface SampleFile {
  path: string;
  size: number;
}

/**
 * How many files one call looks at, at most. Checking a file is one bit test, but with a million
 * files and a thousand mirrors a full walk each round adds up; a mirror carrying a sliver under
 * 1/100,000 of the set may then get fewer samples this round, and others in later rounds.
 */
export const MAX_SAMPLE_SCAN = 100_000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Up to `n` distinct files the mirror should carry (`carries(f)` true), with their origin sizes.
 * Files are visited in an affine permutation `start + i·step (mod count)` whose start and step
 * come from the round number: the same round always gives the same sample (any instance can
 * re-check it), a new round a different one, and no file is picked twice.
 */
export function chooseSamples(files: FileIndex, carries: (f: number) => boolean, n: number, round: number): SampleFile[] {
  const count = files.count;
  if (count === 0 || n <= 0) return [];
  const h = hashString(`samples:${round}`);
  const start = h % count;
  let step = count > 1 ? 1 + (fmix32((h ^ 0x9e3779b9) >>> 0) % (count - 1)) : 1;
  // A step sharing a factor with count would cycle over a fraction of the files; 1 always works.
  while (gcd(step, count) !== 1) step = (step % (count - 1)) + 1;

  const out: SampleFile[] = [];
  const scan = Math.min(count, MAX_SAMPLE_SCAN);
  let f = start;
  for (let i = 0; i < scan && out.length < n; i++) {
    if (carries(f)) out.push({ path: files.paths[f]!, size: files.size(f) });
    f = (f + step) % count;
  }
  return out;
}
