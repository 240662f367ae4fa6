// axe-core on the pages people see (download page, /mirrors, /), in light and dark: no serious or critical violations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';
import { axeViolations, clientContext, launchChromium, PHONE, screenshot, seriousOnly } from '../support/browser.js';
import { CLIENT_IPS } from '../support/clientIps.js';
import { serveDemo } from '../support/network.js';

const launched = await launchChromium();

const PAGES = [
  { name: 'download', path: '/download/apache/kafka/4.1.0/kafka_2.13-4.1.0.tgz' },
  { name: 'download-remembered', path: '/download/apache/kafka/4.1.0/kafka_2.13-4.1.0.tgz?remember=1&mirror=polder-nl' },
  { name: 'download-origin', path: '/download/libreoffice/testing/26.8.2/deb/x86_64/LibreOffice_26.8.2.1_Linux_x86-64_deb.tar.gz' },
  { name: 'mirrors', path: '/mirrors' },
  { name: 'mirrors-sorted', path: '/mirrors?sort=share' },
  { name: 'home', path: '/' },
] as const;

describe.skipIf(!launched.browser)('accessibility (axe-core)', () => {
  const browser = launched.browser as Browser;
  let server: RunningServer;

  beforeAll(async () => {
    server = await serveDemo();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const cases = PAGES.flatMap((p) => (['light', 'dark'] as const).flatMap((colorScheme) => [false, true].map((phone) => ({ ...p, colorScheme, phone }))));

  it.each(cases)('$name ($colorScheme, phone: $phone)', async ({ name, path, colorScheme, phone }) => {
    // bypassCSP lets axe's script in; it is used for this run only.
    const { context } = await clientContext(browser, server, CLIENT_IPS.DE.ip, { colorScheme, bypassCSP: true, ...(phone ? PHONE : {}) });
    try {
      const page = await context.newPage();
      await page.goto(server.url + path);
      const serious = seriousOnly(await axeViolations(page));
      expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
      if (name === 'home') await screenshot(page, `home-${phone ? 'phone' : 'desktop'}-${colorScheme}`);
    } finally {
      await context.close();
    }
  });
});
