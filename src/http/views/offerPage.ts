// /offer: the form a provider fills in to offer a mirror (plain POST, no JavaScript needed), and the offer's status page behind its secret link.
import { html } from 'hono/html';
import type { OfferView } from '../../control/adminService.js';
import { countryName, safeHttpUrl } from './format.js';
import { page } from './layout.js';

/** A form field: its canonical API name, the form control's name, its label and its help text. */
interface FieldSpec {
  api: string;
  name: string;
  label: string;
  type: 'text' | 'email' | 'url' | 'number' | 'textarea';
  required: boolean;
  help?: string;
  attrs?: Record<string, string>;
}

export const OFFER_FIELDS: readonly FieldSpec[] = [
  {
    api: 'organisation',
    name: 'organisation',
    label: 'Organisation',
    type: 'text',
    required: true,
    help: 'Shown to downloaders as the mirror’s sponsor.',
    attrs: { autocomplete: 'organization', maxlength: '200' },
  },
  { api: 'contact.name', name: 'contactName', label: 'Contact name', type: 'text', required: true, attrs: { autocomplete: 'name', maxlength: '200' } },
  {
    api: 'contact.email',
    name: 'email',
    label: 'Contact email',
    type: 'email',
    required: true,
    help: 'Where staff write about your offer.',
    attrs: { autocomplete: 'email', maxlength: '320' },
  },
  {
    api: 'location.country',
    name: 'country',
    label: 'Country',
    type: 'text',
    required: true,
    help: 'Two-letter code, like DE or KE.',
    attrs: { autocomplete: 'country', maxlength: '2', pattern: '[A-Za-z]{2}', spellcheck: 'false', autocapitalize: 'characters' },
  },
  { api: 'location.city', name: 'city', label: 'City', type: 'text', required: false, attrs: { autocomplete: 'address-level2', maxlength: '200' } },
  {
    api: 'storageTB',
    name: 'storageTB',
    label: 'Storage (TB)',
    type: 'number',
    required: true,
    help: 'At least 8 TB.',
    attrs: { min: '8', step: 'any', inputmode: 'decimal' },
  },
  {
    api: 'bandwidthMbps',
    name: 'bandwidthMbps',
    label: 'Bandwidth (Mbps)',
    type: 'number',
    required: true,
    help: 'At least 150 Mbps.',
    attrs: { min: '150', step: 'any', inputmode: 'decimal' },
  },
  {
    api: 'peerings',
    name: 'peerings',
    label: 'Peerings',
    type: 'text',
    required: false,
    help: 'Internet exchanges or networks you peer with, e.g. DE-CIX, AMS-IX.',
    attrs: { maxlength: '2000' },
  },
  {
    api: 'baseUrl',
    name: 'baseUrl',
    label: 'Download URL',
    type: 'url',
    required: false,
    help: 'The http(s) address the files will be served from, if you know it.',
    attrs: { spellcheck: 'false', placeholder: 'https://mirror.example.org/pub/' },
  },
  {
    api: 'rsyncUrl',
    name: 'rsyncUrl',
    label: 'rsync URL',
    type: 'text',
    required: false,
    help: 'So we can check what your mirror holds, e.g. rsync://mirror.example.org/pub/.',
    attrs: { spellcheck: 'false' },
  },
  { api: 'note', name: 'note', label: 'Anything else', type: 'textarea', required: false, attrs: { maxlength: '5000', rows: '4' } },
];

export interface OfferFormModel {
  /** Values as the visitor typed them (to keep them after an error), by form name. */
  values: Record<string, string>;
  /** Plain-language problems by API field name. */
  errors: Record<string, string>;
}

const fieldId = (f: FieldSpec) => `offer-${f.name}`;

