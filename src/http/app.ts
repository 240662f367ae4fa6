// createApp: the one Hono app every runtime serves, wired from the services it is handed and made of the
// audiences the runtime serves (downloads, public pages, staff): the Worker bundles only what it mounts.
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import { DOWNLOAD_SCRIPT, STYLESHEET } from './assets/index.js';
import { downloadPathProblem, rawDownloadPath } from './download/intent.js';
import { logRequest, newRequestId } from './download/outcome.js';
import { HttpProblem } from './problem.js';
import type { ProblemAnswer } from './schemas/admin.js';
import { errorPage } from './views/errorPage.js';
import { nearestFolder } from '../core/folders.js';
import { parseDownloadPath } from '../core/paths.js';
import { requestLimits } from './limits.js';
import { securityHeaders } from './securityHeaders.js';
import { rateLimiter } from 'hono-rate-limiter';
import { ConflictError, FieldsError, InvalidStateError, NotFoundError, StoreUnavailableError, UpstreamError } from '../control/errors.js';
import { clientKey, limiterStore, metricsGuard, rateLimitedAnswer, wrongTokenLimit } from './guards.js';
import { registerSiteRoutes } from './siteRoutes.js';
import type { AppEnv, AppServices } from './services.js';
import { accepts } from './accept.js';
import { clientFacts } from './client.js';
import { methodsNotAllowed } from './methods.js';

/** One audience's routes (registerDownloadRoutes, registerPublicRoutes, registerStaffRoutes, …). */
export type Audience = (app: Hono<AppEnv>, services: AppServices) => void;

/** Where staff routes are not served (the edge): /admin answers 503, never a 404 that looks like a typo. */
export const controlPlaneElsewhere: Audience = (app) => {
  app.all('/admin/*', () => {
    throw new HttpProblem(503, 'the control plane is not running on this instance');
  });
};

