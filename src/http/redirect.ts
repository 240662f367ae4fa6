// The 302 a download tool gets: Location, RFC 6249 Link alternatives, digests. Shared by the Hono route
// and the Node fast path so both send the same answer.
import type { Decision } from '../core/decide.js';
import { encodePathForUrl } from '../core/paths.js';
import type { Snapshot } from '../core/snapshot.js';

export const METALINK_SUFFIX = '.meta4';

/**
 * The redirect's own headers as a flat [name, value, name, value, …] list (what node:http's
 * writeHead takes as is), Location included. `publicUrl` has no trailing slash.
 */
export function redirectHeaders(snapshot: Snapshot, decision: Decision, path: string, publicUrl: string): string[] {
  // Encoded once per answer, not once per mirror.
  const encoded = encodePathForUrl(path);
  const ranked = decision.ranked;
  const pick = ranked[0]?.mirror.spec;
  const location = (pick ? pick.baseUrl : snapshot.origin.baseUrl) + encoded;
  let link = '';
  const last = Math.min(ranked.length, snapshot.routing.maxAlternatives + 1);
  for (let i = 1; i < last; i++) {
    const spec = ranked[i]!.mirror.spec;
    link += `<${spec.baseUrl}${encoded}>; rel=duplicate; pri=${i}; geo=${spec.country.toLowerCase()}, `;
  }
  // Absolute, on our public URL: aria2 and other RFC 6249 clients do not resolve relative links.
  link += `<${publicUrl}/download/${encoded}${METALINK_SUFFIX}>; rel=describedby; type="application/metalink4+xml"`;
  const headers = ['cache-control', 'no-store', 'vary', 'Accept', 'location', location, 'link', link];
  const b64 = snapshot.files.sha256Base64(decision.file);
  if (b64) headers.push('digest', `SHA-256=${b64}`, 'repr-digest', `sha-256=:${b64}:`);
  headers.push('x-mirrorgate-mirror', pick ? pick.id : 'origin');
  return headers;
}