function control(f: FieldSpec, m: OfferFormModel) {
  const id = fieldId(f);
  const error = m.errors[f.api];
  const described = [f.help ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const extra = Object.entries(f.attrs ?? {}).map(([k, v]) => html` ${k}="${v}"`);
  const common = html`id="${id}" name="${f.name}"${f.required ? html` required aria-required="true"` : ''}${described ? html` aria-describedby="${described}"` : ''}${error ? html` aria-invalid="true"` : ''}${extra}`;
  const value = m.values[f.name] ?? '';
  return html`<div class="field${error ? ' field-error' : ''}">
  <label for="${id}">${f.label}${f.required ? '' : html` <span class="meta">(optional)</span>`}</label>
  ${f.type === 'textarea' ? html`<textarea ${common}>${value}</textarea>` : html`<input type="${f.type}" ${common} value="${value}">`}
  ${f.help ? html`<p id="${id}-help" class="meta help">${f.help}</p>` : ''}
  ${error ? html`<p id="${id}-error" class="field-message">${sentence(error)}</p>` : ''}
</div>`;
}

/** Messages are written as "storage must be at least 8 TB"; shown on their own, they start with a capital. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}

export function offerFormPage(m: OfferFormModel) {
  const problems = OFFER_FIELDS.filter((f) => m.errors[f.api]);
  const other = Object.entries(m.errors).filter(([k]) => !OFFER_FIELDS.some((f) => f.api === k));
  return page({
    title: problems.length || other.length ? 'Offer a mirror (please check the form)' : 'Offer a mirror',
    body: html`<h1>Offer a mirror</h1>
<section aria-labelledby="offer-intro">
<h2 id="offer-intro">Host part of the file set</h2>
<p>Mirrors carry 8 to 12 TB of a file set of about 50 TB and serve it at 150 Mbps or more. Tell us about yours; staff review every offer and write to you. You get a private link to follow your offer.</p>
</section>
${
  problems.length || other.length
    ? html`<div class="flash flash-error" role="alert" tabindex="-1" id="offer-problems"><p>The offer was not sent. Please fix ${problems.length + other.length === 1 ? 'this' : 'these'}:</p>
<ul>${problems.map((f) => html`<li><a href="#${fieldId(f)}">${sentence(m.errors[f.api]!)}</a></li>`)}${other.map(([k, v]) => html`<li>${k}: ${v}</li>`)}</ul></div>`
    : ''
}
<section aria-labelledby="offer-form-heading">
<h2 id="offer-form-heading">Your mirror</h2>
<form method="post" action="/api/v1/offers" class="stack offer-form" novalidate>
${OFFER_FIELDS.map((f) => control(f, m))}
<p><button type="submit" class="button">Send the offer</button></p>
</form>
<p class="meta">Scripts can send the same offer as JSON to <code>POST /api/v1/offers</code>.</p>
</section>`,
  });
}

const STATUS_TEXT: Record<OfferView['status'], string> = {
  offered: 'Waiting for review',
  accepted: 'Accepted',
  rejected: 'Not accepted',
};

export function offerStatusPage(o: OfferView, statusUrl: string, justSent: boolean) {
  const base = safeHttpUrl(o.baseUrl);
  return page({
    // Its address holds the offer's key: no link on it may pass that on.
    referrer: 'no-referrer',
    title: `Your mirror offer: ${STATUS_TEXT[o.status]}`,
    body: html`<h1>Your mirror offer</h1>
${justSent ? html`<p class="flash flash-done" role="status">Thank you: your offer was sent. Keep this page's address: it is the only way to see your offer's status, and it is shown only to you.</p>` : ''}
<section aria-labelledby="offer-status-heading">
<h2 id="offer-status-heading">${STATUS_TEXT[o.status]}</h2>
${
  o.status === 'offered'
    ? html`<p>Staff have not decided yet. They will write to ${o.contact.email}.</p>`
    : o.status === 'accepted'
      ? html`<p>Welcome to the network! Your mirror is <code>${o.mirrorId ?? ''}</code>. It is checked and scanned, and takes downloads once it holds the files. Staff will send you a token to sign in and see your mirror's traffic.</p>`
      : html`<p>Staff did not accept this offer.${o.decisionNote ? '' : ' They will write to you why.'}</p>`
}
${o.decisionNote ? html`<p>Staff's note: ${o.decisionNote}</p>` : ''}
<dl class="facts">
  <dt>Organisation</dt><dd>${o.organisation}</dd>
  <dt>Location</dt><dd>${o.location.city ? `${o.location.city}, ` : ''}${countryName(o.location.country)}</dd>
  <dt>Storage</dt><dd>${o.storageTB.toLocaleString('en')} TB</dd>
  <dt>Bandwidth</dt><dd>${o.bandwidthMbps.toLocaleString('en')} Mbps</dd>
  <dt>Download URL</dt><dd>${base ? html`<a href="${base}">${o.baseUrl}</a>` : html`<span class="meta">not given</span>`}</dd>
  <dt>Sent</dt><dd><time datetime="${new Date(o.createdAt).toISOString()}">${new Date(o.createdAt).toISOString().slice(0, 10)}</time></dd>
</dl>
</section>
<p class="meta">The same, as JSON: <a href="${statusUrl}">${statusUrl}</a></p>`,
  });
}
