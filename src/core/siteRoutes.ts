// Whole-site mirrors: which configured route a request path falls under, and where it is sent (a pure function over the snapshot).
//
// Some providers mirror a whole web service (an archive's web UI and API), not just the file set. A route
// sends a path prefix outside /download/ either to the nearest fresh full-copy mirror (`to: mirrors`, with
// the download ranking: tiers, distance band, weighted rendezvous stickiness) or always to the origin
// (`to: origin`, for write features). Routes travel in the snapshot's routing options (`siteRoutes`), so the
// edge, which decodes the same snapshot, gives the same answers.
import { hashString, unitFrom } from './hash.js';
import type { ClientFacts, SiteRoute } from './model.js';
import type { RoutingOptions, Snapshot, SnapshotMirror } from './snapshot.js';

export type { SiteRoute };

/** Kept for callers that spelled the routing options with routes; RoutingOptions carries `siteRoutes` itself. */
export type SiteRoutingOptions = RoutingOptions;

/**
 * Mirrorgate's own paths: a route may not take any path under them (nor a prefix of them). Those
 * without a trailing '/' are names that also cover any longer name (/offer → /offers, /offer-form).
 */
export const RESERVED_PATHS: readonly string[] = [
  '/download/',
  '/api/',
  '/admin/',
  '/mirrors',
  '/healthz',
  '/readyz',
  '/metrics',
  '/logos/',
  '/assets/',
  '/login',
  '/logout',
  '/staff',
  '/provider',
  '/offer',
];

/** One or more path segments of literal URL characters (no '%', no empty, '.' or '..' segment), each closed by '/'. */
const PREFIX = /^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+\/)+$/;

/** Why `prefix` cannot be a route prefix, or undefined when it can. */
export function routePrefixProblem(prefix: string): string | undefined {
  if (prefix === '/') return 'must not be "/": a route would take every path, Mirrorgate\'s own included';
  if (!PREFIX.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..')) {
    return 'must be a path that starts and ends with "/", like /browse/ (letters, digits and -._~!$&\'()*+,;=:@ only)';
  }
  const p = prefix.slice(0, -1).toLowerCase();
  for (const reserved of RESERVED_PATHS) {
    const r = reserved.endsWith('/') ? reserved.slice(0, -1) : reserved;
    const clash = p === r || p.startsWith(`${r}/`) || r.startsWith(`${p}/`) || (!reserved.endsWith('/') && p.startsWith(r));
    if (clash) return `must not cover Mirrorgate's own path ${reserved}`;
  }
  return undefined;
}

/** Why `target` cannot be a targetPrefix, or undefined when it can ("/" is allowed: the target's root). */
export function targetPrefixProblem(target: string): string | undefined {
  if (target === '/') return undefined;
  if (!PREFIX.test(target) || target.split('/').some((s) => s === '.' || s === '..')) {
    return 'must be a path that starts and ends with "/", like /api/ (letters, digits and -._~!$&\'()*+,;=:@ only)';
  }
  return undefined;
}

/** The routes of one snapshot made ready for matching: longest prefix first, mirror ids as mirror numbers. */
interface CompiledRoutes {
  readonly routes: readonly { readonly route: SiteRoute; readonly members: readonly number[] }[];
}

const compiled = new WeakMap<Snapshot, CompiledRoutes>();

function compiledFor(snapshot: Snapshot): CompiledRoutes {
  let c = compiled.get(snapshot);
  if (c) return c;
  const routes = siteRoutesOf(snapshot)
    // A snapshot from elsewhere is checked again: a route never takes Mirrorgate's own paths.
    .filter((r) => routePrefixProblem(r.prefix) === undefined && targetPrefixProblem(r.targetPrefix) === undefined)
    .map((route) => {
      const members = new Set<number>();
      for (const id of route.to === 'mirrors' ? route.mirrors : []) {
        const i = snapshot.byId.get(id);
        if (i !== undefined) members.add(i);
      }
      return { route, members: [...members].sort((a, b) => a - b) };
    })
    .sort((a, b) => b.route.prefix.length - a.route.prefix.length);
  c = { routes };
  compiled.set(snapshot, c);
  return c;
}