export function createApp(services: AppServices, audiences: readonly Audience[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(requestId({ generator: newRequestId }));
  app.use(accessLog(services));
  app.use(securityHeaders((c) => clientFacts(c, services).https));
  app.use(requestLimits());
  app.use(rejectBadTargets(services));

  const limits = services.rateLimits ?? { apiPerMinute: 300, offersPerHour: 20 };
  const byClient = (c: Context) => clientKey(c, services); // an IPv4 address or an IPv6 /64 (guards.ts)
  app.use('/metrics', metricsGuard(services, services.metricsAccess));
  // Counted in the shared store where there is one: N instances give a client one budget, not N.
  const perMinute = (name: string) =>
    rateLimiter<AppEnv>({
      windowMs: 60_000,
      limit: limits.apiPerMinute,
      keyGenerator: byClient,
      standardHeaders: 'draft-6',
      message: rateLimitedAnswer(),
      store: limiterStore(services, name),
    });
  app.use('/api/*', perMinute('api'));
  app.use('/mirrors', perMinute('mirrors'));
  app.on(
    'POST',
    '/api/v1/offers',
    rateLimiter<AppEnv>({
      windowMs: 3_600_000,
      limit: limits.offersPerHour,
      keyGenerator: byClient,
      standardHeaders: 'draft-6',
      message: { error: 'too many offers from this address; try again later' },
      store: limiterStore(services, 'offers'),
    }),
  );

  // Before every audience: the download route reads a token too (?fromip=), and is registered first.
  app.use('*', wrongTokenLimit(services));
  for (const register of audiences) register(app, services);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/metrics', async (c) => {
    if (!services.metrics) throw new HttpProblem(404, 'metrics are not enabled');
    return c.body(await services.metrics.render(), 200, { 'Content-Type': services.metrics.contentType });
  });
  app.get('/readyz', (c) => {
    const r = services.readiness?.() ?? { ready: true };
    const snap = services.snapshot();
    const geoip = services.geoInfo?.();
    const body = {
      status: r.ready ? 'ready' : 'degraded',
      snapshotVersion: snap.version,
      files: snap.files.count,
      mirrors: snap.mirrors.length,
      ...r.detail,
      ...(geoip ? { geoip } : {}),
    };
    return c.json(body, r.ready ? 200 : 503);
  });
  app.get('/assets/mirrorgate.css', (c) => assetResponse(c, STYLESHEET, 'text/css; charset=utf-8'));
  app.get('/assets/download.js', (c) => assetResponse(c, DOWNLOAD_SCRIPT, 'text/javascript; charset=utf-8'));
  app.get('/logos/:id', (c) => {
    const logo = services.logo(c.req.param('id'));
    if (!logo) throw new HttpProblem(404, 'no such logo');
    // A logo is shown in <img>, where SVG scripts never run; this CSP also stops them if opened directly.
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(logo.body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': logo.contentType });
  });

  // A method a path of ours does not take: 405 with Allow (downloads are read-only, the API's paths take theirs).
  methodsNotAllowed(app);
  // Whole-site routes take what no audience answered (they never cover Mirrorgate's own paths).
  registerSiteRoutes(app, services);
  app.notFound((c) => problemResponse(c, services, new HttpProblem(404, 'not found')));
  app.onError((err, c) => {
    if (err instanceof HttpProblem) return problemResponse(c, services, err);
    if (err instanceof NotFoundError) return problemResponse(c, services, new HttpProblem(404, err.message));
    if (err instanceof ConflictError || err instanceof InvalidStateError) return problemResponse(c, services, new HttpProblem(409, err.message));
    if (err instanceof UpstreamError) return problemResponse(c, services, new HttpProblem(502, err.message));
    // A client's mistake found past the schema (a mirror or offer URL at a private address): a 422 naming each field.
    if (err instanceof FieldsError) return problemResponse(c, services, new HttpProblem(422, err.message, { fields: err.fields }));
    if (err instanceof StoreUnavailableError) {
      c.header('Retry-After', '5');
      return problemResponse(c, services, new HttpProblem(503, `${err.message}; changes cannot be saved right now, downloads still work`));
    }
    services.logger.error({ err, reqId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return c.text('internal error', 500);
  });
  return app;
}

function assetResponse(c: Context, body: string, type: string) {
  return c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' });
}

/**
 * The one place an expected failure becomes a response: JSON for APIs and JSON clients, an HTML page in
 * the site's layout for browsers (with the folder above a missing download), plain text for tools.
 */
function problemResponse(c: Context, services: AppServices, p: HttpProblem) {
  for (const [name, value] of Object.entries(p.headers ?? {})) c.header(name, value);
  // Worded for the client's Accept, and about this moment (a 404 now may be a file in a minute): kept by no cache.
  c.header('Vary', 'Accept');
  c.header('Cache-Control', 'no-store');
  const accept = c.req.header('accept') ?? '';
  const wantsJson = accepts(accept, 'application/json') || c.req.path.startsWith('/api/') || c.req.path.startsWith('/admin/');
  if (wantsJson) return c.json({ error: p.message, ...p.details } satisfies ProblemAnswer, p.status);
  // Pages and text name each refused field too, after the message.
  const fields = Object.entries(p.details?.fields ?? {});
  const message = fields.length ? `${p.message}: ${fields.map(([k, v]) => `${k}: ${v}`).join('; ')}` : p.message;
  if (accepts(accept, 'text/html')) {
    const download = rawDownloadPath(c.req.path);
    const parsed = download === undefined ? undefined : parseDownloadPath(download.replace(/\/$/, ''));
    const folderAbove = download === undefined ? undefined : parsed?.ok ? nearestFolder(services.snapshot().files, parsed.path) : '';
    return c.html(errorPage({ status: p.status, message, folderAbove }), p.status);
  }
  return c.text(`${p.status === 404 ? 'Not found' : 'Error'}: ${message}\n`, p.status);
}

/**
 * URL parsing removes dot segments before routing (/download/../admin → /admin), so the raw
 * target is checked first: traversal in any encoding is a 400 on every route, never a redirect.
 */
function rejectBadTargets(services: AppServices) {
  return async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const raw = services.connection(c).rawTarget;
    if (raw !== undefined) {
      const problem = badTargetReason(raw);
      if (problem) throw new HttpProblem(400, problem);
    }
    await next();
  };
}

/**
 * Why a request target as sent (origin-form, before URL normalisation) is refused with a 400, or undefined.
 * The edge asks it too before it passes a request on, since the URL it would pass on has its dot segments removed.
 */
export function badTargetReason(rawTarget: string): string | undefined {
  const q = rawTarget.indexOf('?');
  const path = q >= 0 ? rawTarget.slice(0, q) : rawTarget;
  const download = rawDownloadPath(rawTarget);
  if (download !== undefined) return downloadPathProblem(download);
  return hasDotSegment(path) ? 'path traversal' : undefined;
}

function hasDotSegment(path: string): boolean {
  return /(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path) || path.includes('\\') || /%(00|5c)/i.test(path);
}

function accessLog(services: AppServices) {
  return async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const startedAt = performance.now();
    await next();
    logRequest(services.logger, {
      reqId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      mirror: c.get('mirror'),
      startedAt,
    });
  };
}
