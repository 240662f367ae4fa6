// The staff and provider console in headless Chromium: sign-in, drain/undrain/weight and offers on /staff (the next
// download avoids a drained mirror; every change audited under the token's name), /provider's charts and logo
// preview, role checks, CSRF refusals, and axe-core on /login, /staff and /provider.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { serve, type RunningServer } from '../../src/node.js';
import { axeViolations, launchChromium, PHONE, screenshot, seriousOnly } from '../support/browser.js';
import { CLIENT_IPS } from '../support/clientIps.js';

const launched = await launchChromium();

const STAFF = 'console-staff-token-7f3a9c1e5b';
const PROVIDER = 'console-provider-token-2d8e4b6a0c';
const STAFF_NAME = 'ops-console';
const PROVIDER_NAME = 'frankfurt-provider';
const FILES = ['pub/a.iso', 'pub/b.iso', 'pub/c.iso', 'pub/d.iso', 'pub/e.iso', 'pub/f.iso'];
const SPONSOR = 'Main & Söhne <Hosting>';

const OFFERS = {
  accept: { organisation: 'Fjord & Fell Networks', country: 'SE', city: 'Umeå', baseUrl: 'https://mirror.fjord.example/pub/' },
  reject: { organisation: 'Dubious Bytes', country: 'FR', city: 'Lille', baseUrl: 'https://mirror.dubious.example/' },
  noUrl: { organisation: 'Kiwi Cloud', country: 'NZ', city: 'Wellington', baseUrl: undefined },
} as const;

