// Headless Chromium for page tests: one launcher, mirror hosts answered in-browser, axe and screenshots (servers come from network.ts).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import type { RunningServer } from '../../src/node.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.resolve('test-artifacts');

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-gpu',
  '--no-first-run',
  '--disable-sync',
];

export type BrowserOrReason = { browser: Browser; reason?: undefined } | { browser?: undefined; reason: string };

/**
 * Launches Chromium, or gives the reason it cannot. Page tests skip with that reason on a
 * developer machine without a browser; on CI (CI=true) a missing browser is a failure.
 */
export async function launchChromium(): Promise<BrowserOrReason> {
  const ci = process.env.CI === 'true';
  if (!existsSync(CHROMIUM_PATH)) {
    const reason = `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
    if (ci) throw new Error(`${reason}: page tests must run on CI`);
    console.warn(`[page tests skipped] ${reason}`);
    return { reason };
  }
  try {
    return { browser: await chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS }) };
  } catch (err) {
    if (ci) throw err;
    const reason = `Chromium at ${CHROMIUM_PATH} did not start: ${(err as Error).message.split('\n')[0]}`;
    console.warn(`[page tests skipped] ${reason}`);
    return { reason };
  }
}

/** A mirror download as the browser saw it. */
export interface MirrorHit {
  url: string;
  /** Request headers as the mirror received them. */
  headers: Record<string, string>;
}

/**
 * A browser context whose client address is `ip` (X-Forwarded-For, which the demo trusts from
 * loopback) and in which every configured mirror and the origin answer in-browser with a small
 * attachment, so a download "starts" without the .example hosts existing. Hits are recorded.
 */
export async function clientContext(
  browser: Browser,
  server: RunningServer,
  ip: string,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; hits: MirrorHit[] }> {
  const context = await browser.newContext({ ...options, extraHTTPHeaders: { 'X-Forwarded-For': ip, ...options.extraHTTPHeaders } });
  const hits: MirrorHit[] = [];
  const bases = [...server.config.mirrors.map((m) => m.baseUrl), server.config.origin.baseUrl];
  await context.route(
    (url) => bases.some((b) => url.href.startsWith(b)),
    async (route) => {
      const request = route.request();
      hits.push({ url: request.url(), headers: request.headers() });
      const name = decodeURIComponent(new URL(request.url()).pathname.split('/').pop() ?? 'file');
      await route.fulfill({
        status: 200,
        contentType: 'application/octet-stream',
        headers: { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}` },
        body: 'mirrored bytes\n',
      });
    },
  );
  return { context, hits };
}

/** The configured mirror whose baseUrl starts `url`, if any. */
export function mirrorForUrl(server: RunningServer, url: string): string | undefined {
  return server.config.mirrors.find((m) => url.startsWith(m.baseUrl))?.id;
}

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core in the page. The page's CSP forbids injected scripts, so the context must have
 * been created with bypassCSP: true (only for this: other tests keep the real CSP).
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE_PATH });
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: Document,
            opts: object,
          ): Promise<{ violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }>;
        };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

export function seriousOnly(violations: AxeViolation[]): AxeViolation[] {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};
