// /provider: a provider's mirrors — status, sync, share, downloads by day and by country (server-drawn SVG with table fallbacks), logo impressions, and the logo as downloaders see it.
import { html, raw } from 'hono/html';
import type { MirrorStatus } from '../../core/snapshot.js';
import { barChart, columnChart, type ChartDatum } from './chart.js';
import { countryName, displayHost, formatDuration, safeHttpUrl, timeAgo } from './format.js';
import { page } from './layout.js';
import { consoleBar, type Viewer } from './loginPage.js';
import { STATUS_LABEL } from './staffPage.js';

export interface ProviderDay {
  /** YYYY-MM-DD */
  day: string;
  downloads: number;
  impressions: number;
}

export interface ProviderMirror {
  id: string;
  name: string;
  url: string;
  country: string;
  status: MirrorStatus;
  reason: string | null;
  draining: boolean;
  lastSync: string | null;
  lagSeconds: number | null;
  share: number;
  files: number;
  sponsor: { name: string; url: string | null } | null;
  /** Where its logo is served, when it is (loaded and sanitised). */
  logoUrl: string | null;
  /** Every day of the period, oldest first, zeros included. */
  days: ProviderDay[];
  /** Largest first, at most ten. */
  countries: { country: string; downloads: number }[];
  totals: { downloads: number; bytes: number; impressions: number };
}

export interface ProviderPageModel {
  viewer: Viewer;
  mirrors: ProviderMirror[];
  /** Staff without ?mirror=: every mirror to choose from. */
  choose: { id: string; name: string }[] | null;
  /** Statistics could not be read (store unavailable). */
  statsError: string | null;
  from: string;
  to: string;
  nowMs: number;
}

const dayLabel = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString('en', { day: 'numeric', month: 'short', timeZone: 'UTC' });
const countryLabel = (code: string) => (code === '--' || code === '' ? 'Unknown' : countryName(code));

