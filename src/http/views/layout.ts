// The HTML shell every page shares: landmarks, our own stylesheet, no third-party assets.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

export function page(opts: { title: string; head?: Fragment; body: Fragment }): Fragment {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${opts.title} · Mirrorgate</title>
<link rel="stylesheet" href="/assets/mirrorgate.css">
${opts.head ?? ''}
</head>
<body>
<header class="site"><a href="/mirrors" class="brand">Mirrorgate</a></header>
<main id="main">
${opts.body}
</main>
<footer class="site"><a href="/mirrors">Mirror status</a> · IP geolocation by MaxMind GeoLite2</footer>
</body>
</html>`;
}
