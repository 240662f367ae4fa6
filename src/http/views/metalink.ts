// Metalink v4 (RFC 5854): size, sha-256, piece hashes and one <url> per candidate, for aria2c and friends.
import { html, raw } from 'hono/html';
import { fileName, type RankedMirror } from '../../core/present.js';
import type { FilePieces, OriginFile } from '../../core/model.js';

export interface MetalinkModel {
  file: OriginFile;
  mirrors: RankedMirror[];
  /** Used when no mirror carries the file. */
  originUrl: string;
  /** Where this metalink is served: RFC 5854's dynamic origin, so a client can fetch a fresh list. */
  selfUrl: string;
  publishedAt: Date;
}

export function metalink(m: MetalinkModel) {
  const urls = m.mirrors.length
    ? m.mirrors.map((r) => html`    <url location="${r.country.toLowerCase()}" priority="${r.priority}">${r.url}</url>\n`)
    : [html`    <url priority="1">${m.originUrl}</url>\n`];
  return html`<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <generator>Mirrorgate</generator>
  <origin dynamic="true">${m.selfUrl}</origin>
  <published>${m.publishedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}</published>
  <file name="${fileName(m.file.path)}">
    <size>${m.file.size}</size>
${m.file.sha256 ? html`    <hash type="sha-256">${m.file.sha256}</hash>\n` : ''}${m.file.pieces ? pieces(m.file.pieces) : ''}${urls}  </file>
</metalink>
`;
}

/** RFC 5854 §4.2.10: the piece hashes in order, so a client re-fetches only a piece that fails. */
function pieces(p: FilePieces) {
  // One string for thousands of hashes instead of a template per hash; only hex digits of our own index go in raw.
  if (!/^(?:[0-9a-f]{64})+$/.test(p.sha256) || !Number.isSafeInteger(p.length)) return '';
  const hashes = p.sha256.replace(/[0-9a-f]{64}/g, '      <hash>$&</hash>\n');
  return html`    <pieces length="${p.length}" type="sha-256">\n${raw(hashes)}    </pieces>\n`;
}
