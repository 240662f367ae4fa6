// A repository folder's mirror list as HTML: the base URLs apt's mirror+http would use, and why others are left out.
import { html } from 'hono/html';
import type { RankedMirror } from '../../core/present.js';
import type { DataCredit } from '../../geo/locator.js';
import { page } from './layout.js';

export interface RepositoryListModel {
  /** The folder as shown ("/" for the whole file set). */
  folder: string;
  client: Record<string, string | number | boolean>;
  mirrors: RankedMirror[];
  excluded: { id: string; name: string; reason: string }[];
  originUrl: string;
  /** The list URL apt's mirror+http reads. */
  listUrl: string;
  /** Attribution for the geography data the ranking used (layout.ts). */
  credits?: readonly DataCredit[];
}

export function repositoryListPage(m: RepositoryListModel) {
  return page({
    credits: m.credits,
    title: `Mirrors for ${m.folder}`,
    body: html`<h1 class="path">Mirrors for the repository ${m.folder}</h1>
<p>Each mirror below holds every index of this folder (each suite's Release and what it lists, each <code>repodata/</code>) in the current version, so a package manager can take all of them from one mirror.</p>
<p class="wrap">For apt: <code>deb mirror+${m.listUrl} <i>suite</i> <i>components</i></code></p>
<p>Ranked for ${m.client.ip}${m.client.country ? html` (${m.client.country})` : ''}.</p>
${
  m.mirrors.length
    ? html`<div class="table-wrap"><table class="listing">
<caption>Mirrors holding the whole repository, best first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Mirror</th><th scope="col">Country</th><th scope="col">Distance</th></tr></thead>
<tbody>
${m.mirrors.map(
  (r) =>
    html`<tr><td>${r.priority}</td><td><a href="${r.url}">${r.name}</a></td><td>${r.country}</td><td>${r.distanceKm !== null ? html`${r.distanceKm.toLocaleString('en')} km` : '–'}</td></tr>`,
)}
</tbody></table></div>`
    : html`<p>No mirror holds the whole repository in its current version right now.</p>`
}
<p class="wrap">The origin always does: <a href="${m.originUrl}">${m.originUrl}</a></p>
${m.excluded.length ? html`<h2>Not used for this request</h2><ul>${m.excluded.map((e) => html`<li>${e.name}: ${e.reason}</li>`)}</ul>` : ''}`,
  });
}
