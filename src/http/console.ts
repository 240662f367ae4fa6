// The console people use in a browser: sign-in, the staff page and the provider page. Handlers call
// AdminService directly (every change audited under the token's name); every POST is checked for CSRF.
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { rateLimiter } from 'hono-rate-limiter';
import { ConflictError, InvalidStateError, NotFoundError } from '../control/errors.js';
import { StoreUnavailableError } from '../store/store.js';
import { fieldErrors, mirrorSpecFromBody, newMirrorBody, offerMirrorId } from './admin.js';
import { bearer, timingSafeEqualString } from './auth.js';
import { clientFacts } from './client.js';
import { HttpProblem } from './problem.js';
import type { AccessToken, AppEnv, AppServices } from './services.js';
import { homeOf, loginPage, messagePage } from './views/loginPage.js';
import { providerPage, type ProviderDay, type ProviderMirror } from './views/providerPage.js';
import { DRAIN_RAMPS, staffPage, statusOf, type Flash } from './views/staffPage.js';

export const SESSION_COOKIE = 'mirrorgate_session';
const FLASH_COOKIE = 'mirrorgate_flash';
const SESSION_SECONDS = 12 * 3600;
const STATS_DAYS = 30;

/** The token a value names, comparing against every token in constant time (as bearer() does). */
export function matchToken(presented: string, tokens: readonly AccessToken[]): AccessToken | undefined {
  let found: AccessToken | undefined;
  for (const t of tokens) if (timingSafeEqualString(presented, t.token)) found = t;
  return found;
}

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

  /** Who is asking: an Authorization header, else the session cookie. */
  const viewerOf = (c: Context): AccessToken | undefined => {
    const fromHeader = bearer(c, services.tokens);
    // An edge token is for the Worker's snapshot reads and counts: it is nobody's console.
    if (fromHeader) return fromHeader.role === 'edge' ? undefined : fromHeader;
    const session = getCookie(c, SESSION_COOKIE);
    return session ? matchToken(session, services.tokens) : undefined;
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

  const refuse = (c: Context, status: 401 | 403 | 404, title: string, message: string, viewer?: AccessToken) =>
    c.html(messagePage(title, message, viewer ?? null), status);
  const crossSite = (c: Context) =>
    refuse(c, 403, 'Request refused', 'This form was not sent from a Mirrorgate page (its Origin or Referer is missing or foreign), so nothing was changed.');

  const setFlash = (c: Context, flash: Flash) =>
    setCookie(c, FLASH_COOKIE, JSON.stringify({ kind: flash.kind, text: flash.text.slice(0, 600) }), {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/staff',
      secure,
      maxAge: 60,
    });
  const takeFlash = (c: Context): Flash | null => {
    const raw = getCookie(c, FLASH_COOKIE);
    if (raw === undefined) return null;
    deleteCookie(c, FLASH_COOKIE, { path: '/staff', secure });
    try {
      const v = JSON.parse(raw) as Partial<Flash>;
      if ((v.kind === 'done' || v.kind === 'error') && typeof v.text === 'string') return { kind: v.kind, text: v.text };
    } catch {
      // not ours; ignore
    }
    return null;
  };

  for (const path of ['/login', '/logout', '/staff', '/staff/*', '/provider']) {
    app.use(path, async (c, next) => {
      await next();
      c.header('Cache-Control', 'no-store');
    });
  }

  // --- Sign-in --------------------------------------------------------------------------------

  app.get('/login', (c) => {
    const viewer = viewerOf(c);
    const notice = c.req.query('signedout') !== undefined ? 'You are signed out.' : null;
    return c.html(loginPage({ viewer: viewer ?? null, notice }));
  });

  // Failed attempts only count: ten per quarter hour per client address.
  const loginLimiter = rateLimiter<AppEnv>({
    windowMs: 15 * 60_000,
    limit: 10,
    keyGenerator: (c) => `login:${clientFacts(c, services).ip}`,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-6',
    handler: (c) => c.html(messagePage('Too many attempts', 'Too many wrong tokens from this address. Wait a quarter of an hour, then try again.'), 429),
  });

  app.post('/login', loginLimiter, async (c) => {
    if (!sameOrigin(c)) return crossSite(c);
    const form = await c.req.parseBody();
    const presented = typeof form.token === 'string' ? form.token.trim() : '';
    const token = presented ? matchToken(presented, services.tokens) : undefined;
    if (!token || token.role === 'edge') {
      return c.html(loginPage({ error: presented ? 'That token was not recognised. Check it and try again.' : 'Enter your access token.' }), 401);
    }
    setCookie(c, SESSION_COOKIE, token.token, { httpOnly: true, sameSite: 'Strict', path: '/', secure, maxAge: SESSION_SECONDS });
    return c.redirect(homeOf(token), 303);
  });

  app.post('/logout', (c) => {
    if (!sameOrigin(c)) return crossSite(c);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure });
    return c.redirect('/login?signedout', 303);
  });

  // --- Staff ----------------------------------------------------------------------------------

  app.get('/staff', async (c) => {
    const viewer = viewerOf(c);
    if (!viewer) return c.redirect('/login', 303);
    if (viewer.role !== 'staff') return refuse(c, 403, 'Staff only', 'The staff page needs a staff token. This token belongs to a mirror provider.', viewer);
    const flash = takeFlash(c);
    const nowMs = services.clock();
    const offers = await admin.listOffers();
    let downloads30d: number | null = null;
    try {
      downloads30d = (await admin.stats({ from: isoDay(nowMs, 1 - STATS_DAYS), to: isoDay(nowMs) })).totals.downloads;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    }
    return c.html(
      staffPage({
        viewer,
        mirrors: admin.listMirrors(),
        offers: offers.filter((o) => o.status === 'offered').sort((a, b) => a.createdAt - b.createdAt),
        decidedOffers: offers.filter((o) => o.status !== 'offered').length,
        downloads30d,
        flash,
        nowMs,
      }),
    );
  });

  /** One staff form: CSRF, then a staff token, then the action; its outcome is flashed on /staff. */
  const staffAction = (path: string, run: (c: Context, actor: string, form: Record<string, unknown>) => Promise<string>) => {
    app.post(path, async (c) => {
      if (!sameOrigin(c)) return crossSite(c);
      const viewer = viewerOf(c);
      if (!viewer) return refuse(c, 401, 'Signed out', 'Your session has ended, so nothing was changed. Sign in again.');
      if (viewer.role !== 'staff') return refuse(c, 403, 'Staff only', 'Only staff can change the network.', viewer);
      const form = (await c.req.parseBody()) as Record<string, unknown>;
      try {
        setFlash(c, { kind: 'done', text: await run(c, viewer.name, form) });
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
    const candidate = {
      id: field(form, 'id') || offerMirrorId(offer),
      name: offer.organisation,
      baseUrl: field(form, 'baseUrl') || offer.baseUrl,
      country: offer.location.country,
      bandwidthMbps: offer.bandwidthMbps,
      ...(offer.rsyncUrl ? { rsyncUrl: offer.rsyncUrl } : {}),
    };
    const parsed = newMirrorBody.safeParse(candidate);
    if (!parsed.success) {
      const problems = Object.entries(fieldErrors(parsed.error)).map(([k, v]) => `${k}: ${v}`);
      throw new HttpProblem(422, `The offer from ${offer.organisation} was not accepted: ${problems.join('; ')}.`);
    }
    const result = await admin.acceptOffer(actor, offer.id, mirrorSpecFromBody(parsed.data));
    return `Accepted the offer from ${offer.organisation}. Mirror ${result.mirror.spec.id} is syncing; it takes downloads once a scan shows it carries the files.`;
  });

  staffAction('/staff/offers/:id/reject', async (c, actor) => {
    const offer = await admin.rejectOffer(actor, param(c, 'id'));
    return `Rejected the offer from ${offer.organisation}.`;
  });

  // --- Provider -------------------------------------------------------------------------------

  app.get('/provider', async (c) => {
    const viewer = viewerOf(c);
    if (!viewer) return c.redirect('/login', 303);
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
        logoUrl: v.spec.sponsor && services.logo(v.spec.id) ? `/logos/${encodeURIComponent(v.spec.id)}` : null,
        days,
        countries,
        totals: stats?.totals ?? { downloads: 0, bytes: 0, impressions: 0 },
      });
    }
    return c.html(providerPage({ viewer, mirrors, choose, statsError, from, to, nowMs }));
  });
}

function problemText(err: Error): string {
  const fields = err instanceof HttpProblem ? (err.details?.fields as Record<string, string> | undefined) : undefined;
  return fields ? `${err.message}: ${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; ')}` : err.message;
}

/** A validated new-mirror body as a spec, with the API's defaults. */
