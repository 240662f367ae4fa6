// What one client, one network or one wrong token may cost us: address keys for rate limits, wrong-token
// limits on the admin API, caps on pending offers, who may read /metrics, and 422s for refused fields.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { Store as LimiterStore } from 'hono-rate-limiter';
import ipaddr from 'ipaddr.js';
import { HitWindows, type HitCount } from '../core/hitWindows.js';
import { addressKey, createTrustedProxies, DEFAULT_IPV6_PREFIX } from '../geo/clientAddress.js';
import { bearerChallenge, presentedToken, principalFor, principalOf, timingSafeEqualString } from './auth.js';
import { EDGE_PLACE_HEADER, EDGE_TOKEN_HEADER, edgePlaceVouched } from './edgePlace.js';
import { clientFacts } from './client.js';
import type { AppEnv, AppServices } from './services.js';
import { accepts } from './accept.js';

const AUTH_WINDOW_MS = 15 * 60_000;

/** The limits a deployment sets (config `limits`); every field has the config's default. */
export interface GuardLimits {
  ipv6Prefix?: number;
  authFailures?: number;
  pendingOffers?: number;
  pendingOffersPerNetwork?: number;
}

/** Who may read /metrics (config `metrics`): a bearer token, peer networks, or both (either suffices); neither: anyone. */
export interface MetricsAccess {
  token?: string;
  allowFrom?: readonly string[];
}

/** The request's client, counted as addressKey says. */
export function clientKey(c: Context, services: AppServices): string {
  return addressKey(clientFacts(c, services).ip, services.rateLimits?.ipv6Prefix);
}

// The network of the client sending an offer, found by the guard and read by the offer route.
const offerNetworks = new WeakMap<Request, string>();

/** Where an offer comes from ({ network } for the stored offer), as the offer guard found it. */
export function offerOrigin(c: Context): { network?: string } {
  const network = offerNetworks.get(c.req.raw);
  return network === undefined ? {} : { network };
}

/** Guards every runtime with a control plane mounts in front of the staff audience (admin API, offers). */
export function installStaffGuards(app: Hono<AppEnv>, services: AppServices): void {
  app.use('/admin/*', bearerChallenge());
  app.on('POST', '/api/v1/offers', pendingOfferCaps(services));
}

/**
 * The routes that answer a right bearer token differently from a wrong one: the admin API, the console
 * pages and /login (which names the token's holder), and a download's staff-only ?fromip=.
 */
function readsBearerToken(c: Context): boolean {
  const path = c.req.path;
  if (/^\/(?:admin\/|staff(?:\/|$)|provider(?:\/|$)|login$)/.test(path)) return true;
  return path.startsWith('/download/') && c.req.query('fromip') !== undefined;
}

/**
 * Wrong bearer tokens: `authFailures` (10) per quarter hour per client network, as on /login, on every
 * route that reads a bearer token (readsBearerToken: each answers a right token differently from a
 * wrong one); mounted once, before every audience, so a request counts once. Past that, every token from that network is refused with 429 until
 * the window ends, a right one too (otherwise a 200 among the 429s would still tell a guess was
 * right); other networks are untouched. Counted in the shared store where there is one (every
 * instance spends one budget), else in this instance.
 */
export function wrongTokenLimit(services: AppServices): MiddlewareHandler<AppEnv> {
  const limit = services.rateLimits?.authFailures ?? 10;
  const countHit = hitCounter(services);
  return async (c, next) => {
    // An edge's token beside the client's place (edgePlace.ts) changes a public answer when right: a guess
    // at it spends the same budget, and past it the place is not read (the request is answered as any).
    const edgeToken = c.req.header(EDGE_TOKEN_HEADER);
    if (edgeToken !== undefined && c.req.header(EDGE_PLACE_HEADER) !== undefined) {
      const key = `auth:${clientKey(c, services)}`;
      if ((await countHit(key, AUTH_WINDOW_MS, 0)).hits < limit) {
        const role = principalFor(edgeToken, services)?.role;
        if (role === 'edge' || role === 'staff') edgePlaceVouched.add(c.req.raw);
        else await countHit(key, AUTH_WINDOW_MS, 1);
      }
    }
    if (!readsBearerToken(c) || presentedToken(c) === undefined) return next();
    const key = `auth:${clientKey(c, services)}`;
    const seen = await countHit(key, AUTH_WINDOW_MS, 0);
    // An edge token reading the snapshot is let through: Workers fetch from addresses other tenants share,
    // and their wrong guesses must not cut the edge off its routing data. (It confirms an edge token, a
    // random one of 16 characters at least, to whoever already holds it.)
    if (seen.hits >= limit && principalOf(c, services)?.role !== 'edge') {
      c.header('Cache-Control', 'no-store');
      c.header('Retry-After', String(Math.max(1, Math.ceil((seen.resetAtMs - Date.now()) / 1000))));
      return c.json({ error: `too many wrong tokens from this network; wait up to ${AUTH_WINDOW_MS / 60_000} minutes` }, 429);
    }
    if (principalOf(c, services) === undefined) await countHit(key, AUTH_WINDOW_MS, 1);
    return next();
  };
}

/** The deployment's shared hit counter, or one of this instance's own (bounded) where there is none. */
function hitCounter(services: AppServices): NonNullable<AppServices['countHit']> {
  if (services.countHit) return services.countHit;
  const windows = new HitWindows(100_000);
  return async (key, windowMs, delta) => windows.count(key, windowMs, delta, Date.now());
}

