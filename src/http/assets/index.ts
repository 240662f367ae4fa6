// Our own static assets, kept as strings so Node and Workers serve them without a file system.

export const STYLESHEET = `
:root {
  color-scheme: light dark;
  --fg: #1d2330; --muted: #535b6b; --bg: #f4f6f9; --card: #fff; --accent: #1a56b0; --accent-fg: #fff;
  --line: #d5dae2; --focus: #1a56b0; --code-bg: #eef1f5;
  --up-bg: #dcf3e3; --up-fg: #155c2e; --warn-bg: #fdf0d2; --warn-fg: #7a4a00;
  --down-bg: #fbe1e1; --down-fg: #9b1c1c; --idle-bg: #e8ebf0; --idle-fg: #3f4656;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e7eaf0; --muted: #a9b1be; --bg: #11141a; --card: #1a1f28; --accent: #8ab8ff; --accent-fg: #0b1a33;
    --line: #2f3745; --focus: #8ab8ff; --code-bg: #232a35;
    --up-bg: #153523; --up-fg: #9de3b4; --warn-bg: #3b2c0c; --warn-fg: #f5cf7a;
    --down-bg: #431a1a; --down-fg: #ffb3b3; --idle-bg: #2a313d; --idle-fg: #cfd5df;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-underline-offset: .15em; }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 2px; }
main:focus { outline: none; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; background: var(--code-bg); padding: .05em .3em; border-radius: .25rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip { position: absolute; left: .5rem; top: -3rem; z-index: 10; background: var(--card); color: var(--accent); padding: .5rem .75rem; border-radius: .5rem; border: 2px solid var(--focus); }
.skip:focus { top: .5rem; }
body { --page: 52rem; }
body:has(table.mirrors) { --page: 72rem; }
header.site { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .5rem 1rem; max-width: var(--page); margin: 0 auto; padding: .75rem 1rem; }
header.site .brand { font-weight: 700; font-size: 1.1rem; text-decoration: none; color: var(--fg); }
header.site nav a { color: var(--fg); }
footer.site { margin: 1rem max(1rem, calc((100% - var(--page)) / 2 + 1rem)) 0; padding: 1rem 0; color: var(--muted); font-size: .875rem; border-top: 1px solid var(--line); }
footer.site a { color: var(--muted); }
main { max-width: var(--page); margin: 0 auto; padding: 0 1rem 1rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; margin: 0 0 1rem; }
.meta { color: var(--muted); font-size: .9em; }
.lead { font-size: 1.1rem; }
ul.examples { padding-left: 1.2rem; overflow-wrap: anywhere; }

/* Download page */
.sponsor { text-align: center; padding-block: 1.5rem; }
.sponsor h1 { font-size: 1.5rem; font-weight: 400; margin: 0 0 1rem; }
.sponsor .kicker { display: block; font-size: 1rem; color: var(--muted); }
.sponsor-name { font-weight: 700; }
.logo { margin: 0 0 .75rem; }
.logo a { display: inline-block; border-radius: .75rem; }
.logo img { display: block; max-width: 100%; height: auto; background: #fff; border-radius: .75rem; padding: .75rem 1rem; box-shadow: 0 0 0 1px var(--line); }
.sponsor-link { margin: 0 0 .25rem; font-weight: 600; }
.thanks { margin: .25rem 0 0; color: var(--muted); font-size: .9rem; }
.file h2 { overflow-wrap: anywhere; font-size: 1.35rem; }
.autostart { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; margin: 0 0 .75rem; }
.status { display: flex; align-items: center; gap: .6rem; font-weight: 600; font-size: 1.05rem; margin: 0; }
.countdown { display: inline-grid; place-items: center; min-width: 2rem; height: 2rem; border-radius: 50%; background: var(--accent); color: var(--accent-fg); font-variant-numeric: tabular-nums; }
.countdown:empty { display: none; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem .75rem; margin: 0 0 1rem; }
.button { display: inline-block; padding: .6rem 1.1rem; border-radius: .5rem; background: var(--accent); color: var(--accent-fg); font-weight: 600; text-decoration: none; }
.button:hover { filter: brightness(1.08); }
button.cancel { font: inherit; font-size: .9rem; padding: .25rem .75rem; border-radius: .5rem; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .35rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.hash { font-size: .82rem; overflow-wrap: anywhere; word-break: break-all; }
.others .remember { margin: 0 0 .5rem; display: flex; align-items: center; gap: .5rem; }
.others .remember[hidden] { display: none; }
.others input[type=checkbox] { width: 1.15rem; height: 1.15rem; accent-color: var(--accent); margin: 0; }
.remembered { padding: .5rem .75rem; border-radius: .5rem; background: var(--code-bg); }
.remember-this { margin: 0 0 .75rem; }
.remember-this button { font: inherit; padding: .4rem .9rem; border-radius: .5rem; border: 1px solid var(--accent); background: var(--card); color: var(--accent); font-weight: 600; cursor: pointer; }
ul.choices { list-style: none; margin: 0; padding: 0; border-top: 1px solid var(--line); }
ul.choices li { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; gap: 0 1rem; padding: .6rem .25rem; border-bottom: 1px solid var(--line); }
ul.choices a { font-weight: 500; }
@media (max-width: 30rem) {
  dl.facts { grid-template-columns: 1fr; gap: 0; }
  dl.facts dd { margin-bottom: .5rem; }
  .sponsor h1 { font-size: 1.3rem; }
  section { padding: 1rem; }
}

/* Mirror status */
table { border-collapse: collapse; width: 100%; }
.table-wrap { overflow-x: auto; }
table.listing td:first-child, table.listing caption, h1.path { overflow-wrap: anywhere; word-break: break-all; }
table.listing td:not(:first-child) { white-space: nowrap; }
nav.crumbs, p.wrap { overflow-wrap: anywhere; }
nav.crumbs { margin-bottom: .5rem; }
th, td { text-align: left; vertical-align: top; padding: .5rem .6rem; border-bottom: 1px solid var(--line); }
thead th { white-space: nowrap; font-size: .9rem; }
caption { text-align: left; color: var(--muted); padding: .25rem 0 .5rem; }
table.mirrors { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; border-collapse: separate; border-spacing: 0; overflow: hidden; }
table.mirrors caption { background: var(--bg); }
table.mirrors tbody tr:last-child > * { border-bottom: 0; }
table.mirrors tbody th { font-weight: 600; }
table.mirrors .url { font-weight: 400; overflow-wrap: anywhere; }
th a[data-sort] { color: var(--fg); text-decoration: none; }
th a[data-sort]:hover { text-decoration: underline; }
th .sort-mark::after { content: "\\2195"; margin-left: .3em; color: var(--muted); }
th[aria-sort=ascending] .sort-mark::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort=descending] .sort-mark::after { content: "\\25BC"; color: var(--accent); }
.status-summary { display: flex; flex-wrap: wrap; gap: .35rem; list-style: none; padding: 0; margin: 0 0 1rem; }
.thumb { display: block; width: 120px; height: auto; background: #fff; border-radius: .35rem; padding: .15rem .35rem; box-shadow: 0 0 0 1px var(--line); margin-bottom: .25rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .85rem; font-weight: 600; white-space: nowrap; background: var(--idle-bg); color: var(--idle-fg); }
.badge-up { background: var(--up-bg); color: var(--up-fg); }
.badge-syncing, .badge-draining { background: var(--warn-bg); color: var(--warn-fg); }
.badge-down { background: var(--down-bg); color: var(--down-fg); }
meter { display: block; width: 6rem; height: .6rem; margin: .2rem 0; }
.sort-form { display: none; gap: .5rem; align-items: center; flex-wrap: wrap; margin: 0 0 .5rem; }
.sort-form select, .sort-form button { font: inherit; padding: .3rem .5rem; border-radius: .35rem; border: 1px solid var(--line); background: var(--card); color: var(--fg); }
.sort-form button { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); font-weight: 600; }
@media (max-width: 48rem) {
  .sort-form { display: flex; }
  table.mirrors, table.mirrors tbody, table.mirrors tr, table.mirrors th, table.mirrors td { display: block; }
  table.mirrors { border: 0; background: none; overflow: visible; }
  table.mirrors caption { display: block; }
  table.mirrors thead { display: none; }
  table.mirrors tbody tr { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; margin: 0 0 .75rem; padding: .5rem .75rem; display: grid; grid-template-columns: 1fr 1fr; gap: 0 .75rem; }
  table.mirrors tbody tr > * { border: 0; padding: .3rem 0; }
  table.mirrors tbody th { grid-column: 1 / -1; font-size: 1.05rem; }
  table.mirrors td::before { content: attr(data-label); display: block; color: var(--muted); font-size: .8rem; }
}

/* Console: sign-in, staff and provider pages */
body:has(table.staff-mirrors) { --page: 84rem; }
.console-bar { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .5rem 1rem; padding: .25rem 0 .6rem; margin: 0 0 .5rem; border-bottom: 1px solid var(--line); }
.console-links { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; margin: 0; }
.console-links a[aria-current=page] { color: var(--fg); font-weight: 700; text-decoration: none; }
.console-who { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem .75rem; margin: 0; }
.link-button { font: inherit; background: none; border: 0; padding: 0; color: var(--accent); text-decoration: underline; text-underline-offset: .15em; cursor: pointer; }
.flash { padding: .6rem .9rem; border-radius: .5rem; background: var(--code-bg); border-left: 4px solid var(--accent); margin: 0 0 1rem; overflow-wrap: anywhere; }
.flash-done { background: var(--up-bg); color: var(--up-fg); border-left-color: currentColor; }
.flash-error { background: var(--down-bg); color: var(--down-fg); border-left-color: currentColor; }
button.button { border: 0; font: inherit; font-weight: 600; cursor: pointer; }
.button-secondary { font: inherit; font-weight: 600; padding: .55rem 1.05rem; border-radius: .5rem; border: 1px solid var(--accent); background: var(--card); color: var(--accent); cursor: pointer; }
.stack, .inline-form, .accept-form { margin: 0; }
.stack { display: grid; gap: .4rem; max-width: 30rem; }
.stack p { margin: 0; }
.stack button { justify-self: start; margin-top: .25rem; }
.stack input, .inline-form input, .inline-form select, .accept-form input { font: inherit; padding: .3rem .5rem; border-radius: .35rem; border: 1px solid var(--muted); background: var(--card); color: var(--fg); min-width: 0; }
.stack input { width: 100%; padding: .5rem .6rem; }
.inline-form { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem; }
.inline-form input[type=number] { width: 6.5rem; }
.inline-form button { font: inherit; font-size: .9rem; padding: .3rem .7rem; border-radius: .35rem; border: 1px solid var(--accent); background: var(--card); color: var(--accent); font-weight: 600; cursor: pointer; }
.drain-state { margin: 0 0 .35rem; font-size: .9rem; }
table.staff-mirrors { margin: 0 0 1rem; }
table.staff-mirrors td, table.staff-mirrors th { font-size: .95rem; }
dl.glance { display: flex; flex-wrap: wrap; gap: .75rem 2.25rem; margin: 0; }
dl.glance dt { color: var(--muted); font-size: .85rem; }
dl.glance dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
dl.glance dd .meta { font-size: .8rem; font-weight: 400; }
section h3 { font-size: 1.1rem; margin: 0 0 .5rem; }
ul.offer-list { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem; }
li.offer { border: 1px solid var(--line); border-radius: .6rem; padding: .75rem 1rem; }
li.offer h3 { margin: 0 0 .5rem; }
li.offer .note { white-space: pre-line; }
.offer-actions { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .75rem 1.5rem; margin-top: .75rem; padding-top: .75rem; border-top: 1px solid var(--line); }
.accept-form { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .5rem 1rem; }
.accept-form p { display: flex; flex-direction: column; gap: .15rem; margin: 0; }
.accept-form label { font-size: .85rem; color: var(--muted); }
.accept-form input[name=baseUrl] { width: min(24rem, 75vw); }
ul.choose { padding-left: 1.2rem; }
.provider-mirror { display: block; margin: 0 0 1.5rem; }
.provider-mirror > h2 { margin: 1.5rem 0 .75rem; font-size: 1.35rem; }
.chart-figure { margin: 0 0 .5rem; }
svg.chart { display: block; width: 100%; max-width: 640px; height: auto; }
svg.chart .bar { fill: var(--accent); }
svg.chart .chart-bar:hover .bar { fill: var(--fg); }
svg.chart .chart-grid { stroke: var(--line); stroke-width: 1; }
svg.chart .chart-label { fill: var(--muted); font-size: 12px; }
svg.chart .chart-value { fill: var(--fg); font-size: 12px; font-variant-numeric: tabular-nums; }
svg.chart .chart-empty { fill: var(--muted); font-size: 15px; }
details.chart-data summary { cursor: pointer; color: var(--accent); padding: .25rem 0; }
details.chart-data table { margin-top: .5rem; max-width: 30rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.sponsor-preview { margin: 0 0 .5rem; }
.sponsor-preview .sponsor { border: 2px dashed var(--line); border-radius: .75rem; background: var(--card); margin: 0; }
.sponsor-preview .sponsor-title { font-size: 1.5rem; margin: 0 0 1rem; }
.sponsor-preview figcaption { text-align: center; margin-top: .35rem; }
@media (max-width: 30rem) {
  .sponsor-preview .sponsor-title { font-size: 1.3rem; }
  /* The SVG scales down to the screen; its text must not shrink with it below reading size. */
  svg.chart .chart-label, svg.chart .chart-value { font-size: 18px; }
  svg.chart .chart-empty { font-size: 22px; }
}
.badge-pending { background: var(--warn-bg); color: var(--warn-fg); }
button:disabled, select:disabled, input:disabled { opacity: .55; cursor: not-allowed; }
.flash-warn { background: var(--warn-bg); color: var(--warn-fg); border-left-color: currentColor; }
.wrap { overflow-wrap: anywhere; }
fieldset.plain { border: 0; margin: 0; padding: 0; min-width: 0; display: flex; flex-wrap: wrap; align-items: center; gap: .35rem; }
.accept-form fieldset.plain { align-items: flex-end; gap: .5rem 1rem; }
.accept-form p.check { flex-direction: row; align-items: center; gap: .4rem; }
.accept-form p.check input { width: 1.1rem; height: 1.1rem; accent-color: var(--accent); }
.token-value { width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; padding: .5rem .6rem; border-radius: .35rem; border: 1px solid var(--muted); background: var(--code-bg); color: var(--fg); }
.manage-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 15rem), 1fr)); gap: 1rem 1.5rem; }
.manage h4 { margin: 0 0 .35rem; font-size: 1rem; }
.manage p { margin: 0 0 .5rem; }
.manage .inline-form + .inline-form { margin-top: .5rem; }
.manage input[type=file] { font: inherit; font-size: .9rem; max-width: 100%; }
.manage .stack button, .manage .inline-form button { font: inherit; font-size: .9rem; padding: .3rem .7rem; border-radius: .35rem; border: 1px solid var(--accent); background: var(--card); color: var(--accent); font-weight: 600; cursor: pointer; }
ul.audit-list { padding-left: 1.2rem; margin: 0; overflow-wrap: anywhere; }
ul.audit-list li { margin: 0 0 .3rem; }
/* Offer form */
.offer-form { max-width: 36rem; gap: .9rem; }
.offer-form .field { display: grid; gap: .2rem; }
.offer-form label { font-weight: 600; }
.offer-form .help { margin: 0; }
.offer-form input, .offer-form textarea { font: inherit; width: 100%; padding: .5rem .6rem; border-radius: .35rem; border: 1px solid var(--muted); background: var(--card); color: var(--fg); }
.offer-form .field-error input, .offer-form .field-error textarea { border: 2px solid var(--down-fg); }
.field-message { margin: 0; color: var(--down-fg); font-weight: 600; }
#offer-problems ul { margin: .35rem 0 0; padding-left: 1.2rem; }
#offer-problems a { color: inherit; }
/* ?mirrorlist */
ol.ranked, ul.excluded { padding-left: 1.4rem; margin: 0; }
ol.ranked li, ul.excluded li { margin: 0 0 .35rem; overflow-wrap: anywhere; }
code.reason { font-size: .8rem; white-space: nowrap; }
`;

