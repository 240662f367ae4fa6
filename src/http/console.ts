// The console people use in a browser: sign-in, the staff page and the provider page. Handlers call
// AdminService directly (every change audited under the token's name); every POST is checked for CSRF.
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { rateLimiter } from 'hono-rate-limiter';
import { ConflictError, FieldsError, InvalidStateError, NotFoundError, StoreUnavailableError } from '../control/errors.js';
import type { Principal } from '../control/tokens.js';
import { scanSource } from '../core/mirrors.js';
import { principalOf } from './auth.js';
import { auditSeenBy } from './providerView.js';
import { clientKey, limiterStore } from './guards.js';
import { paginate } from './views/pagination.js';
import { HttpProblem } from './problem.js';
import type { AppEnv, AppServices } from './services.js';
import { homeOf, loginPage, messagePage, tokenIssuedPage } from './views/loginPage.js';
import { providerPage, type ProviderDay, type ProviderMirror } from './views/providerPage.js';
import { DRAIN_RAMPS, staffPage, statusOf, type Flash } from './views/staffPage.js';

export const SESSION_COOKIE = 'mirrorgate_session';
/** The console's paths: the session cookie is sent to these and nowhere else (not to downloads, not to the APIs). */
export const SESSION_PATHS = ['/login', '/logout', '/staff', '/provider'] as const;
const FLASH_COOKIE = 'mirrorgate_flash';
/** The session's absolute lifetime; the server enforces it (SessionService), the cookie only follows it. */
const SESSION_SECONDS = 12 * 3600;
const STATS_DAYS = 30;
/** Largest logo the provider page's form takes (the API body limit, less the form's framing). */
const FORM_LOGO_BYTES = 60 * 1024;

