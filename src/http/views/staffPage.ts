// /staff: the network at a glance, per-mirror drain/undrain/weight controls, and pending offers — plain POST forms, no JavaScript needed.
import { offerMirrorId } from '../../control/mirrorBodies.js';
import { html } from 'hono/html';
import type { MirrorView } from '../../control/adminService.js';
import type { SummaryStatus as MirrorStatus } from '../../core/mirrorStatus.js';
import type { OfferView } from '../../control/adminService.js';
import { consoleBar, type Viewer } from './loginPage.js';
import { formatSeconds } from '../../core/format.js';
import { countryName, safeHttpUrl, timeAgo } from './format.js';
import { page } from './layout.js';
import { pageNav, type Paged } from './pagination.js';

export const STATUS_LABEL: Record<MirrorStatus, string> = {
  up: 'Up',
  syncing: 'Syncing',
  pending: 'New, not checked yet',
  draining: 'Draining',
  unknown: 'Not confirmed yet',
  down: 'Down',
  disabled: 'Disabled',
};
const STATUS_RANK: Record<MirrorStatus, number> = { up: 0, syncing: 1, pending: 2, draining: 3, unknown: 4, down: 5, disabled: 6 };

/** The ramps the drain form offers: form value → milliseconds. */
export const DRAIN_RAMPS: Record<string, { ms: number; label: string }> = {
  '0': { ms: 0, label: 'at once' },
  '10m': { ms: 600_000, label: 'over 10 min' },
  '1h': { ms: 3_600_000, label: 'over 1 hour' },
};

export interface Flash {
  kind: 'done' | 'error';
  text: string;
}

export interface StaffPageModel {
  viewer: Viewer;
  mirrors: MirrorView[];
  /** Offers still waiting for a decision, oldest first. */
  offers: OfferView[];
  decidedOffers: number;
  /** Downloads over the last 30 days, or null when the store could not say. */
  downloads30d: number | null;
  flash: Flash | null;
  nowMs: number;
  /** The shared store is unreachable: shown as it was last read, controls off. */
  readOnly?: boolean;
  /** The page of each list shown (counts above still cover all); without them, everything. */
  mirrorPage?: Paged<MirrorView>;
  offerPage?: Paged<OfferView>;
}

/** Said at the top of console pages while the shared store is unreachable. */
export function readOnlyBanner(readOnly: boolean | undefined) {
  return readOnly
    ? html`<p class="flash flash-warn banner" role="status"><strong>Read-only for now:</strong> the shared store (Redis) is unreachable, so changes cannot be saved. This page shows the network as this instance last knew it. Downloads keep working; the controls come back when the store does.</p>`
    : '';
}

/** The status a mirror shows: the snapshot's, or — before it is in one — what its lifecycle says. */
export function statusOf(view: MirrorView): MirrorStatus {
  return view.summary?.status ?? (view.lifecycle === 'syncing' ? 'syncing' : view.spec.enabled ? 'unknown' : 'disabled');
}

/** The mirror id an accepted offer gets unless staff choose another: organisation and country, as the API does. */

export function flashBlock(flash: Flash | null) {
  if (!flash) return '';
  return flash.kind === 'error'
    ? html`<p class="flash flash-error" role="alert">${flash.text}</p>`
    : html`<p class="flash flash-done" role="status">${flash.text}</p>`;
}