describe.skipIf(!launched.browser)('staff and provider console in Chromium', () => {
  const browser = launched.browser as Browser;
  let dir: string;
  let running: RunningServer;
  const contexts: BrowserContext[] = [];
  const offerIds: Record<keyof typeof OFFERS, string> = { accept: '', reject: '', noUrl: '' };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-console-'));
    await writeFile(
      path.join(dir, 'manifest.jsonl'),
      FILES.map((p, i) => JSON.stringify({ path: p, size: 1_000_000 * (i + 1), mtime: 1_767_225_600 })).join('\n') + '\n',
    );
    await copyFile(path.resolve('data/logos/mainbruecke-de.svg'), path.join(dir, 'frankfurt.svg'));
    const config = {
      publicUrl: 'http://localhost:8080',
      allowPrivateMirrorAddresses: true,
      dataDir: './var',
      trustedProxies: ['127.0.0.1/32', '::1/128'],
      tokens: [
        { token: 'env:CONSOLE_STAFF_TOKEN', role: 'staff', name: STAFF_NAME },
        { token: 'env:CONSOLE_PROVIDER_TOKEN', role: 'provider', mirrors: ['frankfurt-de'], name: PROVIDER_NAME },
      ],
      origin: { baseUrl: 'https://origin.console.example/pub/', manifest: 'manifest.jsonl' },
      health: { enabled: false },
      mirrors: [
        {
          id: 'frankfurt-de',
          name: 'Frankfurt <Main> Mirror',
          baseUrl: 'http://127.0.0.1:9/frankfurt/',
          country: 'DE',
          lat: 50.11,
          lon: 8.68,
          weight: 100,
          sponsor: { name: SPONSOR, url: 'https://main-soehne.example', logo: 'frankfurt.svg' },
        },
        { id: 'amsterdam-nl', name: 'Amsterdam Mirror', baseUrl: 'http://127.0.0.1:9/amsterdam/', country: 'NL', lat: 52.37, lon: 4.9, weight: 100 },
        { id: 'boston-us', name: 'Boston Mirror', baseUrl: 'http://127.0.0.1:9/boston/', country: 'US', lat: 42.36, lon: -71.06, weight: 100 },
      ],
    };
    const configPath = path.join(dir, 'mirrorgate.yaml');
    await writeFile(configPath, stringify(config));
    running = await serve({
      configPath,
      port: 0,
      hostname: '127.0.0.1',
      logLevel: 'silent',
      env: { CONSOLE_STAFF_TOKEN: STAFF, CONSOLE_PROVIDER_TOKEN: PROVIDER },
    });

    for (const [key, o] of Object.entries(OFFERS) as [keyof typeof OFFERS, (typeof OFFERS)[keyof typeof OFFERS]][]) {
      const res = await fetch(`${running.url}/api/v1/offers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          contact: { name: `Admin of ${o.organisation}`, email: `noc@${key.toLowerCase()}.example` },
          organisation: o.organisation,
          location: { country: o.country, city: o.city },
          storageTB: 12,
          bandwidthMbps: 1000,
          peerings: 'DE-CIX, AMS-IX',
          ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
        }),
      });
      expect(res.status).toBe(201);
      offerIds[key] = ((await res.json()) as { id: string }).id;
    }
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context.newPage();
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${running.url}/login`);
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/(staff|provider)$/);
  }

  const staffPage = async (options: BrowserContextOptions = {}) => {
    const page = await newPage(options);
    await signIn(page, STAFF);
    return page;
  };

  /** A download by a tool (GET, no text/html): the mirror it was sent to. */
  async function downloadFrom(ip: string, file = FILES[0]!, query = ''): Promise<string | null> {
    const res = await fetch(`${running.url}/download/${file}${query}`, { headers: { Accept: '*/*', 'X-Forwarded-For': ip }, redirect: 'manual' });
    await res.arrayBuffer();
    expect(res.status).toBe(302);
    return res.headers.get('x-mirrorgate-mirror');
  }

  const api = async (target: string, token = STAFF) => {
    const res = await fetch(`${running.url}${target}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
    expect(res.status).toBe(200);
    return res.json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  const flash = (page: Page) => page.locator('.flash').first().innerText();
  const row = (page: Page, id: string) => page.locator(`#staff-mirror-${id}`);

  it('sends anonymous visitors to sign in, and refuses a wrong token with a clear 401', async () => {
    for (const target of ['/staff', '/provider']) {
      const res = await fetch(`${running.url}${target}`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/login');
    }
    const page = await newPage();
    await page.goto(`${running.url}/login`);
    await page.getByLabel('Access token').fill('not-the-right-token-at-all');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${running.url}/login` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(response.status()).toBe(401);
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('That token was not recognised');
    const html = await page.content();
    expect(html).not.toContain('not-the-right-token-at-all');
    expect(await page.getByLabel('Access token').inputValue()).toBe('');
    expect((await page.context().cookies()).some((c) => c.name === 'mirrorgate_session')).toBe(false);
    await screenshot(page, 'console-login-error');
  });

  it('signs staff in with an HttpOnly, SameSite=Strict session; /staff lists every mirror and the pending offers', async () => {
    const page = await staffPage();
    expect(page.url()).toBe(`${running.url}/staff`);
    // An opaque random id (never the token), sent only to the console's paths.
    const sessions = (await page.context().cookies()).filter((c) => c.name === 'mirrorgate_session');
    expect(sessions.map((c) => c.path).sort()).toEqual(['/login', '/logout', '/provider', '/staff']);
    for (const session of sessions) {
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });
      expect(session.value).toMatch(/^[\w-]{43}$/);
      expect(session.value).not.toContain(STAFF);
      expect(session.expires - Date.now() / 1000).toBeGreaterThan(11.9 * 3600);
    }
    expect(new Set(sessions.map((c) => c.value)).size).toBe(1);

    const ids = await page.locator('table.staff-mirrors tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-mirror')));
    expect(ids).toEqual(['frankfurt-de', 'amsterdam-nl', 'boston-us']);
    const frankfurt = await row(page, 'frankfurt-de').innerText();
    // Escaped, shown as text.
    expect(frankfurt).toContain('Frankfurt <Main> Mirror');
    expect(frankfurt).toContain('Germany');
    expect(frankfurt).toContain('Not confirmed yet');
    expect(frankfurt).toContain('100.0%');
    expect(await row(page, 'frankfurt-de').getByLabel('Weight of Frankfurt <Main> Mirror').inputValue()).toBe('100');
    expect(await page.locator('.status-summary').innerText()).toContain('Not confirmed yet: 3');

    const offers = page.locator('li.offer');
    expect(await offers.count()).toBe(3);
    const fjord = await page.locator(`#offer-${offerIds.accept}`).innerText();
    expect(fjord).toContain('Fjord & Fell Networks');
    expect(fjord).toContain('noc@accept.example');
    expect(fjord).toMatch(/Umeå, Sweden/);
    expect(fjord).toContain('12 TB');
    expect(fjord).toContain('1,000 Mbps');
    expect(fjord).toMatch(/\d{4}-\d{2}-\d{2}/);
    expect(await page.locator(`#offer-${offerIds.accept}`).getByLabel('Base URL').inputValue()).toBe(OFFERS.accept.baseUrl);

    const html = await page.content();
    expect(html).not.toContain(STAFF);
    expect(html).not.toContain(PROVIDER);
    await screenshot(page, 'console-staff-desktop-light');
  });

  it('drains a mirror with the form so the next download avoids it, and undrains it back', async () => {
    const DE = CLIENT_IPS.DE.ip;
    expect(await downloadFrom(DE)).toBe('frankfurt-de');

    const page = await staffPage();
    await row(page, 'frankfurt-de').getByLabel('How to drain Frankfurt <Main> Mirror').selectOption('0');
    await row(page, 'frankfurt-de').getByRole('button', { name: 'Drain Frankfurt <Main> Mirror' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await page.getByRole('status').filter({ hasText: 'draining' }).innerText()).toContain('Frankfurt <Main> Mirror is draining at once');
    expect(await row(page, 'frankfurt-de').innerText()).toMatch(/Draining[\s\S]*Drained/);

    const next = await downloadFrom(DE);
    expect(next).not.toBe('frankfurt-de');
    expect(next).toBe('amsterdam-nl');
    expect((await api('/admin/v1/mirrors/frankfurt-de')).drain).not.toBeNull();

    // The flash is shown once.
    await page.reload();
    expect(await page.locator('.flash').count()).toBe(0);

    await row(page, 'frankfurt-de').getByRole('button', { name: 'Undrain Frankfurt <Main> Mirror' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await flash(page)).toContain('Frankfurt <Main> Mirror takes downloads again');
    expect(await downloadFrom(DE)).toBe('frankfurt-de');
    expect(await row(page, 'frankfurt-de').innerText()).toContain('Taking downloads');

    // A ramp: draining over ten minutes, shown as such.
    await row(page, 'boston-us').getByLabel('How to drain Boston Mirror').selectOption('10m');
    await row(page, 'boston-us').getByRole('button', { name: 'Drain Boston Mirror' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await row(page, 'boston-us').innerText()).toContain('Ramping down over 10 min');
    expect((await api('/admin/v1/mirrors/boston-us')).drain.overMs).toBe(600_000);
    await screenshot(page, 'console-staff-draining');
    await row(page, 'boston-us').getByRole('button', { name: 'Undrain Boston Mirror' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect((await api('/admin/v1/mirrors/boston-us')).drain).toBeNull();
  });

  it('changes a weight, and says so when the weight is not a whole number', async () => {
    const page = await staffPage();
    const input = row(page, 'amsterdam-nl').getByLabel('Weight of Amsterdam Mirror');
    await input.fill('250');
    await row(page, 'amsterdam-nl').getByRole('button', { name: 'Save weight of Amsterdam Mirror' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await flash(page)).toContain('Weight of Amsterdam Mirror is now 250');
    expect(await row(page, 'amsterdam-nl').getByLabel('Weight of Amsterdam Mirror').inputValue()).toBe('250');
    expect((await api('/admin/v1/mirrors/amsterdam-nl')).spec.weight).toBe(250);

    // The server checks too (a script or an old browser may skip the input's own checks).
    const res = await fetch(`${running.url}/staff/mirrors/amsterdam-nl/weight`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${STAFF}`, Origin: running.url, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'weight=1.5',
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(decodeURIComponent(res.headers.get('set-cookie') ?? '')).toContain('must be a whole number');
    expect((await api('/admin/v1/mirrors/amsterdam-nl')).spec.weight).toBe(250);
  });

  it('accepts and rejects offers, and shows why an accept failed', async () => {
    const page = await staffPage();

    // Without a base URL the mirror cannot be created: the validation error is shown, the offer stays.
    const kiwi = page.locator(`#offer-${offerIds.noUrl}`);
    await kiwi.getByRole('button', { name: 'Accept the offer from Kiwi Cloud' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await page.getByRole('alert').innerText()).toMatch(/Kiwi Cloud was not accepted: baseUrl/);
    expect(await page.locator(`#offer-${offerIds.noUrl}`).count()).toBe(1);
    await page.locator(`#offer-${offerIds.noUrl}`).getByLabel('Base URL').fill('https://mirror.kiwi.example/pub/');
    // Without a token this time: the outcome is flashed on /staff.
    await page.locator(`#offer-${offerIds.noUrl}`).getByLabel("Issue the provider's token (shown once)").uncheck();
    await page.locator(`#offer-${offerIds.noUrl}`).getByRole('button', { name: 'Accept the offer from Kiwi Cloud' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await flash(page)).toContain('Accepted the offer from Kiwi Cloud. Mirror kiwi-cloud-nz is syncing');

    // With the provider's token (checked by default): shown once, on the answer itself.
    await page.locator(`#offer-${offerIds.accept}`).getByRole('button', { name: 'Accept the offer from Fjord & Fell Networks' }).click();
    await page.waitForURL(`${running.url}/staff/offers/${offerIds.accept}/accept`);
    expect(await page.locator('h1').innerText()).toBe('Offer accepted');
    expect(await page.getByRole('status').innerText()).toContain('Mirror fjord-fell-networks-se is syncing');
    const issued = await page.getByLabel('Token for fjord-fell-networks-se').inputValue();
    expect(issued).toMatch(/^mgt_[\w-]{43}$/);
    const mine = (await api('/admin/v1/mirrors', issued)).mirrors as { spec: { id: string; sponsor?: { name: string } } }[];
    expect(mine.map((m) => m.spec.id)).toEqual(['fjord-fell-networks-se']);
    expect(mine[0]!.spec.sponsor).toEqual({ name: 'Fjord & Fell Networks' });
    await page.goto(`${running.url}/staff`);
    expect(await row(page, 'fjord-fell-networks-se').innerText()).toContain('Syncing');

    await page.locator(`#offer-${offerIds.reject}`).getByRole('button', { name: 'Reject the offer from Dubious Bytes' }).click();
    await page.waitForURL(`${running.url}/staff`);
    expect(await flash(page)).toContain('Rejected the offer from Dubious Bytes');
    expect(await page.locator('li.offer').count()).toBe(0);
    expect(await page.locator('#offers-heading + p').innerText()).toContain('No offers are waiting');

    const offers = (await api('/admin/v1/offers')).offers as { id: string; status: string; decidedBy?: string; mirrorId?: string }[];
    const byId = new Map(offers.map((o) => [o.id, o]));
    expect(byId.get(offerIds.accept)).toMatchObject({ status: 'accepted', decidedBy: STAFF_NAME, mirrorId: 'fjord-fell-networks-se' });
    expect(byId.get(offerIds.noUrl)).toMatchObject({ status: 'accepted', decidedBy: STAFF_NAME, mirrorId: 'kiwi-cloud-nz' });
    expect(byId.get(offerIds.reject)).toMatchObject({ status: 'rejected', decidedBy: STAFF_NAME });
    expect((await api('/admin/v1/mirrors/fjord-fell-networks-se')).spec.baseUrl).toBe(OFFERS.accept.baseUrl);
  });

  it('audits every change under the token’s name', async () => {
    const { entries } = (await api('/admin/v1/audit')) as { entries: { actor: string; action: string; target: string }[] };
    const ours = entries.filter((e) => !e.action.startsWith('offer.create'));
    const actions = new Set(ours.map((e) => `${e.action} ${e.target.startsWith('token:') ? 'token:' : e.target}`));
    for (const expected of [
      'mirror.drain mirror:frankfurt-de',
      'mirror.undrain mirror:frankfurt-de',
      'mirror.drain mirror:boston-us',
      'mirror.update mirror:amsterdam-nl',
      `offer.accept offer:${offerIds.accept}`,
      `offer.reject offer:${offerIds.reject}`,
      'mirror.add mirror:fjord-fell-networks-se',
      'token.issue token:',
    ]) {
      expect(actions, expected).toContain(expected);
    }
    expect(new Set(ours.map((e) => e.actor))).toEqual(new Set([STAFF_NAME]));
  });

  it('refuses state-changing POSTs from another origin (CSRF) and changes nothing', async () => {
    const drain = (headers: Record<string, string>) =>
      fetch(`${running.url}/staff/mirrors/frankfurt-de/drain`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${STAFF}`, 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body: 'over=0',
        redirect: 'manual',
      });
    expect((await drain({ Origin: 'https://evil.example' })).status).toBe(403);
    expect((await drain({ Origin: 'null' })).status).toBe(403);
    expect((await drain({})).status).toBe(403);
    expect((await drain({ Referer: 'https://evil.example/staff' })).status).toBe(403);
    const login = await fetch(`${running.url}/login`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${STAFF}`,
      redirect: 'manual',
    });
    expect(login.status).toBe(403);
    expect(login.headers.get('set-cookie')).toBeNull();
    expect((await api('/admin/v1/mirrors/frankfurt-de')).drain).toBeNull();

    // A signed-in browser tricked into posting from another site.
    const page = await staffPage();
    await page.context().route('http://evil.test/**', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><title>win a prize</title><form method="post" action="${running.url}/staff/mirrors/frankfurt-de/drain"><input type="hidden" name="over" value="0"><button>Claim</button></form>`,
      }),
    );
    await page.goto('http://evil.test/prize');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/staff/mirrors/frankfurt-de/drain')),
      page.getByRole('button', { name: 'Claim' }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(await page.locator('body').innerText()).toContain('nothing was changed');
    expect((await api('/admin/v1/mirrors/frankfurt-de')).drain).toBeNull();
    expect(await downloadFrom(CLIENT_IPS.DE.ip)).toBe('frankfurt-de');
  });

  it('shows a provider its own mirror only: status, charts of downloads by day and country, impressions, logo preview', async () => {
    // Downloads from five countries, sent to the provider's mirror; two browser downloads show its logo.
    const sent: [keyof typeof CLIENT_IPS, number][] = [
      ['DE', 4],
      ['FR', 3],
      ['GB', 2],
      ['US_EAST', 1],
      ['JP', 1],
    ];
    for (const [who, n] of sent) {
      for (let i = 0; i < n; i++) expect(await downloadFrom(CLIENT_IPS[who].ip, FILES[i + 1]!, '?mirror=frankfurt-de')).toBe('frankfurt-de');
    }
    for (const who of ['SE', 'NL'] as const) {
      const res = await fetch(`${running.url}/download/${FILES[5]}?mirror=frankfurt-de`, {
        headers: { Accept: 'text/html', 'X-Forwarded-For': CLIENT_IPS[who].ip },
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    await running.stats.flush();
    const stats = await api('/admin/v1/stats', PROVIDER);
    expect(stats.totals.impressions).toBe(2);

    const page = await newPage();
    await signIn(page, PROVIDER);
    expect(page.url()).toBe(`${running.url}/provider`);
    expect(await page.locator('h1').innerText()).toBe('Frankfurt <Main> Mirror');
    const articles = await page.locator('article.provider-mirror').evaluateAll((els) => els.map((e) => e.getAttribute('data-mirror')));
    expect(articles).toEqual(['frankfurt-de']);
    const main = await page.locator('main').innerText();
    expect(main).not.toContain('Amsterdam');
    expect(main).not.toContain('Boston');
    expect(main).toMatch(/Downloads, 30 days\s*(\d+)/);
    expect(Number(/Downloads, 30 days\s*(\d+)/.exec(main)![1])).toBe(stats.totals.downloads);
    expect(main).toMatch(/Logo impressions, 30 days\s*2\b/);
    expect(main).toContain('Not confirmed yet');
    expect(main).toContain('100.0%');

    // By day: 30 bars, today's drawn.
    const days = page.locator('svg.chart-columns');
    expect(await days.getAttribute('role')).toBe('img');
    expect(await days.locator('> title').textContent()).toContain('Downloads from Frankfurt <Main> Mirror by day');
    const heights = await days.locator('rect.bar').evaluateAll((rs) => rs.map((r) => (r as SVGRectElement).getBBox().height));
    expect(heights).toHaveLength(30);
    // Today's bar (or yesterday's, should the test straddle midnight UTC) is drawn; the rest are empty.
    expect(heights.slice(-2).some((h) => h > 0)).toBe(true);
    expect(heights.slice(0, -2).every((h) => h === 0)).toBe(true);

    // By country: one bar per country, largest first.
    const countries = page.locator('svg.chart-bars');
    const widths = await countries.locator('rect.bar').evaluateAll((rs) => rs.map((r) => (r as SVGRectElement).getBBox().width));
    expect(widths.length).toBeGreaterThanOrEqual(5);
    expect(widths).toEqual([...widths].sort((a, b) => b - a));
    expect(await countries.locator('text.chart-label').first().textContent()).toBe('Germany');
    // The table fallback says the same.
    await page.getByText('Downloads by country, as a table').click();
    const table = await page.locator('details.chart-data').nth(1).locator('table').innerText();
    expect(table).toMatch(/Germany\s+\d+/);
    expect(table).toMatch(/France\s+3/);
    expect(table).toMatch(/Japan\s+1/);

    // The logo as downloaders see it.
    const logo = page.locator('.sponsor-preview img');
    await expect.poll(() => logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(await logo.getAttribute('alt')).toBe(`${SPONSOR} logo`);
    expect(await page.locator('.sponsor-preview .sponsor-name').innerText()).toBe(SPONSOR);
    expect(await page.content()).not.toContain(PROVIDER);
    await screenshot(page, 'console-provider-desktop-light');

    // Not the staff page, and not another provider's mirror.
    const staff = await page.goto(`${running.url}/staff`);
    expect(staff?.status()).toBe(403);
    expect(await page.getByRole('alert').innerText()).toContain('needs a staff token');
    expect((await page.goto(`${running.url}/provider?mirror=amsterdam-nl`))?.status()).toBe(403);
    const post = await fetch(`${running.url}/staff/mirrors/frankfurt-de/drain`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${PROVIDER}`, Origin: running.url, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'over=0',
      redirect: 'manual',
    });
    expect(post.status).toBe(403);
    expect((await api('/admin/v1/mirrors/frankfurt-de')).drain).toBeNull();
  });

  it('lets staff open any mirror’s provider page', async () => {
    const page = await staffPage();
    await page.goto(`${running.url}/provider`);
    await page.getByRole('link', { name: 'Amsterdam Mirror' }).click();
    await page.waitForURL(/\/provider\?mirror=amsterdam-nl$/);
    expect(await page.locator('h1').innerText()).toBe('Amsterdam Mirror');
    expect(await page.locator('.sponsor-preview').count()).toBe(0);
    expect(await page.locator('main').innerText()).toContain('no sponsor configured');
    expect((await page.goto(`${running.url}/provider?mirror=no-such-mirror`))?.status()).toBe(404);
  });

  it('signs out', async () => {
    const page = await staffPage();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login\?signedout$/);
    expect(await page.getByRole('status').first().innerText()).toContain('signed out');
    expect((await page.context().cookies()).some((c) => c.name === 'mirrorgate_session')).toBe(false);
    await page.goto(`${running.url}/staff`);
    expect(page.url()).toBe(`${running.url}/login`);
  });

  describe('accessibility (axe-core)', () => {
    const cases = (['login', 'staff', 'provider'] as const).flatMap((name) =>
      (['light', 'dark'] as const).flatMap((colorScheme) => [false, true].map((phone) => ({ name, colorScheme, phone }))),
    );
    it.each(cases)('$name ($colorScheme, phone: $phone)', async ({ name, colorScheme, phone }) => {
      // bypassCSP lets axe's script in; it is used for this run only.
      const page = await newPage({ colorScheme, bypassCSP: true, ...(phone ? PHONE : {}) });
      if (name === 'staff') await signIn(page, STAFF);
      if (name === 'provider') await signIn(page, PROVIDER);
      await page.goto(`${running.url}/${name}`);
      const serious = seriousOnly(await axeViolations(page));
      expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
      if (phone) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow).toBeLessThanOrEqual(0);
      }
      if (colorScheme === 'dark' || phone) await screenshot(page, `console-${name}-${phone ? 'phone' : 'desktop'}-${colorScheme}`);
    });

    it.each([false, true])('the page showing a provider token once, after an accept (phone: %s)', async (phone) => {
      const organisation = phone ? 'Phone Accept Networks' : 'Desk Accept Networks';
      const res = await fetch(`${running.url}/api/v1/offers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': phone ? '198.51.100.201' : '198.51.100.202' },
        body: JSON.stringify({
          contact: { name: 'A', email: 'a@accept.example' },
          organisation,
          location: { country: 'PL' },
          storageTB: 9,
          bandwidthMbps: 200,
          baseUrl: 'https://accept.example/pub/',
        }),
      });
      const { id } = (await res.json()) as { id: string };
      const page = await newPage({ bypassCSP: true, ...(phone ? PHONE : {}) });
      await signIn(page, STAFF);
      await page
        .locator(`#offer-${id}`)
        .getByRole('button', { name: `Accept the offer from ${organisation}` })
        .click();
      await page.waitForURL(`${running.url}/staff/offers/${id}/accept`);
      expect(await page.locator('.token-value').inputValue()).toMatch(/^mgt_/);
      const serious = seriousOnly(await axeViolations(page));
      expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
      if (phone) expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
      await screenshot(page, `console-token-issued-${phone ? 'phone' : 'desktop'}`);
    });
  });
});
