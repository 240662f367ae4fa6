// The interstitial a browser sees: the sponsor in the place of honour, then the download starts by itself.
import { html } from 'hono/html';
import { formatBytes } from '../../core/format.js';
import { fileName, type RankedMirror } from '../../core/present.js';
import type { OriginFile } from '../../core/model.js';
import { countryName, displayHost, formatKm, safeHttpUrl } from './format.js';
import { page } from './layout.js';
import type { DataCredit } from '../../geo/locator.js';

export interface DownloadPageModel {
  file: OriginFile;
  /** Where the download goes: the pick's URL, or the origin's. */
  target: string;
  chosen: RankedMirror | undefined;
  others: RankedMirror[];
  /** The path of this page (encoded, no query), for the form and links that reload it. */
  selfPath: string;
  delaySeconds: number;
  /** Where the chosen sponsor's logo is served, when it is (loaded and sanitised). */
  logoUrl: string | null;
  /** The mirror this browser asked us to remember, if any (and still configured). */
  remembered: { id: string; name: string } | null;
  /** False when the visitor only changed a preference (forget, or remember after the download began). */
  autoStart: boolean;
  /** Said instead of the countdown when autoStart is false. */
  notice: string | null;
  /** The mirror the visitor just chose with ?mirror=, offered to be remembered (the no-JavaScript way). */
  offerRemember: { id: string; name: string } | null;
  /** Attribution for the geography data the pick used (layout.ts). */
  credits?: readonly DataCredit[];
}

export function downloadPage(m: DownloadPageModel) {
  const name = fileName(m.file.path);
  const chosen = m.chosen;
  const sponsor = chosen?.sponsor;
  const sponsorUrl = safeHttpUrl(sponsor?.url);
  const from = chosen ? chosen.name : 'the origin server';
  return page({
    credits: m.credits,
    title: `Download ${name}`,
    // One starter per mode, so the file is never requested twice: with JavaScript, download.js
    // counts down (with a Cancel button) and then navigates; without it, this meta refresh
    // starts the download at once. An immediate refresh is no time limit (WCAG 2.2.1, H76);
    // a delayed one would be, and scripts never see <noscript> content.
    head: m.autoStart ? html`<noscript><meta http-equiv="refresh" content="0; url=${m.target}"></noscript>\n` : undefined,
    scripts: ['/assets/download.js'],
    body: html`<section class="sponsor" aria-labelledby="sponsor-heading">
  ${
    sponsor
      ? html`<h1 id="sponsor-heading"><span class="kicker">Your download is sponsored by</span> <span class="sponsor-name">${sponsor.name}</span></h1>
  ${
    m.logoUrl
      ? html`<p class="logo">${
          sponsorUrl
            ? html`<a href="${sponsorUrl}" rel="sponsored noopener"><img src="${m.logoUrl}" alt="${sponsor.name} logo" width="240" height="80"></a>`
            : html`<img src="${m.logoUrl}" alt="${sponsor.name} logo" width="240" height="80">`
        }</p>`
      : ''
  }
  ${sponsorUrl ? html`<p class="sponsor-link"><a href="${sponsorUrl}" rel="sponsored noopener">Visit ${displayHost(sponsorUrl)}</a></p>` : ''}
  <p class="thanks">Thank you for supporting free software by hosting this mirror.</p>`
      : html`<h1 id="sponsor-heading"><span class="kicker">Your download comes from</span> <span class="sponsor-name">${from}</span></h1>`
  }
</section>
<section class="file" aria-labelledby="file-heading">
  <h2 id="file-heading"><span class="visually-hidden">File: </span><span class="file-name">${name}</span></h2>
  ${
    m.autoStart
      ? html`<div class="autostart"><p class="status" role="status" data-delay="${m.delaySeconds}" data-target="${m.target}"><span class="status-text">Your download will start in a moment.</span></p></div>`
      : html`<div class="autostart"><p class="status" role="status">${m.notice ?? 'Use the direct link to download.'}</p></div>`
  }
  <p class="actions"><a class="button" id="direct-link" href="${m.target}">Direct link<span class="visually-hidden"> to ${name}</span></a> <span class="meta">if the download does not start</span></p>
  <dl class="facts">
    <dt>Size</dt><dd>${formatBytes(m.file.size)} <span class="meta">(${m.file.size.toLocaleString('en')} bytes)</span></dd>
    ${m.file.sha256 ? html`<dt>SHA-256</dt><dd><code class="hash">${m.file.sha256}</code> <a class="meta" href="${m.selfPath}?sha256">checksum file</a></dd>` : ''}
    <dt>Mirror</dt><dd>${
      chosen
        ? html`${chosen.name} <span class="meta">${countryName(chosen.country)}${chosen.distanceKm !== null ? html` · ${formatKm(chosen.distanceKm)} away` : ''}</span>`
        : html`the origin server <span class="meta">no mirror has this file yet</span>`
    }</dd>
    <dt>Path</dt><dd><code>${m.file.path}</code> <a class="meta" href="${m.selfPath}.meta4">metalink</a></dd>
  </dl>
</section>
${m.others.length || m.remembered || m.offerRemember ? othersSection(m) : ''}`,
  });
}

/**
 * Every other mirror is a plain link to ?mirror=<id>. "Remember my choice" is a checkbox that
 * download.js reveals and wires (it adds &remember=1 to those links); without JavaScript, the
 * page reached by such a link offers a button that remembers the mirror just chosen instead.
 */
function othersSection(m: DownloadPageModel) {
  return html`<section class="others" aria-labelledby="others-heading">
  <h2 id="others-heading">Problems downloading? Choose another mirror</h2>
  ${
    m.remembered
      ? html`<p class="remembered">This browser asks for <strong>${m.remembered.name}</strong> first, whenever it has the file. <a href="${m.selfPath}?forget">Forget this choice</a></p>`
      : ''
  }
  ${
    m.offerRemember
      ? html`<form method="get" action="${m.selfPath}" class="remember-this">
    <input type="hidden" name="mirror" value="${m.offerRemember.id}"><input type="hidden" name="remember" value="1"><input type="hidden" name="start" value="0">
    <button type="submit">Always use ${m.offerRemember.name} on this device</button>
  </form>`
      : ''
  }
  ${
    m.others.length
      ? html`<p class="remember" hidden><input type="checkbox" id="remember"> <label for="remember">Remember my choice on this device</label></p>
  <ul class="choices" aria-label="Other mirrors, nearest first">
    ${m.others.map(
      (o) =>
        html`<li><a href="${m.selfPath}?mirror=${o.id}" data-mirror="${o.id}">${o.name}</a> <span class="meta">${countryName(o.country)}${o.distanceKm !== null ? html` · ${formatKm(o.distanceKm)}` : ''}</span></li>`,
    )}
  </ul>`
      : html`<p>No other mirror has this file right now.</p>`
  }
</section>`;
}
