// From an HTTP request to the client facts the decision needs: address, scheme, and place.
import type { Context } from 'hono';
import type { ClientFacts } from '../core/model.js';
import { normalizeAddress, resolveClientAddress } from '../geo/clientAddress.js';
import type { AppServices } from './services.js';

export function clientFacts(c: Context, services: AppServices): ClientFacts {
  const conn = services.connection(c);
  const { ip, https } = resolveClientAddress(
    conn.peer,
    c.req.header('x-forwarded-for'),
    c.req.header('x-forwarded-proto'),
    conn.https,
    services.trustedProxies,
  );
  const place = services.requestPlace?.(c);
  return place ? { ip, https, ...place } : factsFor(ip, https, services);
}

/** Facts for an address given explicitly (staff's ?fromip=), or undefined when it is not an address. */
export function factsForAddress(text: string, https: boolean, services: AppServices): ClientFacts | undefined {
  const ip = normalizeAddress(text);
  return ip === undefined ? undefined : factsFor(ip, https, services);
}

function factsFor(ip: string, https: boolean, services: AppServices): ClientFacts {
  return { ip, https, ...services.locator.lookup(ip) };
}
