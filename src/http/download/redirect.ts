// The 302 a download tool gets: Location, RFC 6249 Link alternatives, digests. Shared by the Hono route
// and the Node fast path so both send the same answer.
import type { Decision } from '../../core/decide.js';
import { encodePathForUrl } from '../../core/paths.js';
import { fieldPairs } from '../fieldLines.js';
import { METALINK_SUFFIX } from './intent.js';
import type { Snapshot } from '../../core/snapshot.js';

/**
 * The redirect's own header fields (Location included) as HTTP/1.1 field lines, `name: value\r\n` each, in
 * the order they are sent; `link` comes once per link, each its own field. Made as text because the Node
 * fast path sends it as it is: building [name, value] pairs and joining them cost 6 % of a 302's CPU
 * (bench:ab, 2026-12-06). `publicUrl` has no trailing slash. Every value is printable ASCII where the
 * snapshot's mirror and origin URLs, ids and countries are (config URLs are normalised hrefs).
 */
export function redirectFieldLines(snapshot: Snapshot, decision: Decision, path: string, publicUrl: string): string {
  // Encoded once per answer, not once per mirror.
  const encoded = encodePathForUrl(path);
  const ranked = decision.ranked;
  const pick = ranked[0]?.mirror.spec;
  let text = 'cache-control: no-store\r\nvary: Accept\r\nlocation: ' + (pick ? pick.baseUrl : snapshot.origin.baseUrl) + encoded + '\r\n';
  // One Link field per link (RFC 6249): aria2 reads no alternatives from one comma-joined field.
  // Workers cannot send a name twice (the Fetch API joins the values), and from a joined field aria2
  // takes the first URI if the last rel is duplicate: so the metalink link goes second, never last.
  // Absolute, on our public URL: aria2 and other RFC 6249 clients do not resolve relative links.
  const describedBy = 'link: <' + publicUrl + '/download/' + encoded + METALINK_SUFFIX + '>; rel=describedby; type="application/metalink4+xml"\r\n';
  const last = Math.min(ranked.length, snapshot.routing.maxAlternatives + 1);
  for (let i = 1; i < last; i++) {
    const spec = ranked[i]!.mirror.spec;
    text += 'link: <' + spec.baseUrl + encoded + '>; rel=duplicate; pri=' + i + '; geo=' + spec.country.toLowerCase() + '\r\n';
    if (i === 1) text += describedBy;
  }
  if (last <= 1) text += describedBy;
  const b64 = snapshot.files.sha256Base64(decision.file);
  if (b64) text += 'digest: SHA-256=' + b64 + '\r\nrepr-digest: sha-256=:' + b64 + ':\r\n';
  return text + 'x-mirrorgate-mirror: ' + (pick ? pick.id : 'origin') + '\r\n';
}

/** The same fields as a flat [name, value, name, value, …] list, for the Fetch API's Headers. */
export function redirectHeaders(snapshot: Snapshot, decision: Decision, path: string, publicUrl: string): string[] {
  return fieldPairs(redirectFieldLines(snapshot, decision, path, publicUrl));
}
