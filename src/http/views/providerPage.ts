// /provider: a provider's mirrors — status, sync, share, downloads by day and by country (server-drawn SVG with table fallbacks), logo impressions, and the logo as downloaders see it.
import { html, raw } from 'hono/html';
import type { SummaryStatus as MirrorStatus } from '../../core/mirrorStatus.js';
import type { AuditEntry } from '../../core/records.js';
import { barChart, columnChart, type ChartDatum } from './chart.js';
import { formatBytes, formatSeconds } from '../../core/format.js';
import { countryName, displayHost, plural, safeHttpUrl, timeAgo } from './format.js';
import { page } from './layout.js';
import { consoleBar, type Viewer } from './loginPage.js';
import { DRAIN_RAMPS, flashBlock, readOnlyBanner, STATUS_LABEL, type Flash } from './staffPage.js';

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
  weight: number;
  /** The highest weight the provider may set. */
  weightCeiling: number;
  drain: { startMs: number; overMs: number } | null;
  /** It has an rsync URL (or an http manifest) a scan can read. */
  scannable: boolean;
  health: { health: string; reason: string | null; checkedAt: number | null } | null;
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
  flash?: Flash | null;
  /** Newest first: changes to the viewer's mirrors; null when none are shown. */
  audit?: AuditEntry[] | null;
  /** The shared store is unreachable: controls off. */
  readOnly?: boolean;
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
${readOnlyBanner(m.readOnly)}
${flashBlock(m.flash ?? null)}
${!m.choose && m.mirrors.length === 0 ? html`<p>No mirror is assigned to this token. Ask the network's staff.</p>` : ''}
${m.statsError ? html`<p class="flash flash-error" role="alert">${m.statsError}</p>` : ''}
${m.mirrors.map((x) => mirrorSection(x, m, m.mirrors.length > 1))}
${m.audit ? auditSection(m.audit, m.nowMs) : ''}`,
  });
}

/** What changed on these mirrors, and who changed it: the provider's view of the audit log. */
function auditSection(entries: AuditEntry[], nowMs: number) {
  return html`<section aria-labelledby="audit-heading" class="provider-audit">
<h2 id="audit-heading">Recent changes</h2>
${
  entries.length
    ? html`<ul class="audit-list">${entries.map(
        (e) =>
          html`<li><time datetime="${new Date(e.at).toISOString()}">${timeAgo(e.at, nowMs)}</time>: <strong>${e.actor}</strong> ${e.action.replace(/^[a-z]+\./, '')} <span class="meta">${e.target.replace(/^mirror:/, '')}</span>${changeText(e)}</li>`,
      )}</ul>`
    : html`<p>No changes yet.</p>`
}
</section>`;
}

/** "weight 100 → 50" for the fields an entry changed, when it says. */
function changeText(e: AuditEntry) {
  const before = (e.before && typeof e.before === 'object' ? e.before : {}) as Record<string, unknown>;
  const after = (e.after && typeof e.after === 'object' ? e.after : {}) as Record<string, unknown>;
  const keys = Object.keys(after).filter((k) => ['weight', 'enabled', 'lifecycle', 'logo', 'weightCeiling', 'drain', 'overMs'].includes(k));
  if (!keys.length) return '';
  const show = (v: unknown) => (v === undefined || v === null ? '–' : typeof v === 'object' ? 'set' : String(v));
  return html` <span class="meta">(${keys.map((k, i) => html`${i ? ', ' : ''}${k} ${k in before ? html`${show(before[k])} → ` : ''}${show(after[k])}`)})</span>`;
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
  <div><dt>Lag</dt><dd>${x.lagSeconds !== null ? formatSeconds(x.lagSeconds) : html`<span class="meta">not known</span>`}</dd></div>
  <div><dt>Share of files</dt><dd>${(x.share * 100).toFixed(1)}% <span class="meta">${x.files.toLocaleString('en')} files</span></dd></div>
  <div><dt>Downloads, 30 days</dt><dd>${x.totals.downloads.toLocaleString('en')}</dd></div>
  <div><dt>Served, 30 days</dt><dd>${formatBytes(x.totals.bytes)}</dd></div>
  <div><dt>Logo impressions, 30 days</dt><dd>${x.totals.impressions.toLocaleString('en')}</dd></div>
</dl>
<p class="meta wrap">${x.id} · ${x.url} · ${countryName(x.country)}${x.draining ? ' · drained: no new downloads' : ''}</p>
</section>
${manageSection(x, m)}
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
  if (!sponsor)
    return html`<p>This mirror has no sponsor configured, so downloaders read “Your download comes from ${x.name}”. Upload a logo below (it names you as sponsor), or ask the network's staff to add your name and link.</p>`;
  const sponsorUrl = safeHttpUrl(sponsor.url);
  const img = x.logoUrl ? html`<img src="${x.logoUrl}" alt="${sponsor.name} logo" width="240" height="80">` : '';
  return html`<p class="meta">${plural(x.totals.impressions, 'downloader', 'downloaders')} saw it in the last 30 days. Downloaders whose download comes from this mirror see:</p>
<figure class="sponsor-preview">
<div class="sponsor">
  <p class="sponsor-title"><span class="kicker">Your download is sponsored by</span> <span class="sponsor-name">${sponsor.name}</span></p>
  ${x.logoUrl ? html`<p class="logo">${sponsorUrl ? html`<a href="${sponsorUrl}" rel="sponsored noopener">${img}</a>` : img}</p>` : ''}
  ${sponsorUrl ? html`<p class="sponsor-link"><a href="${sponsorUrl}" rel="sponsored noopener">Visit ${displayHost(sponsorUrl)}</a></p>` : ''}
  <p class="thanks">Thank you for supporting free software by hosting this mirror.</p>
</div>
<figcaption class="meta">Preview of the sponsor block on the download page.</figcaption>
</figure>
${x.logoUrl ? '' : html`<p class="flash flash-error">No logo is shown: none is set, or it was refused (too large, or not a clean SVG, PNG, JPEG, WebP or GIF). Upload one below.</p>`}`;
}

