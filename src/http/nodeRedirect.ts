// Node only: the plain 302 answered straight on node:http, before Hono. Most of a mirror network's
// traffic is tools asking for a file; this path spares them the Fetch API objects, the router and the
// middleware chain. It answers only what it can answer exactly as the Hono route would (same decision,
// same headers, same events); everything else goes on to the app unchanged.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decide } from '../core/decide.js';
import { parseDownloadPath } from '../core/paths.js';
import { clientResolver } from './client.js';
import { DOWNLOAD_PREFIX } from './download.js';
import { MAX_URL_BYTES } from './limits.js';
import { redirectHeaders } from './redirect.js';
import { REDIRECT_SECURITY_HEADERS } from './securityHeaders.js';
import type { AppServices } from './services.js';

/** Incoming ids we echo, as hono/request-id accepts them. */
const REQUEST_ID = /^[\w\-=]{1,255}$/;

/**
 * Returns a handler that answers a plain download redirect and returns true, or returns false
 * without touching the response. "Plain" is a GET or HEAD of /download/{path} with no query,
 * from a client that does not ask for HTML and carries no remembered-mirror cookie, for a file
 * in the origin index. Errors, 404s, metalinks, pages and lists are the app's.
 */
export function nodeRedirect(services: AppServices): (req: IncomingMessage, res: ServerResponse) => boolean {
  const clients = clientResolver(services);
  const security = REDIRECT_SECURITY_HEADERS.flat();
  const { events, logger } = services;

  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (!url.startsWith(DOWNLOAD_PREFIX) || url.length > MAX_URL_BYTES || url.includes('?')) return false;
    const headers = req.headers;
    if (headers.accept !== undefined && headers.accept.includes('text/html')) return false;
    if (headers.cookie !== undefined && headers.cookie.includes('mirrorgate_mirror=')) return false;
    const parsed = parseDownloadPath(url.slice(DOWNLOAD_PREFIX.length));
    if (!parsed.ok) return false;
    const path = parsed.path;
    const snapshot = services.snapshot();
    // Not in the index: a 404, or a "x.meta4" metalink request; the app words both.
    if (snapshot.files.lookup(path) < 0) return false;

    const started = performance.now();
    const socket = req.socket as typeof req.socket & { encrypted?: boolean };
    const client = clients.facts(
      socket.remoteAddress ?? '0.0.0.0',
      headerText(headers['x-forwarded-for']),
      headerText(headers['x-forwarded-proto']),
      socket.encrypted === true,
    );
    const decideStarted = performance.now();
    const decision = decide(snapshot, path, client, { nowMs: services.clock(), limit: snapshot.routing.maxAlternatives + 1 });
    const mirror = decision.chosen ? decision.chosen.mirror.spec.id : 'origin';
    events?.decided?.((performance.now() - decideStarted) / 1000, decision.outcome, mirror);
    // HEAD is only a look, not a download.
    if (method === 'GET') {
      events?.download?.({ ip: client.ip, path, mirror, country: client.country ?? '--', size: snapshot.files.size(decision.file), atMs: services.clock() });
    }

    const incomingId = headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const out = redirectHeaders(snapshot, decision, path, services.publicUrl);
    out.push('x-request-id', requestId);
    for (let i = 0; i < security.length; i++) out.push(security[i]!);
    out.push('content-length', '0');
    res.writeHead(302, out);
    res.end();
    logger.info({ reqId: requestId, method, path: DOWNLOAD_PREFIX + path, status: 302, mirror, ms: Math.round((performance.now() - started) * 100) / 100 }, 'request');
    return true;
  };
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