// The download page's enhancements. Where JavaScript runs: a countdown (with Cancel) that then
// starts the download — without JavaScript a <noscript> meta refresh starts it instead, so
// exactly one of the two ever runs — and the "remember my choice" checkbox on the mirror links.
export const DOWNLOAD_SCRIPT = `
(function () {
  'use strict';
  var remember = document.getElementById('remember');
  if (remember) {
    var links = document.querySelectorAll('a[data-mirror]');
    var sync = function () {
      Array.prototype.forEach.call(links, function (a) {
        var url = new URL(a.getAttribute('href'), window.location.href);
        if (remember.checked) url.searchParams.set('remember', '1');
        else url.searchParams.delete('remember');
        a.setAttribute('href', url.pathname + url.search);
      });
    };
    remember.addEventListener('change', sync);
    var box = remember.closest('[hidden]');
    if (box) box.removeAttribute('hidden');
    sync(); // the browser may have restored the box checked (back/forward)
  }

  var status = document.querySelector('.status[data-delay][data-target]');
  if (!status) return;
  var target = status.getAttribute('data-target') || '';
  // The server wrote a mirror or origin URL here; anything but http(s) is not followed.
  if (!/^https?:\\/\\//i.test(target)) return;
  var text = status.querySelector('.status-text') || status;
  var left = Math.max(0, Math.min(60, Math.round(Number(status.getAttribute('data-delay')) || 0)));
  var timer = 0;
  // The live region announces the start and the end; the seconds in between are for the eyes only.
  var count = document.createElement('span');
  count.className = 'countdown';
  count.setAttribute('aria-hidden', 'true');
  status.insertBefore(count, status.firstChild);
  var cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'cancel';
  cancel.textContent = 'Cancel';
  cancel.setAttribute('aria-label', 'Cancel the automatic download');
  // Beside the countdown, outside the live region.
  (status.parentNode || document.body).appendChild(cancel);

  function done(message) {
    count.textContent = '';
    if (cancel.parentNode) cancel.parentNode.removeChild(cancel);
    text.textContent = message;
  }
  cancel.addEventListener('click', function () {
    clearTimeout(timer);
    done('Automatic download cancelled. Use the direct link, or choose another mirror.');
    var direct = document.getElementById('direct-link');
    if (direct) direct.focus();
  });
  function tick() {
    if (left <= 0) {
      done('Starting your download\\u2026');
      window.location.assign(target);
      timer = setTimeout(function () {
        text.textContent = 'Your download should have started. If it has not, use the direct link.';
      }, 4000);
      return;
    }
    count.textContent = String(left);
    left -= 1;
    timer = setTimeout(tick, 1000);
  }
  if (left > 0) text.textContent = 'Your download will start in ' + left + (left === 1 ? ' second.' : ' seconds.');
  tick();
})();
`;

