// ?mirrorlist as HTML: the ranked candidates for one file and one client, and why others were left out.
import { html } from 'hono/html';
import { formatBytes } from '../../core/format.js';
import { fileName, type RankedMirror } from '../../core/present.js';
import type { ExclusionReason, OriginFile } from '../../core/model.js';
import { encodePathForUrl } from '../../core/paths.js';
import { countryName } from './format.js';
import type { DataCredit } from '../../geo/locator.js';
import { page } from './layout.js';

/** Why a mirror was left out, as a downloader reads it; the code stays beside it for scripts and staff. */
export const REASON_TEXT: Record<ExclusionReason, string> = {
  disabled: 'is switched off by staff',
  'not-launched': 'is new and not yet in service',
  draining: 'is being drained for maintenance',
  down: 'is not answering',
  lagging: 'is behind with its sync',
  'missing-file': "doesn't have this file",
  'stale-copy': 'has an older version',
  'incomplete-group': 'is part-way through a sync of this repository',
  'country-only': 'serves only its own country',
  'http-only': 'has no HTTPS, and you came over HTTPS',
};

export function reasonText(reason: string): string {
  return (REASON_TEXT as Record<string, string>)[reason] ?? reason;
}

export interface MirrorListModel {
  file: OriginFile;
  client: Record<string, string | number | boolean>;
  mirrors: RankedMirror[];
  excluded: { id: string; name: string; reason: string }[];
  originUrl: string;
  /** Attribution for the geography data the ranking used (layout.ts). */
  credits?: readonly DataCredit[];
}

export function mirrorListPage(m: MirrorListModel) {
  const name = fileName(m.file.path);
  const self = `/download/${encodePathForUrl(m.file.path)}`;
  return page({
    credits: m.credits,
    title: `Mirrors for ${name}`,
    body: html`<h1 class="wrap">Mirrors for ${name}</h1>
<section aria-labelledby="file-heading" class="mirrorlist-file">
<h2 id="file-heading" class="visually-hidden">The file</h2>
<dl class="facts">
  <dt>Size</dt><dd>${formatBytes(m.file.size)}</dd>
  ${m.file.sha256 ? html`<dt>SHA-256</dt><dd><code class="hash">${m.file.sha256}</code></dd>` : ''}
  <dt>Checks</dt><dd><a href="${self}.meta4">Metalink</a> (every mirror and the hash, for aria2 and other download managers)${m.file.sha256 ? html` · <a href="${self}?sha256">SHA-256 checksum file</a>` : ''}</dd>
</dl>
<p class="meta">Ranked for ${m.client.ip}${m.client.country ? html` (${countryName(String(m.client.country))})` : ''}.</p>
</section>
${
  m.mirrors.length
    ? html`<section aria-labelledby="ranked-heading"><h2 id="ranked-heading">Mirrors with the current file, best first</h2><ol class="ranked">
${m.mirrors.map(
  (r) =>
    html`<li><a href="${r.url}">${r.name}</a> <span class="meta">${countryName(r.country)}${r.distanceKm !== null ? html` · ${r.distanceKm.toLocaleString('en')} km` : ''} · score ${r.score}</span></li>`,
)}
</ol></section>`
    : html`<p>No mirror carries the current file yet: it is served from <a href="${m.originUrl}">the origin</a>.</p>`
}
${
  m.excluded.length
    ? html`<section aria-labelledby="excluded-heading"><h2 id="excluded-heading">Not used for this download</h2><ul class="excluded">${m.excluded.map(
        (e) => html`<li>${e.name} ${reasonText(e.reason)} <code class="reason">${e.reason}</code></li>`,
      )}</ul></section>`
    : ''
}`,
  });
}