/**
 * hono-rate-limiter's store over the deployment's hit counter, so a limit is one budget across
 * instances and cluster workers; `name` keeps one limiter's counts apart from another's.
 */
export function limiterStore(services: AppServices, name: string): LimiterStore<AppEnv> {
  const countHit = hitCounter(services);
  let windowMs = 60_000;
  const info = ({ hits, resetAtMs }: HitCount) => ({ totalHits: hits, resetTime: new Date(resetAtMs) });
  return {
    init: (options) => void (windowMs = options.windowMs),
    localKeys: services.countHit === undefined,
    prefix: `${name}:`,
    increment: async (key) => info(await countHit(`${name}:${key}`, windowMs, 1)),
    decrement: async (key) => void (await countHit(`${name}:${key}`, windowMs, -1)),
    get: async (key) => info(await countHit(`${name}:${key}`, windowMs, 0)),
    resetKey: async (key) => {
      const { hits } = await countHit(`${name}:${key}`, windowMs, 0);
      if (hits > 0) await countHit(`${name}:${key}`, windowMs, -hits);
    },
  };
}

/**
 * What a rate limiter (hono-rate-limiter's `message`) answers past its limit, in the form the client
 * reads errors: JSON `{"error"}` on /api/ and /admin/ and for clients that accept JSON, like every other
 * error there; a line of text otherwise. The limiter sets the 429 and Retry-After.
 */
export function rateLimitedAnswer(message = 'too many requests from this address; try again later'): (c: Context) => string | { error: string } {
  return (c) => {
    const wantsJson = accepts(c.req.header('accept') ?? '', 'application/json') || c.req.path.startsWith('/api/') || c.req.path.startsWith('/admin/');
    return wantsJson ? { error: message } : `Error: ${message}\n`;
  };
}

/**
 * Offers waiting for staff: at most `pendingOffers` (500) in all and `pendingOffersPerNetwork` (3)
 * from one client network, so a flood cannot bury real offers (or the store). Refused with 429.
 * An offer being submitted holds a place (counted in the shared hit counter, one budget across
 * instances and workers) until it is stored, so posts sent at once cannot all pass one check.
 */
function pendingOfferCaps(services: AppServices): MiddlewareHandler<AppEnv> {
  const total = services.rateLimits?.pendingOffers ?? 500;
  const perNetwork = services.rateLimits?.pendingOffersPerNetwork ?? 3;
  const countHit = hitCounter(services);
  return async (c, next) => {
    const admin = services.admin;
    if (!admin) return next();
    const network = clientKey(c, services);
    offerNetworks.set(c.req.raw, network);
    const places = [`offer-submitting:${network}`, 'offer-submitting:*'];
    // Places held by other submissions in flight; a crashed one's lapses with the window.
    const [mine, all] = await Promise.all(places.map((key) => countHit(key, SUBMITTING_MS, 1)));
    try {
      const pending = (await admin.listOffers()).filter((o) => o.status === 'offered');
      const fromHere = pending.filter((o) => o.network === network).length + mine!.hits - 1;
      const inAll = pending.length + all!.hits - 1;
      if (inAll >= total || fromHere >= perNetwork) {
        c.header('Retry-After', '3600');
        const message =
          inAll >= total
            ? 'too many offers are waiting for staff right now; please try again later'
            : 'offers from your network are already waiting for staff; please wait for their answer';
        return c.json({ error: message }, 429);
      }
      await next();
    } finally {
      await Promise.all(places.map((key) => countHit(key, SUBMITTING_MS, -1)));
    }
  };
}

/** How long a submission's place lasts at most (an offer is stored in well under a second). */
const SUBMITTING_MS = 60_000;

/** /metrics for a bearer token or peers in `allowFrom` when either is set (it shows every mirror's counts); 404 to others. */
export function metricsGuard(services: AppServices, access: MetricsAccess | undefined): MiddlewareHandler<AppEnv> {
  const token = access?.token;
  const allowed = access?.allowFrom?.length ? createTrustedProxies([...access.allowFrom]) : undefined;
  const limit = services.rateLimits?.authFailures ?? 10;
  const countHit = hitCounter(services);
  return async (c, next) => {
    if (!token && !allowed) return next();
    // The TCP peer, not a forwarded address: a listed proxy may forward anyone.
    const peer = services.connection(c).peer;
    if (allowed?.has(peer)) return next();
    c.header('Cache-Control', 'no-store');
    const presented = presentedToken(c);
    if (token && presented !== undefined) {
      // Guesses at the metrics token spend the network's wrong-token budget, as on every route a token opens.
      const key = `auth:${clientKey(c, services)}`;
      const seen = await countHit(key, AUTH_WINDOW_MS, 0);
      if (seen.hits >= limit) {
        c.header('Retry-After', String(Math.max(1, Math.ceil((seen.resetAtMs - Date.now()) / 1000))));
        return c.json({ error: `too many wrong tokens from this network; wait up to ${AUTH_WINDOW_MS / 60_000} minutes` }, 429);
      }
      if (timingSafeEqualString(presented, token)) return next();
      await countHit(key, AUTH_WINDOW_MS, 1);
    }
    return c.json({ error: 'not found' }, 404);
  };
}
