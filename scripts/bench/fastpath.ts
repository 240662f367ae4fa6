// What-if prototype, not the product: the 302 path written straight on node:http, calling Mirrorgate's own
// core (the same parse, client facts, decide and presentation as src/http/download.ts) with the headers as one
// plain object, no Hono, no undici Headers. Everything that is not a plain redirect answers 404 here.
// Used by the bench to size the fix it proposes ("a Node fast path for the 302"); with --geo-cache, client
// facts are also memoised per (peer, X-Forwarded-For), to size the second fix.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { loadOriginIndex } from '../../src/control/origin.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide } from '../../src/core/decide.js';
import type { ClientFacts } from '../../src/core/model.js';
import { parseDownloadPath } from '../../src/core/paths.js';
import { originUrl, rankedMirrors } from '../../src/core/present.js';
import { createTrustedProxies, resolveClientAddress } from '../../src/geo/clientAddress.js';
import { openLocator } from '../../src/geo/maxmindLocator.js';
import { mirrorSpecs } from '../../src/node.js';
import { benchConfig } from './server.js';

/** The security headers secureHeaders() adds, as constants: they never change per request. */
const FIXED_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  vary: 'Accept',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'strict-transport-security': 'max-age=15552000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

export async function startFastPath(dir: string, geoCache: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const config = await loadConfig(await benchConfig(dir));
  const quiet = { info() {}, warn() {}, error() {} };
  const files = await loadOriginIndex(config.origin, config.dataDir, quiet);
  const builder = new SnapshotBuilder({
    mirrors: mirrorSpecs(config),
    files,
    originBaseUrl: config.origin.baseUrl,
    routing: { bandKm: config.routing.bandKm, maxAlternatives: config.routing.maxAlternatives, maxLagSeconds: config.health.maxLagMs / 1000 },
  });
  const locator = await openLocator(config.geoip);
  const trusted = createTrustedProxies(config.trustedProxies);
  const cache = new Map<string, ClientFacts>();

  const factsOf = (req: IncomingMessage): ClientFacts => {
    const peer = req.socket.remoteAddress ?? '0.0.0.0';
    const xff = req.headers['x-forwarded-for'];
    const key = geoCache ? `${peer}|${xff ?? ''}` : '';
    const hit = geoCache ? cache.get(key) : undefined;
    if (hit) return hit;
    const { ip, https } = resolveClientAddress(peer, typeof xff === 'string' ? xff : undefined, undefined, false, trusted);
    const facts = { ip, https, ...locator.lookup(ip) };
    if (geoCache) {
      if (cache.size >= 10_000) cache.delete(cache.keys().next().value!);
      cache.set(key, facts);
    }
    return facts;
  };

  let requestNo = 0;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method !== 'GET' || !url.startsWith('/download/') || url.includes('?') || (req.headers.accept ?? '').includes('text/html')) {
      return void res.writeHead(404).end();
    }
    const parsed = parseDownloadPath(url.slice('/download/'.length));
    if (!parsed.ok) return void res.writeHead(400).end();
    const snapshot = builder.current();
    const client = factsOf(req);
    const decision = decide(snapshot, parsed.path, client, { nowMs: Date.now(), limit: snapshot.routing.maxAlternatives + 1 });
    if (decision.outcome === 'not-found') return void res.writeHead(404).end();
    const ranked = rankedMirrors(decision, parsed.path, snapshot.routing.maxAlternatives + 1);
    const links = ranked.slice(1).map((r, i) => `<${r.url}>; rel=duplicate; pri=${i + 1}; geo=${r.country.toLowerCase()}`);
    links.push(`<${config.publicUrl}${url}.meta4>; rel=describedby; type="application/metalink4+xml"`);
    const headers: Record<string, string> = { ...FIXED_HEADERS, location: ranked[0]?.url ?? originUrl(snapshot, parsed.path), link: links.join(', '), 'x-mirrorgate-mirror': ranked[0]?.id ?? 'origin', 'x-request-id': String(++requestNo), 'content-length': '0' };
    const b64 = snapshot.files.sha256Base64(decision.file);
    if (b64) {
      headers.digest = `SHA-256=${b64}`;
      headers['repr-digest'] = `sha-256=:${b64}:`;
    }
    res.writeHead(302, headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
