// The request mix every load tool sends (autocannon in `npm run bench`, k6 in load/k6-mix.ts): defined once, here.
//
// Runs in Node and in k6 alike, so it imports nothing but pure data: no node:* modules, no I/O.
// Each runner reads the demo manifest its own way and hands the text to demoPaths().

import { CLIENT_IPS } from '../test/support/clientIps.js';

export type RequestKind = 'redirect' | 'page' | 'mirrorlist' | 'metalink' | 'not-found';

export interface MixShare {
  kind: RequestKind;
  /** Fraction of all requests, 0..1; the shares of a mix add up to 1. */
  share: number;
  /** What Mirrorgate answers for this kind with the demo config. */
  status: number;
}

/**
 * What a public download service sees: mostly tools following a 302 (curl, wget, apt, dnf),
 * some browsers getting the interstitial page, a few mirror lists and metalinks, and the 404s
 * of stale links and scanners.
 */
export const MIX: readonly MixShare[] = [
  { kind: 'redirect', share: 0.8, status: 302 },
  { kind: 'page', share: 0.07, status: 200 },
  { kind: 'mirrorlist', share: 0.04, status: 200 },
  { kind: 'metalink', share: 0.04, status: 200 },
  { kind: 'not-found', share: 0.05, status: 404 },
];

/** The 302 path alone: what "redirects per second" means. */
export const REDIRECT_ONLY: readonly MixShare[] = [{ kind: 'redirect', share: 1, status: 302 }];

export interface LoadRequest {
  kind: RequestKind;
  method: 'GET';
  /** Path and query, percent-encoded as a client sends it. */
  path: string;
  headers: Record<string, string>;
  /** The status Mirrorgate should answer with. */
  status: number;
}

export interface BuildOptions {
  /** Origin paths that exist (decoded), e.g. from demoPaths(). */
  paths: readonly string[];
  /** How many distinct requests to make; runners cycle through them. */
  count: number;
  mix?: readonly MixShare[];
  /** Distinct client addresses to spread the requests over. */
  clients?: number;
  seed?: number;
}

const TOOL_AGENTS = ['curl/8.5.0', 'Wget/1.21.4', 'Debian APT-HTTP/1.3 (2.7.14)', 'libdnf (Fedora Linux 40; workstation; Linux.x86_64)', 'aria2/1.37.0'];
const BROWSER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Deterministic pseudo-random numbers (mulberry32): every run and every tool sends the same requests. */
export function random(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The paths of a JSON Lines origin manifest ({"path": …} per line), in file order. */
export function demoPaths(manifestJsonl: string): string[] {
  const out: string[] = [];
  for (const line of manifestJsonl.split('\n')) {
    if (line.trim() === '') continue;
    const path = (JSON.parse(line) as { path?: unknown }).path;
    if (typeof path === 'string') out.push(path);
  }
  return out;
}

/** Each segment as encodeURIComponent has it, slashes kept: what a link on a download page carries. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

// First octets of unicast space that is neither private, loopback, link-local, CGNAT nor documentation-heavy.
const PUBLIC_FIRST_OCTETS = Array.from({ length: 223 }, (_, i) => i + 1).filter((o) => ![10, 100, 127, 169, 172, 192, 198, 203].includes(o));

/**
 * Client addresses: a third from the hand-checked list (every continent, known places), the
 * rest spread over public IPv4 space, so the GeoIP lookup sees many places and a realistic
 * cache miss rate rather than a few hot entries.
 */
export function clientAddresses(count: number, seed = 7): string[] {
  const rnd = random(seed);
  const known = Object.values(CLIENT_IPS).map((c) => c.ip);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) {
      out.push(known[(i / 3) % known.length]!);
    } else {
      const a = PUBLIC_FIRST_OCTETS[Math.floor(rnd() * PUBLIC_FIRST_OCTETS.length)]!;
      out.push(`${a}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`);
    }
  }
  return out;
}

/**
 * `count` requests in the proportions of `mix`, interleaved (not in blocks), over the given
 * paths with a popularity skew: half of all downloads go to the top 5 % of files, as release
 * images and metadata dominate real mirror traffic.
 */
export function buildRequests(opts: BuildOptions): LoadRequest[] {
  const mix = opts.mix ?? MIX;
  const rnd = random(opts.seed ?? 42);
  const clients = clientAddresses(opts.clients ?? 2_000, (opts.seed ?? 42) + 1);
  const paths = opts.paths;
  if (paths.length === 0) throw new Error('buildRequests: no paths');
  const hot = Math.max(1, Math.floor(paths.length * 0.05));
  const pickPath = () => paths[rnd() < 0.5 ? Math.floor(rnd() * hot) : Math.floor(rnd() * paths.length)]!;

  // Exact counts per kind, then a deterministic shuffle so kinds interleave.
  const kinds: MixShare[] = [];
  for (const m of mix) for (let i = 0; i < Math.round(m.share * opts.count); i++) kinds.push(m);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }

  return kinds.map((m, i): LoadRequest => {
    const ip = clients[Math.floor(rnd() * clients.length)]!;
    const base = { kind: m.kind, method: 'GET' as const, status: m.status };
    const path = pickPath();
    switch (m.kind) {
      case 'redirect':
        return {
          ...base,
          path: `/download/${encodePath(path)}`,
          headers: { 'x-forwarded-for': ip, 'user-agent': TOOL_AGENTS[i % TOOL_AGENTS.length]!, accept: '*/*' },
        };
      case 'page':
        return { ...base, path: `/download/${encodePath(path)}`, headers: { 'x-forwarded-for': ip, 'user-agent': BROWSER_AGENT, accept: BROWSER_ACCEPT } };
      case 'mirrorlist':
        return {
          ...base,
          path: `/download/${encodePath(path)}?mirrorlist`,
          headers: { 'x-forwarded-for': ip, 'user-agent': TOOL_AGENTS[0]!, accept: 'application/json' },
        };
      case 'metalink':
        return {
          ...base,
          path: `/download/${encodePath(path)}.meta4`,
          headers: { 'x-forwarded-for': ip, 'user-agent': TOOL_AGENTS[4]!, accept: 'application/metalink4+xml' },
        };
      case 'not-found': {
        // A stale link: a real folder, a file that is not (or no longer) there.
        const dir = path.slice(0, path.lastIndexOf('/') + 1);
        return {
          ...base,
          path: `/download/${encodePath(`${dir}gone-${i}.iso`)}`,
          headers: { 'x-forwarded-for': ip, 'user-agent': TOOL_AGENTS[i % TOOL_AGENTS.length]!, accept: '*/*' },
        };
      }
    }
  });
}

/** Share of each kind in a built request list, for printing beside the status codes seen. */
export function kindCounts(requests: readonly LoadRequest[]): Record<RequestKind, number> {
  const out: Record<RequestKind, number> = { redirect: 0, page: 0, mirrorlist: 0, metalink: 0, 'not-found': 0 };
  for (const r of requests) out[r.kind]++;
  return out;
}
