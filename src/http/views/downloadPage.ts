// The interstitial a browser sees: the sponsor in the place of honour, then the download starts by itself.
import { html } from 'hono/html';
import { fileName, formatBytes, type RankedMirror } from '../../core/present.js';
import type { OriginFile } from '../../core/model.js';
import { page } from './layout.js';

export interface DownloadPageModel {
  file: OriginFile;
  /** Where the download goes: the pick's URL, or the origin's. */
  target: string;
  chosen: RankedMirror | undefined;
  others: RankedMirror[];
  /** The URL of this page, for "choose another mirror" links (`?mirror=id`). */
  selfPath: string;
  delaySeconds: number;
}

export function downloadPage(m: DownloadPageModel) {
  const name = fileName(m.file.path);
  const sponsor = m.chosen?.sponsor;
  const chosenId = m.chosen?.id;
  return page({
    title: `Downloading ${name}`,
    head: html`<meta http-equiv="refresh" content="${m.delaySeconds}; url=${m.target}">
<script src="/assets/download.js" defer></script>`,
    body: html`<section class="sponsor" aria-labelledby="sponsor-heading">
  <h1 id="sponsor-heading">${
    sponsor
      ? html`Your download is sponsored by <span class="sponsor-name">${sponsor.name}</span>`
      : m.chosen
        ? html`Your download comes from <span class="sponsor-name">${m.chosen.name}</span>`
        : html`Your download comes from the origin server`
  }</h1>
  ${
    sponsor?.logo && chosenId
      ? html`<p class="logo">${sponsor.url ? html`<a href="${sponsor.url}" rel="noopener sponsored"><img src="/logos/${chosenId}" alt="${sponsor.name} logo" width="240" height="80"></a>` : html`<img src="/logos/${chosenId}" alt="${sponsor.name} logo" width="240" height="80">`}</p>`
      : ''
  }
  ${sponsor?.url ? html`<p><a href="${sponsor.url}" rel="noopener sponsored">${sponsor.url}</a></p>` : ''}
</section>
<section class="file" aria-labelledby="file-heading">
  <h2 id="file-heading">${name}</h2>
  <dl>
    <dt>Size</dt><dd>${formatBytes(m.file.size)} (${m.file.size.toLocaleString('en')} bytes)</dd>
    ${m.file.sha256 ? html`<dt>SHA-256</dt><dd><code class="hash">${m.file.sha256}</code></dd>` : ''}
    ${m.chosen ? html`<dt>Mirror</dt><dd>${m.chosen.name} (${m.chosen.country})</dd>` : ''}
  </dl>
  <p class="status" role="status" data-delay="${m.delaySeconds}" data-target="${m.target}">Your download will start in a moment.</p>
  <p><a class="direct" href="${m.target}" id="direct-link">Direct link</a> if it does not start.</p>
</section>
${
  m.others.length
    ? html`<section class="others" aria-labelledby="others-heading">
  <h2 id="others-heading">Problems downloading? Choose another mirror</h2>
  <ul>
    ${m.others.map(
      (o) => html`<li><a href="${m.selfPath}?mirror=${o.id}" data-mirror="${o.id}">${o.name}</a> <span class="meta">${o.country}${o.distanceKm !== null ? html` · ${o.distanceKm.toLocaleString('en')} km` : ''}</span></li>`,
    )}
  </ul>
</section>`
    : ''
}`,
  });
}
