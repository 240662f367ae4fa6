// Node only: the plain 302 answered straight on node:http, before Hono. Most of a mirror network's traffic is
// tools asking for a file; this transport spares them the Fetch API objects, the router and the middleware
// chain. It runs the same pipeline as the Hono route (src/http/download/): the same intent, decision,
// headers and records; whatever is not a plain redirect goes on to the app unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientResolver } from '../http/client.js';
import { classifyDownload, DOWNLOAD_PREFIX } from '../http/download/intent.js';
import { decideFile, logRequest, newRequestId, observeFile, REQUEST_ID } from '../http/download/outcome.js';
import { redirectFieldLines } from '../http/download/redirect.js';
import { EDGE_PLACE_HEADER } from '../http/edgePlace.js';
import { fieldLines, fieldPairs } from '../http/fieldLines.js';
import { MAX_URL_BYTES } from '../http/limits.js';
import { REDIRECT_SECURITY_HEADERS, withoutHsts } from '../http/securityHeaders.js';
import type { AppServices } from '../http/services.js';
import { endRedirect, headSafe } from './redirectHead.js';

/**
 * Returns a handler that answers a download redirect and returns true, or returns false without
 * touching the response. It answers GET and HEAD whose intent is a redirect for a file of the
 * file set; everything else (pages, lists, metalinks, 400s, 404s, staff's ?fromip=) is the app's.
 */
export function fastRedirect(services: AppServices): (req: IncomingMessage, res: ServerResponse) => boolean {
  const clients = clientResolver(services);
  // HSTS only to clients that came over HTTPS (RFC 6797 §7.2), as the app's middleware sends it.
  const overHttps = REDIRECT_SECURITY_HEADERS.flat().concat('content-length', '0');
  const overHttp = withoutHsts(REDIRECT_SECURITY_HEADERS).flat().concat('content-length', '0');
  const tails = { https: fieldLines(overHttps), http: fieldLines(overHttp) };
  const { events, logger } = services;
  /** The last Host that passed PLAIN_HOST: nearly every request repeats it. */
  let plainHost = '';

  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const target = req.url ?? '';
    if (!target.startsWith(DOWNLOAD_PREFIX) || target.length > MAX_URL_BYTES) return false;
    const headers = req.headers;
    // Passed on by an edge with the client's place: the app reads it (requestPlace).
    if (headers[EDGE_PLACE_HEADER] !== undefined) return false;
    const host = headers.host;
    if (host !== undefined && host !== plainHost) {
      // Anything but a plain lower-case name goes to the app, which refuses a bad Host with 400 (RFC 9112 §3.2).
      if (!PLAIN_HOST.test(host)) return false;
      plainHost = host;
    }
    const snapshot = services.snapshot();
    const intent = classifyDownload({ target, accept: headers.accept ?? '', cookie: headers.cookie ?? '' }, snapshot);
    // ?fromip= needs the staff token check the app does.
    if (intent.kind !== 'file' || intent.answer !== 'redirect' || intent.query.has('fromip')) return false;

    const startedAt = performance.now();
    const socket = req.socket as typeof req.socket & { encrypted?: boolean };
    const client = clients.facts(
      socket.remoteAddress ?? '0.0.0.0',
      headerText(headers['x-forwarded-for']),
      headerText(headers['x-forwarded-proto']),
      socket.encrypted === true,
    );
    const now = services.clock();
    const outcome = decideFile(snapshot, intent.path, intent.file, 'redirect', client, now, intent.preferMirror);
    observeFile(events, {
      outcome,
      answer: 'redirect',
      method,
      client,
      path: intent.path,
      files: snapshot.files,
      atMs: now,
    });

    const incomingId = headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : newRequestId();
    const fields = redirectFieldLines(snapshot, outcome.decision, intent.path, services.publicUrl) + 'x-request-id: ' + requestId + '\r\n';
    if (!headSafe(snapshot, services.publicUrl) || !endRedirect(res, fields, client.https ? tails.https : tails.http)) {
      // node:http checks every value and writes the head itself.
      res.writeHead(302, fieldPairs(fields).concat(client.https ? overHttps : overHttp));
      res.end();
    }
    logRequest(logger, { reqId: requestId, method, path: DOWNLOAD_PREFIX + intent.path, status: 302, mirror: outcome.mirror, startedAt });
    return true;
  };
}

/**
 * A Host the app's adapter (@hono/node-server 2) takes as sent, by its own pattern: a lower-case name or
 * IPv4 address, with or without a port of four or five digits. It parses any other as a URL and refuses
 * what does not survive that; those go to the app, so both transports answer alike.
 */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
