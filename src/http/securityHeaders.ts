// The security headers every response carries, as one constant list: the Hono middleware and the
// Node redirect fast path (src/node/fastPath.ts) send exactly the same set.
import type { Context, MiddlewareHandler } from 'hono';

/**
 * What hono/secure-headers would send with our options (a locked-down CSP, strict referrer,
 * same-origin resources), written out once so both answer paths share it and the hot path
 * does not rebuild it per request.
 */
/**
 * Downloads may be embedded by other sites (a project page showing an image or a video through
 * /download/…): a same-origin CORP on the redirect or the interstitial would block that, so every
 * redirect and the download page say cross-origin. Everything else stays same-origin.
 */
export const DOWNLOAD_CORP: readonly [name: string, value: string] = ['cross-origin-resource-policy', 'cross-origin'];

export const SECURITY_HEADERS: readonly (readonly [name: string, value: string])[] = [
  [
    'content-security-policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  ],
  ['cross-origin-opener-policy', 'same-origin'],
  ['cross-origin-resource-policy', 'same-origin'],
  ['origin-agent-cluster', '?1'],
  ['referrer-policy', 'strict-origin-when-cross-origin'],
  ['strict-transport-security', 'max-age=15552000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-dns-prefetch-control', 'off'],
  ['x-download-options', 'noopen'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-permitted-cross-domain-policies', 'none'],
  ['x-xss-protection', '0'],
];

/**
 * The subset that still means something on a redirect. A 3xx with a Location is never rendered:
 * the browser follows it, so CSP, frame, opener, DNS-prefetch, download and XSS-filter headers,
 * which govern a rendered document, do nothing there (the target's own headers govern it).
 * What does act on a redirect is kept: Referrer-Policy (Fetch applies a redirect's policy to the
 * next request), HSTS (any HTTPS response sets it), CORP (checked on every response of a
 * no-cors fetch, redirects included), and nosniff for uniformity. Every download redirect
 * is ~560 bytes lighter, which is most of what a 302 costs to send on loopback-class links.
 */
export const REDIRECT_SECURITY_HEADERS: readonly (readonly [name: string, value: string])[] = SECURITY_HEADERS.filter(([name]) =>
  ['referrer-policy', 'strict-transport-security', 'x-content-type-options'].includes(name),
).concat([DOWNLOAD_CORP]);

/**
 * Sets the security headers on every response after its handler ran: the full set, or the
 * redirect subset on a 3xx with a Location; HSTS only to a client that came over HTTPS (directly,
 * or by a trusted proxy's X-Forwarded-Proto), as RFC 6797 §7.2 asks. A handler's own Content-Security-Policy (the logo
 * route's sandbox) is kept: it is the stricter one there, and so are a handler's own
 * Cross-Origin-Resource-Policy (the download page's cross-origin) and Referrer-Policy (the offer
 * status page's no-referrer: its address holds the offer's key).
 */
export function securityHeaders(cameOverHttps: (c: Context) => boolean): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    const redirect = c.res.status >= 300 && c.res.status < 400 && headers.has('location');
    const https = cameOverHttps(c);
    for (const [name, value] of redirect ? REDIRECT_SECURITY_HEADERS : SECURITY_HEADERS) {
      if (HANDLER_MAY_SET.has(name) && headers.has(name)) continue;
      if (name === HSTS && !https) continue;
      headers.set(name, value);
    }
  };
}

/** Headers a handler may set stricter (or, for CORP, wider on purpose) than the list: kept when it did. */
const HANDLER_MAY_SET = new Set(['content-security-policy', 'cross-origin-resource-policy', 'referrer-policy']);

/** The header RFC 6797 §7.2 forbids on a plain-HTTP answer (the client reached us over http). */
export const HSTS = 'strict-transport-security';

/** A header list without HSTS, for answers to clients on plain HTTP. */
export function withoutHsts(list: readonly (readonly [name: string, value: string])[]): (readonly [name: string, value: string])[] {
  return list.filter(([name]) => name !== HSTS);
}
