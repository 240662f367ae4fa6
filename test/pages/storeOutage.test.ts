// While the shared store is away (a redis-server of the test's own, killed), staff still read: /staff opens
// read-only with a banner (axe-clean at 1280 and 390 px), `offers list` and `audit` answer from the instance's
// last copy, `stats` says it cannot answer — none of them says "cannot save changes", which only changes do.
// When Redis comes back empty, the instance writes back what it holds.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { runCli } from '../cli/cliRun.js';
import { axeViolations, launchChromium, PHONE, screenshot, seriousOnly } from '../support/browser.js';
import { STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import type { RedisServerProcess } from '../support/redis.js';
import { choice, client, submitOffer } from '../support/requests.js';

const launched = await launchChromium();

describe.skipIf(!launched.browser)('staff during a store outage', () => {
  const browser = launched.browser as Browser;
  let net: MirrorNetwork;
  let redis: RedisServerProcess;
  let server: RunningServer;
  let context: BrowserContext;
  let offerId: string;

  const cli = (args: string[]) => runCli(args, { env: { MIRRORGATE_URL: server.url, MIRRORGATE_TOKEN: STAFF_TOKEN } });

  beforeAll(async () => {
    net = await startNetwork();
    redis = await net.startRedisServer();
    server = await net.startServer({ env: { REDIS_URL: redis.url } });
    const staff = client(server.url, STAFF_TOKEN);
    expect((await staff.post('/admin/v1/mirrors/de-berlin/drain')).status).toBe(200);
    offerId = (await submitOffer(server.url, { organisation: 'Outage Networks', location: { country: 'IS' }, storageTB: 9, bandwidthMbps: 160 })).json.id;
    context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Access token').fill(STAFF_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/staff`);
    await page.close();

    await redis.kill();
    await vi.waitFor(async () => expect((await fetch(`${server.url}/readyz`)).status).toBe(503), { timeout: 10_000, interval: 100 });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await net?.close();
  });

  it('/staff opens read-only with a banner, from what the instance last read; its controls are off', async () => {
    const page = await context.newPage();
    const res = await page.goto(`${server.url}/staff`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('.banner').innerText()).toContain('Read-only for now');
    expect(await page.locator('#staff-mirror-de-berlin').innerText()).toContain('Drained');
    expect(await page.locator(`#offer-${offerId}`).innerText()).toContain('Outage Networks');
    for (const button of await page.locator('table.staff-mirrors button, li.offer button').all()) expect(await button.isDisabled()).toBe(true);
    expect(await page.locator('.glance').innerText()).toContain('not available');
    await screenshot(page, 'staff-read-only-desktop');
    await page.close();
  });

  it('a change sent anyway is refused with a plain reason, and downloads go on', async () => {
    const res = await fetch(`${server.url}/admin/v1/mirrors/fr-paris/drain`, { method: 'POST', headers: { Authorization: `Bearer ${STAFF_TOKEN}` } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/cannot be saved/);
    expect(await choice(server.url, 'DE')).not.toBe('de-berlin');
  });

  it.each([false, true])('the read-only /staff is axe-clean (phone: %s)', async (phone) => {
    const page = await context.newPage();
    if (phone) await page.setViewportSize({ width: PHONE.viewport!.width, height: PHONE.viewport!.height });
    else await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.url}/staff`);
    const serious = seriousOnly(await axeViolations(page));
    expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
    if (phone) expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await page.close();
  });

  it('read-only commands never say "cannot save changes": offers list and audit answer, stats says it cannot', { timeout: 60_000 }, async () => {
    const [offers, audit, stats, drain] = await Promise.all([
      cli(['offers', 'list']),
      cli(['audit', '--action', 'drain']),
      cli(['stats']),
      cli(['mirrors', 'drain', 'fr-paris']),
    ]);
    expect(offers.code).toBe(0);
    expect(offers.stdout).toContain('Outage Networks');
    expect(offers.stderr).toContain('these offers are as it last read them');
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/mirror\.drain\s+mirror:de-berlin/);
    expect(audit.stderr).toContain('the newest entries it holds itself');
    expect(stats.code).toBe(7);
    expect(stats.stderr).toMatch(
      /^mirrorgate: the server cannot answer this right now: the shared store is unreachable, so statistics cannot be read right now/,
    );
    for (const run of [offers, audit, stats]) expect(run.stdout + run.stderr).not.toContain('cannot save changes');
    // A change does say it.
    expect(drain.code).toBe(7);
    expect(drain.stderr).toContain('the server cannot save changes right now');
  });

  it('when Redis comes back empty, the instance writes back what it holds and the console is whole again', async () => {
    await redis.restart();
    const staff = client(server.url, STAFF_TOKEN);
    await vi.waitFor(async () => expect((await fetch(`${server.url}/readyz`)).status).toBe(200), { timeout: 10_000, interval: 100 });
    // A second instance, started on the restarted Redis, can only know what was written back.
    const other = await net.startServer({ env: { REDIS_URL: redis.url } });
    try {
      const s2 = client(other.url, STAFF_TOKEN);
      await vi.waitFor(async () => expect((await s2.get('/admin/v1/mirrors/de-berlin')).json.drain).toMatchObject({ overMs: 0 }), {
        timeout: 5_000,
        interval: 100,
      });
      expect(((await s2.get('/admin/v1/offers')).json.offers as { id: string }[]).map((o) => o.id)).toContain(offerId);
      expect(((await s2.get('/admin/v1/audit?action=drain')).json.entries as { target: string }[]).map((e) => e.target)).toContain('mirror:de-berlin');
      expect(await choice(other.url, 'DE')).not.toBe('de-berlin');
    } finally {
      await net.stopServer(other);
    }
    // The session made before the outage still signs staff in (written back too), with no banner.
    const page: Page = await context.newPage();
    await page.goto(`${server.url}/staff`);
    expect(page.url()).toBe(`${server.url}/staff`);
    expect(await page.locator('.banner').count()).toBe(0);
    expect(await page.locator('table.staff-mirrors button').first().isDisabled()).toBe(false);
    await page.close();
    expect((await staff.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
  });
});
