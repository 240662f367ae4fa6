// The page a browser gets for a 4xx or 5xx: the site's layout, what went wrong in plain words, and a way on.
import { html } from 'hono/html';
import { page } from './layout.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign-in needed',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  414: 'Address too long',
  422: 'Not accepted',
  429: 'Too many requests',
  502: 'Upstream error',
  503: 'Unavailable right now',
};

export interface ErrorPageModel {
  status: number;
  message: string;
  /** For a download path: the nearest folder above it that exists ("" for the top), to browse from. */
  folderAbove?: string;
}

export function errorPage(m: ErrorPageModel) {
  const title = TITLES[m.status] ?? 'Error';
  const above = m.folderAbove;
  return page({
    title,
    body: html`<h1>${title}</h1>
<p>${m.message.charAt(0).toUpperCase() + m.message.slice(1)}.</p>
${
  above !== undefined
    ? html`<p>Browse <a href="/download/${above === '' ? '' : `${above.split('/').map(encodeURIComponent).join('/')}/`}">${above === '' ? 'all files' : `/${above}/`}</a> to find what you were looking for.</p>`
    : ''
}
<p><a href="/">Home</a> · <a href="/mirrors">Mirror status</a></p>`,
  });
}