export function staffPage(m: StaffPageModel) {
  const byStatus = new Map<MirrorStatus, number>();
  for (const v of m.mirrors) byStatus.set(statusOf(v), (byStatus.get(statusOf(v)) ?? 0) + 1);
  const statuses = [...byStatus].sort((a, b) => STATUS_RANK[a[0]] - STATUS_RANK[b[0]]);
  const draining = m.mirrors.filter((v) => v.drain).length;
  return page({
    title: 'Staff',
    body: html`${consoleBar(m.viewer, 'staff')}
<h1>Network</h1>
${readOnlyBanner(m.readOnly)}
${flashBlock(m.flash)}
<section aria-labelledby="glance-heading">
<h2 id="glance-heading">At a glance</h2>
<ul class="status-summary" aria-label="Mirrors by status">${statuses.map(([status, n]) => html`<li><span class="badge badge-${status}">${STATUS_LABEL[status]}: ${n}</span></li>`)}</ul>
<dl class="glance">
  <div><dt>Mirrors</dt><dd>${m.mirrors.length}</dd></div>
  <div><dt>Drained or draining</dt><dd>${draining}</dd></div>
  <div><dt>Pending offers</dt><dd><a href="#offers-heading">${m.offers.length}</a></dd></div>
  <div><dt>Downloads, last 30 days</dt><dd>${m.downloads30d === null ? html`<span class="meta">not available</span>` : m.downloads30d.toLocaleString('en')}</dd></div>
</dl>
</section>
<table class="mirrors staff-mirrors">
<caption>Every mirror, with its controls. Draining takes a mirror out of new downloads on every instance within a second; weight shares traffic among equally near mirrors.</caption>
<thead><tr><th scope="col">Mirror</th><th scope="col">Status</th><th scope="col">Country</th><th scope="col">Weight</th><th scope="col">Share</th><th scope="col">Lag</th><th scope="col">Latency</th><th scope="col">Drain</th></tr></thead>
<tbody>
${(m.mirrorPage?.items ?? m.mirrors).map((v) => mirrorRow(v, m.nowMs, m.readOnly === true))}
</tbody></table>
${m.mirrorPage ? pageNav(m.mirrorPage, 'Mirrors', { [m.offerPage?.param ?? 'offers']: m.offerPage?.page ?? 1 }) : ''}
<section aria-labelledby="offers-heading" class="offers">
<h2 id="offers-heading">Pending offers</h2>
${
  m.offers.length
    ? html`<p class="meta">Accepting creates the mirror as <em>syncing</em>: it is scanned and probed, and takes downloads once a scan shows it carries the files.${m.decidedOffers ? ` ${m.decidedOffers} earlier offers were decided.` : ''}</p>
<ul class="offer-list">${(m.offerPage?.items ?? m.offers).map((o) => offerItem(o, m.nowMs, m.readOnly === true))}</ul>
${m.offerPage ? pageNav(m.offerPage, 'Pending offers', { [m.mirrorPage?.param ?? 'mirrors']: m.mirrorPage?.page ?? 1 }, '#offers-heading') : ''}`
    : html`<p>No offers are waiting.${m.decidedOffers ? ` ${m.decidedOffers} earlier offers were decided.` : ''}</p>`
}
</section>`,
  });
}

function mirrorRow(v: MirrorView, nowMs: number, readOnly: boolean) {
  const s = v.spec;
  const sum = v.summary;
  const status = statusOf(v);
  const id = encodeURIComponent(s.id);
  const url = safeHttpUrl(s.baseUrl);
  return html`<tr id="staff-mirror-${s.id}" data-mirror="${s.id}">
<th scope="row" data-label="Mirror"><span class="mirror-name">${s.name}</span> <span class="meta">${s.id}</span><br><span class="meta url">${url ? html`<a href="${url}">${s.baseUrl}</a>` : s.baseUrl}</span><br><a class="meta" href="/provider?mirror=${id}">Traffic<span class="visually-hidden"> of ${s.name}</span></a></th>
<td data-label="Status"><span class="badge badge-${status}">${STATUS_LABEL[status]}</span>${sum?.reason ? html`<br><span class="meta">${sum.reason}</span>` : ''}${v.lifecycle === 'syncing' ? html`<br><span class="meta">new, not launched</span>` : v.lifecycle === 'pending' ? html`<br><span class="meta">no downloads until a probe shows it up</span>` : ''}</td>
<td data-label="Country">${countryName(s.country)} <span class="meta">(${s.country})</span>${s.countryOnly ? html`<br><span class="meta">its country only</span>` : ''}</td>
<td data-label="Weight"><form method="post" action="/staff/mirrors/${id}/weight" class="inline-form"><fieldset class="plain"${readOnly ? html` disabled` : ''}><legend class="visually-hidden">Weight of ${s.name}</legend>
  <label for="weight-${s.id}" class="visually-hidden">Weight of ${s.name}</label>
  <input id="weight-${s.id}" name="weight" type="number" min="0" max="1000000" step="1" inputmode="numeric" value="${s.weight}" required>
  <button type="submit">Save<span class="visually-hidden"> weight of ${s.name}</span></button>
</fieldset></form></td>
<td data-label="Share">${sum ? html`${(sum.share * 100).toFixed(1)}%<meter min="0" max="1" value="${sum.share}" aria-hidden="true"></meter><span class="meta">${sum.files.toLocaleString('en')} files</span>` : html`<span class="meta">not known</span>`}</td>
<td data-label="Lag">${
    sum?.lagSeconds != null ? formatSeconds(sum.lagSeconds) : html`<span class="meta">not known</span>`
  }${sum?.lastSync ? html`<br><span class="meta">synced <time datetime="${sum.lastSync}">${timeAgo(Date.parse(sum.lastSync), nowMs)}</time></span>` : ''}</td>
<td data-label="Latency">${sum?.latencyMs != null ? `${Math.round(sum.latencyMs)} ms` : html`<span class="meta">not measured</span>`}</td>
<td data-label="Drain">${drainCell(v, nowMs, readOnly)}</td>
</tr>
`;
}