/** The site routes a snapshot carries (none unless the control plane put them in its routing options). */
export function siteRoutesOf(snapshot: Snapshot): readonly SiteRoute[] {
  return snapshot.routing.siteRoutes ?? [];
}

export interface SiteRouteMatch {
  readonly route: SiteRoute;
  /** Mirror numbers of the route's full-copy mirrors still in the snapshot, ascending. */
  readonly members: readonly number[];
  /** The request path after the prefix (still encoded); undefined for the prefix without its '/'. */
  readonly tail: string | undefined;
}

/** The route a request path (as sent, still encoded, no query) falls under: the longest matching prefix. */
export function matchSiteRoute(snapshot: Snapshot, path: string): SiteRouteMatch | undefined {
  const { routes } = compiledFor(snapshot);
  for (const { route, members } of routes) {
    const prefix = route.prefix;
    if (path.startsWith(prefix)) return { route, members, tail: path.slice(prefix.length) };
    if (path.length === prefix.length - 1 && prefix.startsWith(path)) return { route, members, tail: undefined };
  }
  return undefined;
}

/**
 * Whether a full-copy mirror may take this client's site requests: enabled, launched, not draining
 * (at all: a page view is no download worth ramping), healthy as a probe showed it (a mirror whose
 * lag is unknown qualifies only so), within maxLag (the snapshot's exclusion), and serving the
 * client's country when it serves its own only.
 */
export function siteEligible(m: SnapshotMirror, client: ClientFacts): boolean {
  return m.exclusion === undefined && m.state.health === 'up' && m.drain === undefined && (!m.countryOnly || client.country === m.country);
}

const EARTH_RADIUS_KM = 6371;
const DEG = Math.PI / 180;

interface Ranked {
  readonly m: SnapshotMirror;
  /** 0 same ASN, 1 same country, 2 same continent, 3 elsewhere (or unknown), as for downloads. */
  readonly tier: number;
  /** 0 when the client's location is unknown: then a tier is one band. */
  readonly km: number;
}

/**
 * The full-copy mirror for this client and path, or undefined (the origin then): eligible mirrors of the
 * route, https ones only for an https client while one exists; nearest tier, then the mirrors within
 * routing.bandKm of the nearest in it; among those one by weighted rendezvous hashing of client address
 * and path (-ln(u) / weight, lowest wins), so the same client keeps the same mirror for the same path on
 * every instance. A band whose mirrors all weigh 0 passes to the next; when all do, the nearest wins.
 * (decide.ts does the same over its typed tables and does not export its pieces; this is the plain form.)
 */
