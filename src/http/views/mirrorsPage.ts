// /mirrors as HTML (every mirror's status, sponsor, sync, share and latency, sortable with or without JavaScript) and the landing page.
import { html } from 'hono/html';
import type { MirrorSummary } from '../../core/mirrorStatus.js';
import type { SummaryStatus as MirrorStatus } from '../../core/mirrorStatus.js';
import { formatSeconds } from '../../core/format.js';
import { continentName, countryName, safeHttpUrl, timeAgo } from './format.js';
import { page } from './layout.js';

export const SORT_KEYS = ['name', 'country', 'status', 'sync', 'share', 'latency'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';
export interface MirrorSort {
  key: SortKey;
  dir: SortDir;
}

/** The natural direction of each column: best first. */
const DEFAULT_DIR: Record<SortKey, SortDir> = { name: 'asc', country: 'asc', status: 'asc', sync: 'asc', share: 'desc', latency: 'asc' };
const NUMERIC = new Set<SortKey>(['status', 'sync', 'share', 'latency']);
const SORT_LABELS: Record<SortKey, string> = {
  name: 'mirror name',
  country: 'country',
  status: 'status',
  sync: 'sync lag',
  share: 'share of files',
  latency: 'latency',
};

/** Usable first: what a downloader gets now, then what will come back. */
const STATUS_RANK: Record<MirrorStatus, number> = { up: 0, syncing: 1, pending: 2, draining: 3, unknown: 4, down: 5, disabled: 6 };
const STATUS_LABEL: Record<MirrorStatus, string> = {
  up: 'Up',
  syncing: 'Syncing',
  pending: 'New, not checked yet',
  draining: 'Draining',
  unknown: 'Not confirmed yet',
  down: 'Down',
  disabled: 'Disabled',
};

/** Reads ?sort= and ?dir=; anything else is no sort (the network's own order). */
export function parseMirrorSort(sort: string | undefined, dir: string | undefined): MirrorSort | null {
  const key = SORT_KEYS.find((k) => k === sort);
  if (!key) return null;
  return { key, dir: dir === 'asc' || dir === 'desc' ? dir : DEFAULT_DIR[key] };
}

/** The value a column sorts by; the same strings go into data- attributes for /assets/mirrors.js. */
function sortValue(m: MirrorSummary, key: SortKey): string {
  switch (key) {
    case 'name':
      return m.name;
    case 'country':
      return countryName(m.country);
    case 'status':
      return String(STATUS_RANK[m.status] ?? 9);
    case 'sync':
      return m.lagSeconds === null ? '' : String(m.lagSeconds);
    case 'share':
      return String(m.share);
    case 'latency':
      return m.latencyMs === null ? '' : String(m.latencyMs);
  }
}

/** Missing values last in either direction, ties by name; mirrors.js implements the same rule. */
export function sortMirrors(mirrors: readonly MirrorSummary[], sort: MirrorSort): MirrorSummary[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return [...mirrors].sort((a, b) => {
    const va = sortValue(a, sort.key);
    const vb = sortValue(b, sort.key);
    if (va === '' || vb === '') {
      if (va !== vb) return va === '' ? 1 : -1;
    } else {
      const d = NUMERIC.has(sort.key) ? Number(va) - Number(vb) : va.localeCompare(vb, 'en');
      if (d !== 0) return sign * d;
    }
    return a.name.localeCompare(b.name, 'en');
  });
}

/** The header link for a column: the opposite direction when it is the current sort, else its natural one. */
function sortHref(key: SortKey, current: MirrorSort | null): string {
  const dir = current?.key === key ? (current.dir === 'asc' ? 'desc' : 'asc') : DEFAULT_DIR[key];
  return dir === DEFAULT_DIR[key] ? `/mirrors?sort=${key}` : `/mirrors?sort=${key}&dir=${dir}`;
}

function sortDescription(sort: MirrorSort | null): string {
  return sort ? `Sorted by ${SORT_LABELS[sort.key]}, ${sort.dir === 'asc' ? 'ascending' : 'descending'}.` : 'In the order of the network’s configuration.';
}

export interface MirrorsPageModel {
  mirrors: MirrorSummary[];
  fileCount: number;
  nowMs: number;
  sort: MirrorSort | null;
}

export function mirrorsPage(m: MirrorsPageModel) {
  const rows = m.sort ? sortMirrors(m.mirrors, m.sort) : m.mirrors;
  const byStatus = new Map<MirrorStatus, number>();
  for (const x of m.mirrors) byStatus.set(x.status, (byStatus.get(x.status) ?? 0) + 1);
  const statuses = [...byStatus].sort((a, b) => STATUS_RANK[a[0]] - STATUS_RANK[b[0]]);
  const header = (key: SortKey, label: string) => {
    const current = m.sort?.key === key ? m.sort.dir : null;
    return html`<th scope="col" data-sort-key="${key}"${current ? html` aria-sort="${current === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${sortHref(key, m.sort)}" data-sort="${key}">${label}<span class="sort-mark" aria-hidden="true"></span></a></th>`;
  };
  return page({
    title: 'Mirror status',
    scripts: ['/assets/mirrors.js'],
    body: html`<h1>Mirror status</h1>
<p>${m.mirrors.length} mirrors carry the ${m.fileCount.toLocaleString('en')} files of this network, each all or part of them. As JSON: <a href="/api/v1/mirrors">/api/v1/mirrors</a>, or this page with <code>Accept: application/json</code>.</p>
<ul class="status-summary" aria-label="Mirrors by status">${statuses.map(([status, n]) => html`<li><span class="badge badge-${status}">${STATUS_LABEL[status]}: ${n}</span></li>`)}</ul>
<form class="sort-form" method="get" action="/mirrors">
  <label for="sort-key">Sort by</label>
  <select id="sort-key" name="sort">
    <option value=""${m.sort ? '' : html` selected`}>network order</option>
    ${SORT_KEYS.map((k) => html`<option value="${k}"${m.sort?.key === k ? html` selected` : ''}>${SORT_LABELS[k]}</option>`)}
  </select>
  <label for="sort-dir" class="visually-hidden">Direction</label>
  <select id="sort-dir" name="dir">
    <option value="asc"${m.sort?.dir === 'asc' ? html` selected` : ''}>ascending</option>
    <option value="desc"${m.sort?.dir === 'desc' ? html` selected` : ''}>descending</option>
  </select>
  <button type="submit">Sort</button>
</form>
<p id="sort-status" class="meta" role="status">${sortDescription(m.sort)}</p>
<table class="mirrors" data-sortable>
<caption>Every mirror in the network. Select a column heading to sort.</caption>
<thead><tr>${header('name', 'Mirror')}<th scope="col">Sponsor</th>${header('country', 'Country')}${header('status', 'Status')}${header('sync', 'Last sync')}${header('share', 'Share')}${header('latency', 'Latency')}</tr></thead>
<tbody>
${rows.map((r) => mirrorRow(r, m.nowMs))}
</tbody></table>`,
  });
}

function mirrorRow(m: MirrorSummary, nowMs: number) {
  const sponsorUrl = safeHttpUrl(m.sponsor?.url);
  const mirrorUrl = safeHttpUrl(m.url);
  const data = SORT_KEYS.map((k) => html` data-${k}="${sortValue(m, k)}"`);
  const lastSyncMs = m.lastSync ? Date.parse(m.lastSync) : NaN;
  return html`<tr id="mirror-${m.id}"${data}>
<th scope="row" data-label="Mirror"><span class="mirror-name">${m.name}</span><br><span class="meta url">${mirrorUrl ? html`<a href="${mirrorUrl}">${m.url}</a>` : m.url}</span></th>
<td data-label="Sponsor">${
    m.sponsor
      ? html`${m.sponsor.logo ? html`<img class="thumb" src="${m.sponsor.logo}" alt="${m.sponsor.name} logo" width="120" height="40" loading="lazy">` : ''}${
          sponsorUrl ? html`<a href="${sponsorUrl}" rel="sponsored noopener">${m.sponsor.name}</a>` : m.sponsor.name
        }`
      : html`<span class="meta">–</span>`
  }</td>
<td data-label="Country">${countryName(m.country)} <span class="meta">(${m.country})</span>${continentName(m.continent) ? html`<br><span class="meta">${continentName(m.continent)}</span>` : ''}</td>
<td data-label="Status"><span class="badge badge-${m.status}">${STATUS_LABEL[m.status] ?? m.status}</span>${m.reason ? html`<br><span class="meta">${m.reason}</span>` : ''}</td>
<td data-label="Last sync">${
    Number.isFinite(lastSyncMs)
      ? html`<time datetime="${m.lastSync}" title="${m.lastSync}">${timeAgo(lastSyncMs, nowMs)}</time>`
      : html`<span class="meta">not known</span>`
  }<br><span class="meta">${m.lagSeconds !== null && Number.isFinite(m.lagSeconds) ? `lag ${formatSeconds(m.lagSeconds)}` : 'lag unknown'}</span></td>
<td data-label="Share">${(m.share * 100).toFixed(1)}%<meter min="0" max="1" value="${m.share}" aria-hidden="true"></meter><span class="meta">${m.files.toLocaleString('en')} files</span></td>
<td data-label="Latency">${m.latencyMs !== null ? `${Math.round(m.latencyMs)} ms` : html`<span aria-hidden="true">–</span><span class="visually-hidden">not measured</span>`}</td>
</tr>
`;
}

export function homePage(examples: readonly string[]) {
  return page({
    title: 'Downloads',
    body: html`<h1>Mirrorgate</h1>
<p class="lead">Every download goes to a nearby mirror that really has the current file.</p>
<section aria-labelledby="try-heading">
<h2 id="try-heading">Try a download</h2>
<ul class="examples">${examples.map((p) => html`<li><a href="/download/${p.split('/').map(encodeURIComponent).join('/')}">${p}</a></li>`)}</ul>
</section>
<p>See <a href="/mirrors">every mirror and its status</a>.</p>`,
  });
}