function drainCell(v: MirrorView, nowMs: number, readOnly: boolean) {
  const off = readOnly ? html` disabled` : '';
  const s = v.spec;
  const id = encodeURIComponent(s.id);
  if (v.drain) {
    const since = html`<time datetime="${new Date(v.drain.startMs).toISOString()}">${timeAgo(v.drain.startMs, nowMs)}</time>`;
    const ramping = v.drain.overMs > 0 && nowMs < v.drain.startMs + v.drain.overMs;
    const state =
      v.drain.overMs === 0
        ? html`Drained ${since}`
        : ramping
          ? html`Ramping down over ${formatSeconds(v.drain.overMs / 1000)}, began ${since}`
          : html`Drained (ramp of ${formatSeconds(v.drain.overMs / 1000)} began ${since})`;
    return html`<p class="drain-state">${state}</p>
<form method="post" action="/staff/mirrors/${id}/undrain" class="inline-form"><button type="submit"${off}>Undrain<span class="visually-hidden"> ${s.name}</span></button></form>`;
  }
  return html`<p class="drain-state meta">Taking downloads</p>
<form method="post" action="/staff/mirrors/${id}/drain" class="inline-form">
  <label for="over-${s.id}" class="visually-hidden">How to drain ${s.name}</label>
  <select id="over-${s.id}" name="over"${off}>${Object.entries(DRAIN_RAMPS).map(([value, r]) => html`<option value="${value}">${r.label}</option>`)}</select>
  <button type="submit"${off}>Drain<span class="visually-hidden"> ${s.name}</span></button>
</form>`;
}

function offerItem(o: OfferView, nowMs: number, readOnly: boolean) {
  const off = readOnly ? html` disabled` : '';
  const id = encodeURIComponent(o.id);
  const created = new Date(o.createdAt);
  const base = safeHttpUrl(o.baseUrl);
  return html`<li class="offer" id="offer-${o.id}" data-offer="${o.id}">
<h3>${o.organisation}</h3>
<dl class="facts">
  <dt>Contact</dt><dd>${o.contact.name} · <a href="mailto:${o.contact.email}">${o.contact.email}</a></dd>
  <dt>Location</dt><dd>${o.location.city ? `${o.location.city}, ` : ''}${countryName(o.location.country)} <span class="meta">(${o.location.country})</span></dd>
  <dt>Storage</dt><dd>${o.storageTB.toLocaleString('en')} TB</dd>
  <dt>Bandwidth</dt><dd>${o.bandwidthMbps.toLocaleString('en')} Mbps</dd>
  <dt>Offered</dt><dd><time datetime="${created.toISOString()}">${created.toISOString().slice(0, 10)}</time> <span class="meta">${timeAgo(o.createdAt, nowMs)}</span></dd>
  <dt>Base URL</dt><dd>${o.baseUrl ? (base ? html`<a href="${base}">${o.baseUrl}</a>` : o.baseUrl) : html`<span class="meta">not given</span>`}</dd>
  <dt>rsync URL</dt><dd>${o.rsyncUrl ? html`<code>${o.rsyncUrl}</code>` : html`<span class="meta">not given</span>`}</dd>
  <dt>Peerings</dt><dd>${o.peerings ? o.peerings : html`<span class="meta">none given</span>`}</dd>
  ${o.note ? html`<dt>Note</dt><dd class="note">${o.note}</dd>` : ''}
</dl>
<div class="offer-actions">
<form method="post" action="/staff/offers/${id}/accept" class="accept-form"><fieldset class="plain"${off}><legend class="visually-hidden">Accept the offer from ${o.organisation}</legend>
  <p><label for="accept-id-${o.id}">Mirror id</label> <input id="accept-id-${o.id}" name="id" value="${offerMirrorId(o)}" pattern="[a-z0-9-]+" spellcheck="false" autocapitalize="off"></p>
  <p><label for="accept-url-${o.id}">Base URL</label> <input id="accept-url-${o.id}" name="baseUrl" type="url" value="${o.baseUrl ?? ''}" placeholder="https://mirror.example/pub/" spellcheck="false"></p>
  <p class="check"><input id="accept-token-${o.id}" name="issueToken" type="checkbox" value="yes" checked> <label for="accept-token-${o.id}">Issue the provider's token (shown once)</label></p>
  <p><button type="submit" class="button">Accept<span class="visually-hidden"> the offer from ${o.organisation}</span></button></p>
</fieldset></form>
<form method="post" action="/staff/offers/${id}/reject" class="reject-form"><button type="submit" class="button-secondary"${off}>Reject<span class="visually-hidden"> the offer from ${o.organisation}</span></button></form>
</div>
</li>`;
}
