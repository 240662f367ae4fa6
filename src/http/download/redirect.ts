// The 302 a download tool gets: Location, RFC 6249 Link alternatives, digests. Shared by the Hono route
// and the Node fast path so both send the same answer.
import type { Decision } from '../../core/decide.js';
import type { MirrorSpec } from '../../core/model.js';
import { encodePathForUrl } from '../../core/paths.js';
import { METALINK_SUFFIX } from './intent.js';
import type { Snapshot } from '../../core/snapshot.js';

/** What a mirror contributes to every redirect, built once per mirror spec (a spec lives as long as its config). */
interface MirrorPieces {
  /** Location before the encoded path. */
  readonly base: string;
  /** `<` + base, the start of its Link alternative. */
  readonly linkStart: string;
  /** `>; rel=duplicate; pri=N; geo=cc` for each rank N the mirror can take. */
  readonly linkEnds: string[];
  readonly id: string;
}

const pieces = new WeakMap<MirrorSpec, MirrorPieces>();

/**
 * A copy of a header text kept in V8's one-byte form. Config text with one character beyond Latin-1
 * (a mirror's name in Greek, an em dash in a comment) makes every string sliced from it two-byte, and
 * node:http then converts and scans each header built from them on every response: twice the CPU of
 * the whole 302. Header texts are Latin-1 by definition (node:http rejects anything else).
 */
export function oneByte(text: string): string {
  const codes = new Array<number>(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return String.fromCharCode(...codes);
}

const originBases = new WeakMap<object, string>();
let publicUrlSeen = '';
let publicUrlFlat = '';

function piecesOf(spec: MirrorSpec): MirrorPieces {
  let p = pieces.get(spec);
  if (!p) {
    const base = oneByte(spec.baseUrl);
    p = { base, linkStart: oneByte(`<${base}`), linkEnds: [], id: oneByte(spec.id) };
    pieces.set(spec, p);
  }
  return p;
}

function linkEnd(spec: MirrorSpec, p: MirrorPieces, rank: number): string {
  return (p.linkEnds[rank] ??= oneByte(`>; rel=duplicate; pri=${rank}; geo=${spec.country.toLowerCase()}`));
}

/**
 * The redirect's own headers as a flat [name, value, name, value, …] list (what node:http's
 * writeHead takes as is), Location included; `link` comes once per link, each its own field.
 * `publicUrl` has no trailing slash.
 */
export function redirectHeaders(snapshot: Snapshot, decision: Decision, path: string, publicUrl: string): string[] {
  // Encoded once per answer, not once per mirror.
  const encoded = encodePathForUrl(path);
  const ranked = decision.ranked;
  const pick = ranked[0] ? piecesOf(ranked[0].mirror.spec) : undefined;
  let originBase = originBases.get(snapshot.origin);
  if (originBase === undefined) originBases.set(snapshot.origin, (originBase = oneByte(snapshot.origin.baseUrl)));
  if (publicUrl !== publicUrlSeen) publicUrlFlat = oneByte((publicUrlSeen = publicUrl));
  const location = (pick ? pick.base : originBase) + encoded;
  const headers = ['cache-control', 'no-store', 'vary', 'Accept', 'location', location];
  // One Link field per link (RFC 6249): aria2 reads no alternatives from one comma-joined field.
  // Workers cannot send a name twice (the Fetch API joins the values), and from a joined field aria2
  // takes the first URI if the last rel is duplicate: so the metalink link goes second, never last.
  const describedBy = `<${publicUrlFlat}/download/${encoded}${METALINK_SUFFIX}>; rel=describedby; type="application/metalink4+xml"`;
  const last = Math.min(ranked.length, snapshot.routing.maxAlternatives + 1);
  for (let i = 1; i < last; i++) {
    const spec = ranked[i]!.mirror.spec;
    const p = piecesOf(spec);
    headers.push('link', p.linkStart + encoded + linkEnd(spec, p, i));
    // Absolute, on our public URL: aria2 and other RFC 6249 clients do not resolve relative links.
    if (i === 1) headers.push('link', describedBy);
  }
  if (last <= 1) headers.push('link', describedBy);
  const b64 = snapshot.files.sha256Base64(decision.file);
  if (b64) headers.push('digest', `SHA-256=${b64}`, 'repr-digest', `sha-256=:${b64}:`);
  headers.push('x-mirrorgate-mirror', pick ? pick.id : 'origin');
  return headers;
}
