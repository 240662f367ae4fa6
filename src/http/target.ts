// The request target as sent, in the one form the routes read: origin-form ("/path?query").

/**
 * The origin-form of a request target: an absolute-form target (a proxy-style "http://host/path?q", which
 * RFC 9112 §3.2.2 says a server must accept) or a full request URL loses its scheme and authority; an
 * origin-form target, or "*", comes back as it is. Nothing is decoded or normalised.
 */
export function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  const scheme = target.indexOf('://');
  if (scheme < 0) return target;
  const at = target.indexOf('/', scheme + 3);
  if (at >= 0) return target.slice(at);
  // "http://host?q" has an empty path: "/" with the query.
  const q = target.indexOf('?', scheme + 3);
  return q >= 0 ? `/${target.slice(q)}` : '/';
}

/**
 * The target with its first segments spelled as `prefix` ("/download/"). The router matched the prefix
 * on the decoded path, so the raw target may spell it with escapes ("/%64ownload/…"); the rest is
 * left as sent. `prefix` is whole segments, with its trailing slash.
 */
export function withRoutePrefix(target: string, prefix: string): string {
  if (target.startsWith(prefix)) return target;
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  let at = 0;
  for (let segments = prefix.split('/').length - 2; segments > 0; segments--) {
    at = path.indexOf('/', at + 1);
    // Fewer segments than the prefix ("/download" matched "/download/*"): the prefix itself.
    if (at < 0) return prefix + (q >= 0 ? target.slice(q) : '');
  }
  return prefix + target.slice(at + 1);
}

/**
 * The path as the router matches it: percent-escapes decoded as `decodeURI` does (reserved characters such
 * as %2F stay escaped), the raw path when it does not decode. Decisions taken before the app routes (the
 * edge: what to pass on, which shard to load) read this, so "/%64ownload/…" is a download there too.
 */
export function routedPath(pathname: string): string {
  if (!pathname.includes('%')) return pathname;
  try {
    return decodeURI(pathname);
  } catch {
    return pathname;
  }
}
