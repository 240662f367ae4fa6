// The HTML shell every page shares: landmarks, a skip link, our own stylesheet, no third-party assets.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { DataCredit } from '../../geo/locator.js';

export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * One page. `credits`: the attribution the geography data's licence asks of a page built from it (the
 * download page and the mirror lists, ranked by the client's place); pages that do not use it pass none.
 */
export function page(opts: {
  title: string;
  head?: Fragment;
  body: Fragment;
  scripts?: string[];
  credits?: readonly DataCredit[];
  /** The page's referrer policy, where it must be stricter than the site's (a page whose address holds a secret). */
  referrer?: 'no-referrer';
}): Fragment {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="${opts.referrer ?? 'strict-origin-when-cross-origin'}">
<title>${opts.title} · Mirrorgate</title>
<link rel="stylesheet" href="/assets/mirrorgate.css">
${opts.head ?? ''}${(opts.scripts ?? []).map((src) => html`<script src="${src}" defer></script>\n`)}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <a href="/" class="brand">Mirrorgate</a>
  <nav aria-label="Site"><a href="/mirrors">Mirror status</a></nav>
</header>
<main id="main" tabindex="-1">
${opts.body}
</main>
<footer class="site">Mirrorgate download service · <a href="/mirrors">Mirror status</a>${(opts.credits ?? []).map((c) => html` · <a href="${c.url}">${c.text}</a>`)}</footer>
</body>
</html>`;
}
