// Bearer tokens: who is asking, compared in constant time so a token cannot be guessed byte by byte.
import type { Context } from 'hono';
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
 * Who the Authorization header names: a config token, or one issued at runtime (which the control
 * plane knows; without one, config tokens only).
 */
export function principalOf(c: Context, services: AppServices): Principal | undefined {
  const presented = presentedToken(c);
  if (presented === undefined) return undefined;
  if (services.admin) return services.admin.authenticate(presented);
  const t = bearer(c, services.tokens);
  return t ? { name: t.name, role: t.role, mirrors: [...t.mirrors], ref: `config:${t.name}` } : undefined;
}

/** The token presented with the request, if it is one of ours. Every token is compared. */
export function bearer(c: Context, tokens: readonly AccessToken[]): AccessToken | undefined {
  const header = c.req.header('authorization');
  if (!header || !/^bearer\s+/i.test(header)) return undefined;
  const presented = header.replace(/^bearer\s+/i, '').trim();
  let found: AccessToken | undefined;
  for (const t of tokens) if (timingSafeEqualString(presented, t.token)) found = t;
  return found;
}
