// The 302 a download tool gets: Location, RFC 6249 Link alternatives, digests. Shared by the Hono route
// and the Node fast path so both send the same answer.
import type { Decision } from '../../core/decide.js';
import { encodePathForUrl } from '../../core/paths.js';
import { METALINK_SUFFIX } from './intent.js';
import type { Snapshot } from '../../core/snapshot.js';

/**
 * The redirect's own headers as a flat [name, value, name, value, …] list (what node:http's
 * writeHead takes as is), Location included; `link` comes once per link, each its own field.
 * `publicUrl` has no trailing slash.
 */
export function redirectHeaders(snapshot: Snapshot, decision: Decision, path: string, publicUrl: string): string[] {
  // Encoded once per answer, not once per mirror.
  const encoded = encodePathForUrl(path);
  const ranked = decision.ranked;
  const pick = ranked[0]?.mirror.spec;
  const location = (pick ? pick.baseUrl : snapshot.origin.baseUrl) + encoded;
  const headers = ['cache-control', 'no-store', 'vary', 'Accept', 'location', location];
  // One Link field per link (RFC 6249): aria2 reads no alternatives from one comma-joined field.
  // Workers cannot send a name twice (the Fetch API joins the values), and from a joined field aria2
  // takes the first URI if the last rel is duplicate: so the metalink link goes second, never last.
  const describedBy = `<${publicUrl}/download/${encoded}${METALINK_SUFFIX}>; rel=describedby; type="application/metalink4+xml"`;
  const last = Math.min(ranked.length, snapshot.routing.maxAlternatives + 1);
  for (let i = 1; i < last; i++) {
    const spec = ranked[i]!.mirror.spec;
    headers.push('link', `<${spec.baseUrl}${encoded}>; rel=duplicate; pri=${i}; geo=${spec.country.toLowerCase()}`);
    // Absolute, on our public URL: aria2 and other RFC 6249 clients do not resolve relative links.
    if (i === 1) headers.push('link', describedBy);
  }
  if (last <= 1) headers.push('link', describedBy);
  const b64 = snapshot.files.sha256Base64(decision.file);
  if (b64) headers.push('digest', `SHA-256=${b64}`, 'repr-digest', `sha-256=:${b64}:`);
  headers.push('x-mirrorgate-mirror', pick ? pick.id : 'origin');
  return headers;
}