/** UTC day offset from now, as YYYY-MM-DD. */
function isoDay(nowMs: number, offsetDays = 0): string {
  return new Date(nowMs + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Errors a staff action reports back on the page instead of failing the request. */
function isActionError(err: unknown): err is Error {
  return (
    err instanceof NotFoundError ||
    err instanceof ConflictError ||
    err instanceof InvalidStateError ||
    err instanceof StoreUnavailableError ||
    err instanceof FieldsError ||
    (err instanceof HttpProblem && err.status < 500)
  );
}

export function registerConsoleRoutes(app: Hono<AppEnv>, services: AppServices): void {
  const admin = services.admin;
  if (!admin) return;
  const secure = services.publicUrl.startsWith('https:');
  const publicOrigin = (() => {
    try {
      return new URL(services.publicUrl).origin;
    } catch {
      return null;
    }
  })();

  /** Who is asking: an Authorization header, else the session the cookie names (looked up server-side). */
  const viewerOf = async (c: Context): Promise<Principal | undefined> => {
    const fromHeader = principalOf(c, services);
    // An edge token is for the Worker's snapshot reads and counts: it is nobody's console.
    if (fromHeader) return fromHeader.role === 'edge' ? undefined : fromHeader;
    const session = getCookie(c, SESSION_COOKIE);
    return session ? admin.resolveSession(session) : undefined;
  };
  const setSessionCookies = (c: Context, id: string) => {
    for (const path of SESSION_PATHS) setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: 'Strict', path, secure, maxAge: SESSION_SECONDS });
  };
  const clearSessionCookies = (c: Context) => {
    // And the site-wide cookie of earlier versions, which held the token itself.
    for (const path of [...SESSION_PATHS, '/']) deleteCookie(c, SESSION_COOKIE, { path, secure });
  };

  /**
   * CSRF: a state-changing POST must say where it came from (Origin, else Referer), and that must
   * be this service — as the request reached us, or as clients know it (publicUrl, behind a proxy).
   */
  const sameOrigin = (c: Context): boolean => {
    let claimed: string | undefined;
    const origin = c.req.header('origin');
    if (origin !== undefined) claimed = origin;
    else {
      const referer = c.req.header('referer');
      if (referer) {
        try {
          claimed = new URL(referer).origin;
        } catch {
          return false;
        }
      }
    }
    if (!claimed || claimed === 'null') return false;
    return claimed === new URL(c.req.url).origin || claimed === publicOrigin;
  };

  const refuse = (c: Context, status: 401 | 403 | 404 | 503, title: string, message: string, viewer?: Principal) =>
    c.html(messagePage(title, message, viewer ?? null), status);
  const crossSite = (c: Context) =>
    refuse(c, 403, 'Request refused', 'This form was not sent from a Mirrorgate page (its Origin or Referer is missing or foreign), so nothing was changed.');

  const setFlash = (c: Context, flash: Flash, path: '/staff' | '/provider' = '/staff') =>
    setCookie(c, FLASH_COOKIE, JSON.stringify({ kind: flash.kind, text: flash.text.slice(0, 600) }), {
      httpOnly: true,
      sameSite: 'Strict',
      path,
      secure,
      maxAge: 60,
    });
  const takeFlash = (c: Context, path: '/staff' | '/provider' = '/staff'): Flash | null => {
    const raw = getCookie(c, FLASH_COOKIE);
    if (raw === undefined) return null;
    deleteCookie(c, FLASH_COOKIE, { path, secure });
    try {
      const v = JSON.parse(raw) as Partial<Flash>;
      if ((v.kind === 'done' || v.kind === 'error') && typeof v.text === 'string') return { kind: v.kind, text: v.text };
    } catch {
      // not ours; ignore
    }
    return null;
  };

  for (const path of ['/login', '/logout', '/staff', '/staff/*', '/provider', '/provider/*']) {
    app.use(path, async (c, next) => {
      await next();
      c.header('Cache-Control', 'no-store');
    });
  }

  // Uploaded logos (the store's, the same on every instance); config logos fall through to the app's route.
  // Revalidated on every use (ETag = the logo's SHA-256), so a provider's new logo shows at once.
  app.get('/logos/:id', async (c, next) => {
    const id = c.req.param('id');
    const logo = admin.logo(id);
    if (!logo) return next();
    const etag = `"${admin.logoVersion(id)}"`;
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
    c.header('Cache-Control', 'public, no-cache');
    c.header('ETag', etag);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    return c.body(logo.body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': logo.contentType });
  });

  // --- Sign-in --------------------------------------------------------------------------------

  app.get('/login', async (c) => {
    const viewer = await viewerOf(c);
    const notice = c.req.query('signedout') !== undefined ? 'You are signed out.' : null;
    return c.html(loginPage({ viewer: viewer ?? null, notice }));
  });

  // Failed attempts only count: ten per quarter hour per client address.
  const loginLimiter = rateLimiter<AppEnv>({
    windowMs: 15 * 60_000,
    limit: 10,
    keyGenerator: (c) => `login:${clientKey(c, services)}`,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-6',
    store: limiterStore(services, 'login'),
    handler: (c) => c.html(messagePage('Too many attempts', 'Too many wrong tokens from this address. Wait a quarter of an hour, then try again.'), 429),
  });

  app.post('/login', loginLimiter, async (c) => {
    if (!sameOrigin(c)) return crossSite(c);
    const form = await formOf(c);
    const presented = typeof form.token === 'string' ? form.token.trim() : '';
    const token = presented ? admin.authenticate(presented) : undefined;
    if (!token || token.role === 'edge') {
      return c.html(loginPage({ error: presented ? 'That token was not recognised. Check it and try again.' : 'Enter your access token.' }), 401);
    }
    // The cookie carries a random session id, never the token; the session lives in the store.
    let session: { id: string };
    try {
      session = await admin.startSession(token);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      c.header('Retry-After', '5');
      return c.html(
        loginPage({ error: 'Signing in is not possible right now: the shared store is unreachable. Downloads still work; try again in a minute.' }),
        503,
      );
    }
    clearSessionCookies(c);
    setSessionCookies(c, session.id);
    return c.redirect(homeOf(token), 303);
  });

  app.post('/logout', async (c) => {
    if (!sameOrigin(c)) return crossSite(c);
    const session = getCookie(c, SESSION_COOKIE);
    clearSessionCookies(c);
    if (session) {
      try {
        await admin.endSession(session);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // The cookie is gone from this browser; the session itself ends at its expiry.
        return c.redirect('/login?signedout&unsaved', 303);
      }
    }
    return c.redirect('/login?signedout', 303);
  });

  // --- Staff ----------------------------------------------------------------------------------

  app.get('/staff', async (c) => {
    const viewer = await viewerOf(c);
    if (!viewer) return c.redirect('/login', 303);
    if (viewer.role !== 'staff') return refuse(c, 403, 'Staff only', 'The staff page needs a staff token. This token belongs to a mirror provider.', viewer);
    const flash = takeFlash(c);
    const nowMs = services.clock();
    // While the store is unreachable the page opens read-only, from what this instance last read.
    const { offers, stale } = await admin.readOffers();
    const readOnly = stale || !admin.storeAvailable();
    const mirrors = admin.listMirrors();
    const pending = offers.filter((o) => o.status === 'offered').sort((a, b) => a.createdAt - b.createdAt);
    let downloads30d: number | null = null;
    try {
      downloads30d = (await admin.stats({ from: isoDay(nowMs, 1 - STATS_DAYS), to: isoDay(nowMs) })).totals.downloads;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    }
    return c.html(
      staffPage({
        viewer,
        mirrors,
        offers: pending,
        decidedOffers: offers.filter((o) => o.status !== 'offered').length,
        downloads30d,
        flash,
        nowMs,
        readOnly,
        // A page at a time: ?mirrors=N (100 a page), ?offers=N (25 a page).
        mirrorPage: paginate(mirrors, c.req.query('mirrors'), 100, 'mirrors'),
        offerPage: paginate(pending, c.req.query('offers'), 25, 'offers'),
      }),
    );
  });

  /** One staff form: CSRF, then a staff token, then the action; its outcome is flashed on /staff. */
  /** `run` says what was done (flashed on /staff), or answers itself (a page that must not be a redirect). */
  const staffAction = (path: string, run: (c: Context, actor: string, form: Record<string, unknown>) => Promise<string | Response>) => {
    app.post(path, async (c) => {
      if (!sameOrigin(c)) return crossSite(c);
      const viewer = await viewerOf(c);
      if (!viewer) return refuse(c, 401, 'Signed out', 'Your session has ended, so nothing was changed. Sign in again.');
      if (viewer.role !== 'staff') return refuse(c, 403, 'Staff only', 'Only staff can change the network.', viewer);
      const form = await formOf(c);
      try {
        const outcome = await run(c, viewer.name, form);
        if (typeof outcome !== 'string') return outcome;
        setFlash(c, { kind: 'done', text: outcome });
      } catch (err) {
        if (!isActionError(err)) throw err;
        setFlash(c, { kind: 'error', text: problemText(err) });
      }
      return c.redirect('/staff', 303);
    });
  };
  const param = (c: Context, name: string) => c.req.param(name) ?? '';
  const field = (form: Record<string, unknown>, name: string) => (typeof form[name] === 'string' ? (form[name] as string).trim() : '');

  staffAction('/staff/mirrors/:id/drain', async (c, actor, form) => {
    const mirror = admin.getMirror(param(c, 'id'));
    const ramp = DRAIN_RAMPS[field(form, 'over') || '0'];
    if (!ramp) throw new HttpProblem(422, 'Choose how to drain: at once, over 10 minutes or over an hour.');
    await admin.drain(actor, mirror.spec.id, ramp.ms);
    return `${mirror.spec.name} is draining ${ramp.label}: it gets no new downloads${ramp.ms ? ' once the ramp ends' : ''}.`;
  });

  staffAction('/staff/mirrors/:id/undrain', async (c, actor) => {
    const mirror = admin.getMirror(param(c, 'id'));
    await admin.undrain(actor, mirror.spec.id);
    return `${mirror.spec.name} takes downloads again.`;
  });

  staffAction('/staff/mirrors/:id/weight', async (c, actor, form) => {
    const mirror = admin.getMirror(param(c, 'id'));
    const text = field(form, 'weight');
    const weight = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(weight) || weight > 1_000_000) {
      throw new HttpProblem(422, `Weight of ${mirror.spec.name} not changed: it must be a whole number from 0 to 1,000,000.`);
    }
    await admin.patchMirror(actor, mirror.spec.id, { weight });
    return `Weight of ${mirror.spec.name} is now ${weight.toLocaleString('en')}.`;
  });

  staffAction('/staff/offers/:id/accept', async (c, actor, form) => {
    const offer = (await admin.listOffers()).find((o) => o.id === param(c, 'id'));
    if (!offer) throw new NotFoundError('That offer no longer exists.');
    const given = { ...(field(form, 'id') ? { id: field(form, 'id') } : {}), ...(field(form, 'baseUrl') ? { baseUrl: field(form, 'baseUrl') } : {}) };
    const issueToken = field(form, 'issueToken') === 'yes';
    let result: Awaited<ReturnType<typeof admin.acceptOffer>>;
    try {
      result = await admin.acceptOffer(actor, offer.id, given, undefined, { issueToken });
    } catch (err) {
      if (!(err instanceof FieldsError)) throw err;
      const problems = Object.entries(err.fields).map(([k, v]) => `${k}: ${v}`);
      throw new HttpProblem(422, `The offer from ${offer.organisation} was not accepted: ${problems.join('; ')}.`);
    }
    const done = `Accepted the offer from ${offer.organisation}. Mirror ${result.mirror.spec.id} is syncing; it takes downloads once a scan shows it carries the files.`;
    if (!result.token) return done;
    // The token is shown once, on this page (never in a cookie or a redirect): answered, not flashed.
    const viewer = (await viewerOf(c))!;
    return c.html(
      tokenIssuedPage({ viewer, done, token: result.token.token, name: result.token.name, mirrors: result.token.mirrors, contact: offer.contact.email }),
    );
  });

  staffAction('/staff/offers/:id/reject', async (c, actor) => {
    const offer = await admin.rejectOffer(actor, param(c, 'id'));
    return `Rejected the offer from ${offer.organisation}.`;
  });

  // --- Provider -------------------------------------------------------------------------------

  app.get('/provider', async (c) => {
    const viewer = await viewerOf(c);
    if (!viewer) return c.redirect('/login', 303);
    const flash = takeFlash(c, '/provider');
    const asked = c.req.query('mirror');
    const nowMs = services.clock();
    const from = isoDay(nowMs, 1 - STATS_DAYS);
    const to = isoDay(nowMs);
    let ids: string[];
    let choose: { id: string; name: string }[] | null = null;
    if (viewer.role === 'provider') {
      if (asked && !viewer.mirrors.includes(asked)) return refuse(c, 403, 'Not your mirror', 'This token may see only its own mirrors.', viewer);
      ids = asked ? [asked] : viewer.mirrors;
    } else if (asked) {
      ids = [asked];
    } else {
      ids = [];
      choose = admin.listMirrors().map((v) => ({ id: v.spec.id, name: v.spec.name }));
    }
    const views = ids.length ? admin.listMirrors(ids) : [];
    if (asked && views.length === 0) return refuse(c, 404, 'No such mirror', 'There is no mirror with that id.', viewer);

    let statsError: string | null = null;
    const mirrors: ProviderMirror[] = [];
    for (const v of views) {
      let stats = null;
      try {
        stats = await admin.stats({ from, to, mirrors: [v.spec.id] });
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        statsError = 'Statistics cannot be read right now; the counts below may be empty. Try again shortly.';
      }
      const byDay = new Map((stats?.byDay ?? []).map((d) => [d.day, d]));
      const days: ProviderDay[] = [];
      for (let i = 1 - STATS_DAYS; i <= 0; i++) {
        const day = isoDay(nowMs, i);
        const d = byDay.get(day);
        days.push({ day, downloads: d?.downloads ?? 0, impressions: d?.impressions ?? 0 });
      }
      const countries = [...(stats?.byCountry ?? [])]
        .filter((x) => x.downloads > 0)
        .sort((a, b) => b.downloads - a.downloads || a.country.localeCompare(b.country))
        .slice(0, 10)
        .map((x) => ({ country: x.country, downloads: x.downloads }));
      const s = v.summary;
      mirrors.push({
        id: v.spec.id,
        name: v.spec.name,
        url: v.spec.baseUrl,
        country: v.spec.country,
        status: statusOf(v),
        reason: s?.reason ?? null,
        draining: v.drain !== null,
        lastSync: s?.lastSync ?? null,
        lagSeconds: s?.lagSeconds ?? null,
        share: s?.share ?? 0,
        files: s?.files ?? 0,
        sponsor: v.spec.sponsor ? { name: v.spec.sponsor.name, url: v.spec.sponsor.url ?? null } : null,
        logoUrl: v.spec.sponsor && (admin.logo(v.spec.id) ?? services.logo(v.spec.id)) ? logoPath(v.spec.id, v.spec.sponsor.logo) : null,
        weight: v.spec.weight,
        weightCeiling: v.weightCeiling,
        drain: v.drain,
        scannable: scanSource(v.spec) !== undefined,
        health: v.health ? { health: v.health.health, reason: v.health.reason ?? null, checkedAt: v.health.checkedAt ?? null } : null,
        days,
        countries,
        totals: stats?.totals ?? { downloads: 0, bytes: 0, impressions: 0 },
      });
    }
    // The provider's own audit entries (staff see every mirror's on /staff's API).
    let audit = null;
    if (views.length) {
      const read = await admin.readAudit({ targets: views.map((v) => `mirror:${v.spec.id}`), limit: 20 });
      audit = read.entries.map((e) => auditSeenBy(viewer, e));
    }
    const readOnly = !admin.storeAvailable();
    return c.html(providerPage({ viewer, mirrors, choose, statsError, from, to, nowMs, flash, audit, readOnly }));
  });

  /** One provider form on one of the viewer's mirrors (staff may act on any): CSRF, ownership, then the action, flashed on /provider. */
  const providerAction = (action: string, run: (c: Context, viewer: Principal, id: string, form: Record<string, unknown>) => Promise<string>) => {
    app.post(`/provider/mirrors/:id/${action}`, async (c) => {
      if (!sameOrigin(c)) return crossSite(c);
      const viewer = await viewerOf(c);
      if (!viewer) return refuse(c, 401, 'Signed out', 'Your session has ended, so nothing was changed. Sign in again.');
      const id = param(c, 'id');
      if (viewer.role === 'provider' && !viewer.mirrors.includes(id))
        return refuse(c, 403, 'Not your mirror', 'This token may change only its own mirrors.', viewer);
      const back = `/provider?mirror=${encodeURIComponent(id)}`;
      const form = await formOf(c);
      try {
        admin.getMirror(id);
        setFlash(c, { kind: 'done', text: await run(c, viewer, id, form) }, '/provider');
      } catch (err) {
        if (!isActionError(err) && !(err instanceof Error && err.name === 'InvalidLogoError')) throw err;
        setFlash(c, { kind: 'error', text: problemText(err) }, '/provider');
      }
      return c.redirect(viewer.role === 'provider' && viewer.mirrors.length === 1 ? '/provider' : back, 303);
    });
  };

  providerAction('drain', async (_c, viewer, id, form) => {
    const ramp = DRAIN_RAMPS[field(form, 'over') || '0'];
    if (!ramp) throw new HttpProblem(422, 'Choose how to drain: at once, over 10 minutes or over an hour.');
    const view = await admin.drain(viewer.name, id, ramp.ms);
    return `${view.spec.name} is draining ${ramp.label}: it gets no new downloads${ramp.ms ? ' once the ramp ends' : ''}.`;
  });

  providerAction('undrain', async (_c, viewer, id) => {
    const view = await admin.undrain(viewer.name, id);
    return `${view.spec.name} takes downloads again.`;
  });

  providerAction('weight', async (_c, viewer, id, form) => {
    const text = field(form, 'weight');
    const weight = Number(text);
    const ceiling = admin.weightCeiling(id);
    const limit = viewer.role === 'staff' ? 1_000_000 : ceiling;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(weight) || weight > limit) {
      throw new HttpProblem(
        422,
        `Weight not changed: it must be a whole number from 0 to ${limit.toLocaleString('en')}${viewer.role === 'staff' ? '' : ' (the ceiling staff set for this mirror)'}.`,
      );
    }
    const view = viewer.role === 'staff' ? await admin.patchMirror(viewer.name, id, { weight }) : await admin.setWeightAsProvider(viewer.name, id, weight);
    return `Weight of ${view.spec.name} is now ${view.spec.weight.toLocaleString('en')}.`;
  });

  providerAction('probe', async (_c, viewer, id) => {
    const health = await admin.probe(viewer.name, id);
    const name = admin.getMirror(id).spec.name;
    if (!health) return `${name} was not probed (it is not in the current snapshot yet); try again in a moment.`;
    return health.consecutiveFailures === 0
      ? `${name} answered the probe: it is ${health.health === 'up' ? 'up' : health.health}.`
      : `${name} did not answer the probe: ${health.reason ?? 'no reason given'} (${health.consecutiveFailures} failed in a row; it is ${health.health}).`;
  });

  providerAction('scan', async (_c, viewer, id) => {
    const name = admin.getMirror(id).spec.name;
    // A scan can take minutes: it runs on, and the page shows its result when reloaded.
    void admin
      .scan(viewer.name, id)
      .catch((err: unknown) => services.logger.warn({ mirror: id, err: (err as Error).message }, 'scan from the provider page failed'));
    return `A scan of ${name} has started. Reload this page in a few minutes to see what it found.`;
  });

  providerAction('logo', async (_c, viewer, id, form) => {
    const file = form.logo;
    if (!(file instanceof File) || file.size === 0) throw new HttpProblem(422, 'Choose a logo file (SVG, PNG or WebP) to upload.');
    if (file.size > FORM_LOGO_BYTES)
      throw new HttpProblem(422, `That logo is larger than ${FORM_LOGO_BYTES / 1024} KB; make it smaller (an SVG, or a PNG or WebP of about 480×160 pixels).`);
    const type =
      file.type ||
      ({ svg: 'image/svg+xml', png: 'image/png', webp: 'image/webp' } as Record<string, string>)[file.name.split('.').pop()?.toLowerCase() ?? ''] ||
      '';
    const view = await admin.setLogo(viewer.name, id, new Uint8Array(await file.arrayBuffer()), type);
    return `The new logo of ${view.spec.name} is saved; downloaders see it from now on.`;
  });
}

/** A form post's fields; a body that is no form (a broken multipart, say) is the client's mistake: a 400, not a 500. */
async function formOf(c: Context): Promise<Record<string, unknown>> {
  try {
    return (await c.req.parseBody()) as Record<string, unknown>;
  } catch {
    throw new HttpProblem(400, 'the form could not be read');
  }
}

/** A sponsor logo's URL, versioned by its sponsor.logo value so a new upload is fetched afresh. */
export function logoPath(id: string, logoRef: string | undefined): string {
  const version = logoRef?.startsWith('uploaded:') ? `?v=${encodeURIComponent(logoRef.slice('uploaded:'.length))}` : '';
  return `/logos/${encodeURIComponent(id)}${version}`;
}

function problemText(err: Error): string {
  const fields = err instanceof HttpProblem ? (err.details?.fields as Record<string, string> | undefined) : undefined;
  return fields
    ? `${err.message}: ${Object.entries(fields)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}`
    : err.message;
}

/** A validated new-mirror body as a spec, with the API's defaults. */