export function providerPage(m: ProviderPageModel) {
  const one = m.mirrors.length === 1 ? m.mirrors[0] : undefined;
  return page({
    title: one ? `${one.name} · Provider` : 'Provider',
    body: html`${consoleBar(m.viewer, 'provider')}
<h1>${one ? one.name : m.choose ? 'Provider view' : 'Your mirrors'}</h1>
${
  m.choose
    ? html`<section aria-labelledby="choose-heading"><h2 id="choose-heading">Choose a mirror</h2><p>Staff see any mirror's provider page.</p>
<ul class="choose">${m.choose.map((x) => html`<li><a href="/provider?mirror=${encodeURIComponent(x.id)}">${x.name}</a> <span class="meta">${x.id}</span></li>`)}</ul></section>`
    : ''
}
${!m.choose && m.mirrors.length === 0 ? html`<p>No mirror is assigned to this token. Ask the network's staff.</p>` : ''}
${m.statsError ? html`<p class="flash flash-error" role="alert">${m.statsError}</p>` : ''}
${m.mirrors.map((x) => mirrorSection(x, m, m.mirrors.length > 1))}`,
  });
}

function mirrorSection(x: ProviderMirror, m: ProviderPageModel, headed: boolean) {
  const hid = `p-${x.id}`;
  const lastSyncMs = x.lastSync ? Date.parse(x.lastSync) : NaN;
  const daily: ChartDatum[] = x.days.map((d) => ({
    label: dayLabel(d.day),
    value: d.downloads,
    title: `${dayLabel(d.day)}: ${d.downloads.toLocaleString('en')} downloads`,
  }));
  const countries: ChartDatum[] = x.countries.map((c) => ({ label: countryLabel(c.country), value: c.downloads }));
  const period = `${dayLabel(m.from)} to ${dayLabel(m.to)}`;
  return html`<article class="provider-mirror" id="provider-${x.id}" data-mirror="${x.id}" aria-labelledby="${hid}-heading">
${headed ? html`<h2 id="${hid}-heading" class="mirror-heading">${x.name}</h2>` : html`<h2 id="${hid}-heading" class="visually-hidden">${x.name}</h2>`}
<section aria-labelledby="${hid}-status">
<h3 id="${hid}-status">Status</h3>
<dl class="glance">
  <div><dt>Status</dt><dd><span class="badge badge-${x.status}">${STATUS_LABEL[x.status] ?? x.status}</span>${x.reason ? html` <span class="meta">${x.reason}</span>` : ''}</dd></div>
  <div><dt>Last sync</dt><dd>${Number.isFinite(lastSyncMs) ? html`<time datetime="${x.lastSync}">${timeAgo(lastSyncMs, m.nowMs)}</time>` : html`<span class="meta">not known</span>`}</dd></div>
  <div><dt>Lag</dt><dd>${x.lagSeconds !== null ? formatDuration(x.lagSeconds) : html`<span class="meta">not known</span>`}</dd></div>
  <div><dt>Share of files</dt><dd>${(x.share * 100).toFixed(1)}% <span class="meta">${x.files.toLocaleString('en')} files</span></dd></div>
  <div><dt>Downloads, 30 days</dt><dd>${x.totals.downloads.toLocaleString('en')}</dd></div>
  <div><dt>Logo impressions, 30 days</dt><dd>${x.totals.impressions.toLocaleString('en')}</dd></div>
</dl>
<p class="meta">${x.id} · ${x.url} · ${countryName(x.country)}${x.draining ? ' · drained by staff: no new downloads' : ''}</p>
</section>
<section aria-labelledby="${hid}-days">
<h3 id="${hid}-days">Downloads by day</h3>
<p class="meta">${period}, in UTC days. A client fetching the same file again within ten minutes counts once.</p>
<figure class="chart-figure">${raw(columnChart(daily, { id: `${hid}-days-chart`, title: `Downloads from ${x.name} by day, ${period}`, unit: 'downloads', emptyText: 'No downloads in the last 30 days' }))}</figure>
<details class="chart-data"><summary>Downloads and logo impressions by day, as a table</summary>
<table><caption class="visually-hidden">Downloads and logo impressions by day</caption>
<thead><tr><th scope="col">Day</th><th scope="col" class="num">Downloads</th><th scope="col" class="num">Logo impressions</th></tr></thead>
<tbody>${[...x.days].reverse().map((d) => html`<tr><th scope="row"><time datetime="${d.day}">${d.day}</time></th><td class="num">${d.downloads.toLocaleString('en')}</td><td class="num">${d.impressions.toLocaleString('en')}</td></tr>`)}</tbody>
</table></details>
</section>
<section aria-labelledby="${hid}-countries">
<h3 id="${hid}-countries">Downloads by country</h3>
<p class="meta">The ten countries with the most downloads, ${period}.</p>
<figure class="chart-figure">${raw(barChart(countries, { id: `${hid}-countries-chart`, title: `Downloads from ${x.name} by country, top ten`, unit: 'downloads', emptyText: 'No downloads in the last 30 days' }))}</figure>
<details class="chart-data"><summary>Downloads by country, as a table</summary>
<table><caption class="visually-hidden">Downloads by country</caption>
<thead><tr><th scope="col">Country</th><th scope="col" class="num">Downloads</th></tr></thead>
<tbody>${x.countries.length ? x.countries.map((c) => html`<tr><th scope="row">${countryLabel(c.country)}</th><td class="num">${c.downloads.toLocaleString('en')}</td></tr>`) : html`<tr><td colspan="2">No downloads yet.</td></tr>`}</tbody>
</table></details>
</section>
<section aria-labelledby="${hid}-logo">
<h3 id="${hid}-logo">Your logo on the download page</h3>
${logoPreview(x)}
</section>
</article>`;
}

/** The download page's sponsor block, as downloaders see it (same classes, same markup, no frame). */
function logoPreview(x: ProviderMirror) {
  const sponsor = x.sponsor;
  if (!sponsor) return html`<p>This mirror has no sponsor configured, so downloaders read “Your download comes from ${x.name}”. Ask the network's staff to add your name, link and logo.</p>`;
  const sponsorUrl = safeHttpUrl(sponsor.url);
  const img = x.logoUrl ? html`<img src="${x.logoUrl}" alt="${sponsor.name} logo" width="240" height="80">` : '';
  return html`<p class="meta">${x.totals.impressions.toLocaleString('en')} downloaders saw it in the last 30 days. Downloaders whose download comes from this mirror see:</p>
<figure class="sponsor-preview">
<div class="sponsor">
  <p class="sponsor-title"><span class="kicker">Your download is sponsored by</span> <span class="sponsor-name">${sponsor.name}</span></p>
  ${x.logoUrl ? html`<p class="logo">${sponsorUrl ? html`<a href="${sponsorUrl}" rel="sponsored noopener">${img}</a>` : img}</p>` : ''}
  ${sponsorUrl ? html`<p class="sponsor-link"><a href="${sponsorUrl}" rel="sponsored noopener">Visit ${displayHost(sponsorUrl)}</a></p>` : ''}
  <p class="thanks">Thank you for supporting free software by hosting this mirror.</p>
</div>
<figcaption class="meta">Preview of the sponsor block on the download page.</figcaption>
</figure>
${x.logoUrl ? '' : html`<p class="flash flash-error">No logo is shown: none is configured, or it was refused when loaded (larger than 256 KB, or not a clean SVG, PNG, JPEG, WebP or GIF). Ask the network's staff.</p>`}`;
}