/** The provider's controls: drain for maintenance, weight within the ceiling, probe or scan now, a new logo. */
function manageSection(x: ProviderMirror, m: ProviderPageModel) {
  const hid = `p-${x.id}`;
  const id = encodeURIComponent(x.id);
  const off = m.readOnly ? html` disabled` : '';
  const weightMax = m.viewer.role === 'staff' ? 1_000_000 : x.weightCeiling;
  const checked = x.health?.checkedAt
    ? html`; last checked <time datetime="${new Date(x.health.checkedAt).toISOString()}">${timeAgo(x.health.checkedAt, m.nowMs)}</time>`
    : '';
  return html`<section aria-labelledby="${hid}-manage" class="manage">
<h3 id="${hid}-manage">Manage this mirror</h3>
<div class="manage-grid">
<div>
<h4>Maintenance</h4>
${
  x.drain
    ? html`<p>Drained: it gets no new downloads.</p><form method="post" action="/provider/mirrors/${id}/undrain" class="inline-form"><button type="submit"${off}>Take downloads again<span class="visually-hidden"> on ${x.name}</span></button></form>`
    : html`<p>Drain it before maintenance: new downloads go elsewhere within a second.</p>
<form method="post" action="/provider/mirrors/${id}/drain" class="inline-form">
  <label for="${hid}-over">Drain</label>
  <select id="${hid}-over" name="over"${off}>${Object.entries(DRAIN_RAMPS).map(([value, r]) => html`<option value="${value}">${r.label}</option>`)}</select>
  <button type="submit"${off}>Drain<span class="visually-hidden"> ${x.name}</span></button>
</form>`
}
</div>
<div>
<h4>Weight</h4>
<p>Its share among equally near mirrors. You may set up to ${weightMax.toLocaleString('en')}.</p>
<form method="post" action="/provider/mirrors/${id}/weight" class="inline-form">
  <label for="${hid}-weight">Weight</label>
  <input id="${hid}-weight" name="weight" type="number" min="0" max="${weightMax}" step="1" inputmode="numeric" value="${x.weight}" required${off}>
  <button type="submit"${off}>Save<span class="visually-hidden"> weight of ${x.name}</span></button>
</form>
</div>
<div>
<h4>Check now</h4>
<p>Health: ${x.health ? html`${x.health.health}${x.health.reason ? html` <span class="meta">(${x.health.reason})</span>` : ''}` : 'not probed yet'}${checked}.</p>
<form method="post" action="/provider/mirrors/${id}/probe" class="inline-form"><button type="submit"${off}>Probe now<span class="visually-hidden"> ${x.name}</span></button></form>
${x.scannable ? html`<form method="post" action="/provider/mirrors/${id}/scan" class="inline-form"><button type="submit"${off}>Scan its files now<span class="visually-hidden"> on ${x.name}</span></button></form>` : ''}
</div>
<div>
<h4>Logo</h4>
<form method="post" action="/provider/mirrors/${id}/logo" enctype="multipart/form-data" class="stack">
  <label for="${hid}-logo">New logo (SVG, PNG or WebP, up to 60 KB)</label>
  <input id="${hid}-logo" name="logo" type="file" accept="image/svg+xml,image/png,image/webp,.svg,.png,.webp" required aria-describedby="${hid}-logo-help"${off}>
  <p id="${hid}-logo-help" class="meta">Shown about 240×80 pixels on the download page. SVG is cleaned of scripts and links.</p>
  <button type="submit"${off}>Upload<span class="visually-hidden"> a logo for ${x.name}</span></button>
</form>
</div>
</div>
</section>`;
}
