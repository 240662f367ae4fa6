// Fast, stable, runtime-independent hashing for sticky weighted choice (rendezvous hashing).

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 for good avalanche. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in (0, 1) from a request key hash and a mirror id hash. */
export function unitFrom(keyHash: number, idHash: number): number {
  const h = fmix32((keyHash ^ Math.imul(idHash, 0x9e3779b1)) >>> 0);
  return (h + 0.5) / 4294967296;
}