export function pickSiteMirror(snapshot: Snapshot, members: readonly number[], path: string, client: ClientFacts): SnapshotMirror | undefined {
  let pool: SnapshotMirror[] = [];
  for (const i of members) {
    const m = snapshot.mirrors[i];
    if (m && siteEligible(m, client)) pool.push(m);
  }
  if (client.https && pool.some((m) => m.https)) pool = pool.filter((m) => m.https);
  if (pool.length === 0) return undefined;

  const located = client.lat !== undefined && client.lon !== undefined;
  const cosLat = located ? Math.cos(client.lat! * DEG) : 0;
  const cx = located ? cosLat * Math.cos(client.lon! * DEG) : 0;
  const cy = located ? cosLat * Math.sin(client.lon! * DEG) : 0;
  const cz = located ? Math.sin(client.lat! * DEG) : 0;
  const ranked: Ranked[] = pool.map((m) => ({
    m,
    tier: tierOf(m, client),
    km: located ? EARTH_RADIUS_KM * Math.acos(Math.min(1, Math.max(-1, cx * m.x + cy * m.y + cz * m.z))) : 0,
  }));
  ranked.sort((a, b) => a.tier - b.tier || a.km - b.km || a.m.index - b.m.index);

  const bandKm = snapshot.routing.bandKm;
  const key = hashString(`${client.ip}\n${path}`);
  let from = 0;
  while (from < ranked.length) {
    const first = ranked[from]!;
    // Sorted by tier then distance, so a band is a run; the nearest is always in its own band.
    let to = from + 1;
    while (to < ranked.length && ranked[to]!.tier === first.tier && ranked[to]!.km <= first.km + bandKm) to++;
    let best: SnapshotMirror | undefined;
    let bestScore = Infinity;
    for (let j = from; j < to; j++) {
      const m = ranked[j]!.m;
      if (!(m.weight > 0)) continue;
      const score = -Math.log(unitFrom(key, m.idHash)) / m.weight;
      if (score < bestScore || (score === bestScore && best !== undefined && m.index < best.index)) {
        bestScore = score;
        best = m;
      }
    }
    if (best) return best;
    from = to;
  }
  return ranked[0]!.m;
}

function tierOf(m: SnapshotMirror, client: ClientFacts): number {
  if (client.asn !== undefined && m.asn.includes(client.asn)) return 0;
  if (client.country !== undefined && client.country === m.country) return 1;
  if (client.continent !== undefined && client.continent === m.continent) return 2;
  return 3;
}

export interface SiteRequest {
  method: string;
  /** The request path as sent (still encoded), without the query. */
  path: string;
  /** The query string without its '?', '' when none. */
  query: string;
}

export interface SiteAnswer {
  readonly route: SiteRoute;
  /** 302 for GET/HEAD; 307 for other methods, so the client sends the same method and body again. */
  readonly status: 302 | 307;
  /** The full-copy mirror chosen, or undefined for the origin. */
  readonly mirror: SnapshotMirror | undefined;
  /** A configured mirror's baseUrl or the origin's, then the target path and the query. */
  readonly location: string;
}

/**
 * Where a request under a site route goes, or undefined when no route takes its path. GET and HEAD of a
 * `to: mirrors` route go to the picked mirror (the origin when none qualifies); everything else goes to
 * the origin. `client` is asked for only when a mirror is to be picked.
 */
export function siteAnswer(snapshot: Snapshot, req: SiteRequest, client: () => ClientFacts): SiteAnswer | undefined {
  const match = matchSiteRoute(snapshot, req.path);
  if (!match) return undefined;
  const { route } = match;
  const read = req.method === 'GET' || req.method === 'HEAD';
  const mirror = read && route.to === 'mirrors' ? pickSiteMirror(snapshot, match.members, req.path, client()) : undefined;
  const base = mirror ? mirror.spec.baseUrl : snapshot.origin.baseUrl;
  const targetPath = match.tail === undefined ? route.targetPrefix.slice(1, -1) : route.targetPrefix.slice(1) + match.tail;
  const query = req.query === '' ? '' : `?${req.query}`;
  return { route, status: read ? 302 : 307, mirror, location: base + urlSafe(targetPath + query) };
}

/** Characters a URL's path and query may hold as they are (a '%' only as the start of an escape). */
const URL_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]$/;

/**
 * The request's part of a Location, with every character a URL may not hold percent-encoded: the
 * target stays on the configured base's host, and the header never carries control characters.
 */
export function urlSafe(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (URL_SAFE.test(ch)) out += ch;
    else if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) out += ch;
    else {
      const code = text.charCodeAt(i);
      const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? text.slice(i, i + 2) : ch;
      try {
        out += encodeURIComponent(pair);
        i += pair.length - 1;
      } catch {
        // A lone surrogate has no UTF-8 form.
        out += '%EF%BF%BD';
      }
    }
  }
  return out;
}
