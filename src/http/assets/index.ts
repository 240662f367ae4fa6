// Our own static assets, kept as strings so Node and Workers serve them without a file system.

export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5a6272; --bg: #f7f8fa; --card: #fff; --accent: #1f5fbf; --line: #d9dde4; }
@media (prefers-color-scheme: dark) { :root { --fg: #e7eaf0; --muted: #a3abb9; --bg: #12151b; --card: #1b2029; --accent: #7fb0ff; --line: #2c3340; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
header.site, footer.site { padding: .75rem 1rem; color: var(--muted); }
header.site .brand { font-weight: 700; text-decoration: none; color: var(--fg); }
main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; margin: 0 0 1rem; }
.sponsor { text-align: center; }
.sponsor h1 { font-size: 1.25rem; font-weight: 500; }
.sponsor-name { font-weight: 700; }
.logo img { max-width: 100%; height: auto; background: #fff; border-radius: .5rem; padding: .5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.hash { font-size: .85rem; overflow-wrap: anywhere; }
.status { font-weight: 600; }
.others ul { padding-left: 1.2rem; }
.meta { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
`;

// Counts down where JavaScript runs; the meta refresh starts the download where it does not.
export const DOWNLOAD_SCRIPT = `
(function () {
  var status = document.querySelector('.status[data-delay]');
  if (!status) return;
  var left = Number(status.getAttribute('data-delay')) || 0;
  function tick() {
    if (left <= 0) { status.textContent = 'Your download is starting…'; return; }
    status.textContent = 'Your download will start in ' + left + (left === 1 ? ' second.' : ' seconds.');
    left -= 1;
    setTimeout(tick, 1000);
  }
  tick();
})();
`;