// Sorts the /mirrors table in place when a column heading is clicked. Without JavaScript the
// same headings are links to ?sort=…, which the server answers with the rows in the same order.
export const MIRRORS_SCRIPT = `
(function () {
  'use strict';
  var table = document.querySelector('table[data-sortable]');
  if (!table || !table.tBodies[0] || !window.URL || !window.history) return;
  var tbody = table.tBodies[0];
  var numeric = { status: true, sync: true, share: true, latency: true };
  var defaults = { name: 'asc', country: 'asc', status: 'asc', sync: 'asc', share: 'desc', latency: 'asc' };
  var labels = { name: 'mirror name', country: 'country', status: 'status', sync: 'sync lag', share: 'share of files', latency: 'latency' };
  var live = document.getElementById('sort-status');

  function value(row, key) { return row.getAttribute('data-' + key) || ''; }
  function compare(key, sign) {
    return function (a, b) {
      var va = value(a, key), vb = value(b, key);
      if (va === '' || vb === '') {
        if (va !== vb) return va === '' ? 1 : -1;
      } else {
        var d = numeric[key] ? Number(va) - Number(vb) : va.localeCompare(vb, 'en');
        if (d !== 0) return sign * d;
      }
      return value(a, 'name').localeCompare(value(b, 'name'), 'en');
    };
  }
  function href(key, current, dir) {
    var next = key === current ? (dir === 'asc' ? 'desc' : 'asc') : defaults[key];
    return '/mirrors?sort=' + key + (next === defaults[key] ? '' : '&dir=' + next);
  }
  function sortBy(key, dir) {
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(compare(key, dir === 'asc' ? 1 : -1));
    rows.forEach(function (row) { tbody.appendChild(row); });
    Array.prototype.forEach.call(table.querySelectorAll('thead th[data-sort-key]'), function (th) {
      var k = th.getAttribute('data-sort-key');
      if (k === key) th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      var link = th.querySelector('a[data-sort]');
      if (link) link.setAttribute('href', href(k, key, dir));
    });
    if (live) live.textContent = 'Sorted by ' + labels[key] + ', ' + (dir === 'asc' ? 'ascending' : 'descending') + '.';
  }

  table.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[data-sort]');
    // Modified clicks keep their meaning (new tab, new window).
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var url = new URL(link.href, location.href);
    var key = url.searchParams.get('sort');
    if (!key || !defaults[key]) return;
    event.preventDefault();
    var dir = url.searchParams.get('dir') || defaults[key];
    sortBy(key, dir);
    history.replaceState(null, '', url.pathname + url.search);
  });
})();
`;
