// /mirrors as HTML: every mirror's status, sponsor, sync and share of the file set.
import { html } from 'hono/html';
import type { MirrorSummary } from '../../core/mirrorStatus.js';
import { page } from './layout.js';

export function mirrorsPage(mirrors: MirrorSummary[], fileCount: number) {
  return page({
    title: 'Mirrors',
    body: html`<h1>Mirrors</h1>
<p>${mirrors.length} mirrors serve ${fileCount.toLocaleString('en')} files. JSON: <code>Accept: application/json</code> or <a href="/api/v1/mirrors">/api/v1/mirrors</a>.</p>
<table>
<caption>Mirror status</caption>
<thead><tr><th scope="col">Mirror</th><th scope="col">Sponsor</th><th scope="col">Country</th><th scope="col">Status</th><th scope="col">Last sync</th><th scope="col">Share</th></tr></thead>
<tbody>
${mirrors.map(
  (m) => html`<tr id="mirror-${m.id}"><td>${m.name}<br><span class="meta">${m.url}</span></td><td>${
    m.sponsor
      ? html`${m.sponsor.logo ? html`<img src="${m.sponsor.logo}" alt="${m.sponsor.name} logo" width="120" height="40"><br>` : ''}${m.sponsor.url ? html`<a href="${m.sponsor.url}" rel="noopener sponsored">${m.sponsor.name}</a>` : m.sponsor.name}`
      : '–'
  }</td><td>${m.country}</td><td>${m.status}${m.reason ? html`<br><span class="meta">${m.reason}</span>` : ''}</td><td>${m.lastSync ?? '–'}${m.lagSeconds !== null ? html`<br><span class="meta">lag ${Math.round(m.lagSeconds / 60)} min</span>` : ''}</td><td>${(m.share * 100).toFixed(1)}%</td></tr>`,
)}
</tbody></table>`,
  });
}

export function homePage(examples: string[]) {
  return page({
    title: 'Downloads',
    body: html`<h1>Mirrorgate</h1>
<p>Every download goes to a nearby mirror that really has the current file.</p>
<h2>Try a download</h2>
<ul>${examples.map((p) => html`<li><a href="/download/${p.split('/').map(encodeURIComponent).join('/')}">${p}</a></li>`)}</ul>
<p>See <a href="/mirrors">the mirrors</a>.</p>`,
  });
}
