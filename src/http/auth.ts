// Bearer tokens: who is asking, compared in constant time so a token cannot be guessed byte by byte.
import type { Context, MiddlewareHandler } from 'hono';
import type { Principal } from '../control/tokens.js';
import { timingSafeEqualString } from '../core/compare.js';
import type { AccessToken, AppServices } from './services.js';

export { timingSafeEqualString };

/** The token an Authorization header presents, or undefined without one. */
export function presentedToken(c: Context): string | undefined {
  const header = c.req.header('authorization');
  if (!header || !/^bearer\s+/i.test(header)) return undefined;
  return header.replace(/^bearer\s+/i, '').trim();
}

/**
 * A 401 says how to authenticate (RFC 6750 §3, RFC 9110 §11.6.1): `Bearer realm="mirrorgate"`, with
 * `error="invalid_token"` when a token was sent and is not one of ours. Added to every 401 behind it,
 * whichever route refused (the admin API, the snapshot and edge-count routes).
 */
export function bearerChallenge(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status !== 401 || c.res.headers.has('WWW-Authenticate')) return;
    const presented = presentedToken(c);
    c.res.headers.set('WWW-Authenticate', presented ? 'Bearer realm="mirrorgate", error="invalid_token"' : 'Bearer realm="mirrorgate"');
  };
}

/**
 * Who the Authorization header names: a config token, or one issued at runtime (which the control
 * plane knows; without one, config tokens only).
 */
export function principalOf(c: Context, services: AppServices): Principal | undefined {
  const presented = presentedToken(c);
  return presented === undefined ? undefined : principalFor(presented, services);
}

/** Who a presented token names, wherever it came from (an Authorization header, an edge's header). Every token is compared. */
export function principalFor(presented: string, services: AppServices): Principal | undefined {
  if (services.admin) return services.admin.authenticate(presented);
  let found: AccessToken | undefined;
  for (const t of services.tokens) if (timingSafeEqualString(presented, t.token)) found = t;
  return found ? { name: found.name, role: found.role, mirrors: [...found.mirrors], ref: `config:${found.name}` } : undefined;
}
