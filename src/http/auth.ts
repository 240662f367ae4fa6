// Bearer tokens: who is asking, compared in constant time so a token cannot be guessed byte by byte.
import type { Context } from 'hono';
import type { AccessToken } from './services.js';

export function timingSafeEqualString(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
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
