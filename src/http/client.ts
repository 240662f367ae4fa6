// From an HTTP request to the client facts the decision needs: address, scheme, and place.
import type { Context } from 'hono';
import { LRUCache } from 'lru-cache';
import type { ClientFacts } from '../core/model.js';
import { addressKey, normalizeAddress, resolveClientAddress, type TrustedProxies } from '../geo/clientAddress.js';
import type { Locator } from '../geo/locator.js';
import type { AppServices } from './services.js';

/** Distinct (peer, forwarding headers) combinations remembered; a download client usually asks many times. */
const REMEMBERED_CLIENTS = 10_000;
/** Longer keys are not remembered: a huge X-Forwarded-For must not pin kilobytes per entry. */
const MAX_KEY_LENGTH = 256;

/**
 * Client facts from the transport inputs, memoised: parsing the addresses and walking the
 * GeoIP tree cost tens of µs, and the same client asks again and again (a package manager
 * fetches dozens of files). The facts are a pure function of the inputs and the GeoIP
 * data, so a remembered answer is never stale while the data is the same: a reload (the
 * locator's generation) forgets them all.
 */
export class ClientResolver {
  private readonly remembered = new LRUCache<string, ClientFacts>({ max: REMEMBERED_CLIENTS });
  private generation: number | undefined;

  constructor(
    private readonly locator: Locator,
    private readonly trusted: TrustedProxies,
    private readonly ipv6Prefix?: number,
  ) {
    this.generation = locator.generation?.();
  }

  facts(peer: string, xForwardedFor: string | undefined, xForwardedProto: string | undefined, peerHttps: boolean): ClientFacts {
    // A reloaded GeoIP file makes every remembered answer stale.
    const generation = this.locator.generation?.();
    if (generation !== this.generation) {
      this.remembered.clear();
      this.generation = generation;
    }
    const key = `${peerHttps ? 's' : 'p'}${peer}|${xForwardedFor ?? ''}|${xForwardedProto ?? ''}`;
    const known = this.remembered.get(key);
    if (known) return known;
    const { ip, https } = resolveClientAddress(peer, xForwardedFor, xForwardedProto, peerHttps, this.trusted);
    const facts = this.forAddress(ip, https);
    if (key.length <= MAX_KEY_LENGTH) this.remembered.set(key, facts);
    return facts;
  }

  /** Facts for an address already in canonical form. Frozen: one object answers many requests. */
  forAddress(ip: string, https: boolean): ClientFacts {
    // Who counts take it for, worked out once per remembered client, not per download.
    return Object.freeze({ ip, https, countAs: countAs(ip, this.ipv6Prefix), ...this.locator.lookup(ip) });
  }
}

// One resolver per set of services, made on first use, so every runtime and test wiring gets it for free.
const resolvers = new WeakMap<AppServices, ClientResolver>();

export function clientResolver(services: AppServices): ClientResolver {
  let r = resolvers.get(services);
  if (!r) {
    r = new ClientResolver(services.locator, services.trustedProxies, services.rateLimits?.ipv6Prefix);
    resolvers.set(services, r);
  }
  return r;
}

export function clientFacts(c: Context, services: AppServices): ClientFacts {
  const conn = services.connection(c);
  const place = services.requestPlace?.(c);
  if (place) {
    const { ip, https } = resolveClientAddress(
      conn.peer,
      c.req.header('x-forwarded-for'),
      c.req.header('x-forwarded-proto'),
      conn.https,
      services.trustedProxies,
    );
    return { ip, https, countAs: countAs(ip, services.rateLimits?.ipv6Prefix), ...place };
  }
  return clientResolver(services).facts(conn.peer, c.req.header('x-forwarded-for'), c.req.header('x-forwarded-proto'), conn.https);
}

/** Facts for an address given explicitly (staff's ?fromip=), or undefined when it is not an address. */
export function factsForAddress(text: string, https: boolean, services: AppServices): ClientFacts | undefined {
  const ip = normalizeAddress(text);
  return ip === undefined ? undefined : clientResolver(services).forAddress(ip, https);
}

/** ClientFacts.countAs: an IPv4 address as it is, an IPv6 one by its network. */
function countAs(ip: string, ipv6Prefix: number | undefined): string {
  return ip.includes(':') ? addressKey(ip, ipv6Prefix) : ip;
}
