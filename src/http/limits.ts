// Limits on what one request may cost us (URL and body size); how slowly it may arrive is the Node server's (src/node/server.ts).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { accepts } from './accept.js';
import { EDGE_DOWNLOADS_PATH } from './edgeIngest.js';

/** Largest request body we read (admin and offer bodies are a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * Longest request target (path and query) we look at. Our own longest links are a 3 KB encoded
 * path plus a short query; Node refuses a request line and headers over 16 KB itself (431).
 */
export const MAX_URL_BYTES = 8 * 1024;

/**
 * POST /admin/v1/stats/downloads: an edge isolate's batch of counts (up to 5,000 events of ~150 bytes, more
 * with long paths). The edge keeps each post under this (src/edge/downloadCounter.ts), and it is read only
 * after the token is checked (src/http/edgeIngest.ts).
 */
export const MAX_EDGE_BATCH_BYTES = 2 * 1024 * 1024;

/** The API's logo upload, and the provider page's form for it. */
const LOGO_UPLOAD = /^\/(?:admin\/v1|provider)\/mirrors\/[^/]+\/logo$/;
const MAX_LOGO_UPLOAD_READ_BYTES = 1024 * 1024;

/** 414 for an overlong target (400 under /download/), 413 for an overlong body: refused before any handler reads them. */
export function requestLimits(opts: { maxBodyBytes?: number; maxUrlBytes?: number } = {}): MiddlewareHandler {
  const maxUrl = opts.maxUrlBytes ?? MAX_URL_BYTES;
  const limitBody = bodyLimit({
    maxSize: opts.maxBodyBytes ?? MAX_BODY_BYTES,
    onError: (c) => tooLarge(c, 413, `the request body is larger than ${Math.round((opts.maxBodyBytes ?? MAX_BODY_BYTES) / 1024)} KB`),
  });
  // A logo upload may be read up to this, so that one over its own limit (60 KB, control/logos.ts) gets
  // the upload's answer, a 422 saying so, rather than the generic 413.
  const limitLogo = bodyLimit({
    maxSize: MAX_LOGO_UPLOAD_READ_BYTES,
    onError: (c) => tooLarge(c, 413, `the request body is larger than ${MAX_LOGO_UPLOAD_READ_BYTES / 1024} KB`),
  });
  const limitEdgeBatch = bodyLimit({
    maxSize: MAX_EDGE_BATCH_BYTES,
    onError: (c) => tooLarge(c, 413, `the request body is larger than ${MAX_EDGE_BATCH_BYTES / 1024} KB`),
  });
  return async (c, next) => {
    const url = c.req.url;
    // The target is what follows the origin; the scheme and host are ours (or the Host header's).
    const at = url.indexOf('/', url.indexOf('//') + 2);
    const targetLength = at < 0 ? 0 : url.length - at;
    if (targetLength > maxUrl) {
      // SPEC: a download path over 1024 bytes is a 400 with a short reason, however long it is.
      if (c.req.path.startsWith('/download/')) return tooLarge(c, 400, 'path too long');
      return tooLarge(c, 414, `the request URL is longer than ${Math.round(maxUrl / 1024)} KB`);
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if ((c.req.method === 'PUT' || c.req.method === 'POST') && LOGO_UPLOAD.test(c.req.path)) return limitLogo(c, next);
    if (c.req.method === 'POST' && c.req.path === EDGE_DOWNLOADS_PATH) return limitEdgeBatch(c, next);
    return limitBody(c, next);
  };
}

function tooLarge(c: Context, status: 400 | 413 | 414, message: string): Response {
  const wantsJson = accepts(c.req.header('accept') ?? '', 'application/json') || c.req.path.startsWith('/api/') || c.req.path.startsWith('/admin/');
  c.header('Connection', 'close');
  return wantsJson ? c.json({ error: message }, status) : c.text(`Error: ${message}\n`, status);
}
