// ?mirrorlist as HTML: the ranked candidates for one file and one client, and why others were left out.
import { html } from 'hono/html';
import { fileName, formatBytes, type RankedMirror } from '../../core/present.js';
import type { OriginFile } from '../../core/model.js';
import { page } from './layout.js';

export interface MirrorListModel {
  file: OriginFile;
  client: Record<string, string | number | boolean>;
  mirrors: RankedMirror[];
  excluded: { id: string; name: string; reason: string }[];
  originUrl: string;
}

export function mirrorListPage(m: MirrorListModel) {
  const name = fileName(m.file.path);
  return page({
    title: `Mirrors for ${name}`,
    body: html`<h1>Mirrors for ${name}</h1>
<p>${formatBytes(m.file.size)}${m.file.sha256 ? html` · SHA-256 <code class="hash">${m.file.sha256}</code>` : ''}</p>
<p>Ranked for ${m.client.ip}${m.client.country ? html` (${m.client.country})` : ''}.</p>
${
  m.mirrors.length
    ? html`<table>
<caption>Mirrors that carry the current file, best first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Mirror</th><th scope="col">Country</th><th scope="col">Distance</th><th scope="col">Score</th></tr></thead>
<tbody>
${m.mirrors.map(
  (r) => html`<tr><td>${r.priority}</td><td><a href="${r.url}">${r.name}</a></td><td>${r.country}</td><td>${r.distanceKm !== null ? html`${r.distanceKm.toLocaleString('en')} km` : '–'}</td><td>${r.score}</td></tr>`,
)}
</tbody></table>`
    : html`<p>No mirror carries the current file yet: it is served from <a href="${m.originUrl}">the origin</a>.</p>`
}
${
  m.excluded.length
    ? html`<h2>Not used for this request</h2><ul>${m.excluded.map((e) => html`<li>${e.name}: ${e.reason}</li>`)}</ul>`
    : ''
}`,
  });
}
