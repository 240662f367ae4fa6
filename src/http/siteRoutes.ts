// Whole-site routes: a request under a configured prefix is redirected to a full-copy mirror or the origin (see core/siteRoutes.ts).
import type { Context, Hono } from 'hono';
import { siteAnswer, siteRoutesOf } from '../core/siteRoutes.js';
import { clientFacts } from './client.js';
import { originForm } from './target.js';
import type { AppEnv, AppServices } from './services.js';

/**
 * Registered after every route of Mirrorgate's own (and route prefixes never cover those: the config
 * schema refuses them, and core/siteRoutes.ts drops them), so it sees only paths nothing else
 * answered; a path under no route goes on to the 404.
 */
export function registerSiteRoutes(app: Hono<AppEnv>, services: AppServices): void {
  app.all('*', (c, next) => {
    const snapshot = services.snapshot();
    if (siteRoutesOf(snapshot).length === 0) return next();
    // The target as sent: the prefix is matched and the rest passed on still encoded, the query unchanged.
    const target = services.connection(c).rawTarget ?? originForm(c.req.url);
    const q = target.indexOf('?');
    const path = q >= 0 ? target.slice(0, q) : target;
    const query = q >= 0 ? target.slice(q + 1) : '';
    const answer = siteAnswer(snapshot, { method: c.req.method, path, query }, () => clientFacts(c, services));
    if (!answer) return next();
    const mirror = answer.mirror?.spec.id ?? 'origin';
    c.set('mirror', mirror);
    // No Vary: a mirror answer depends on the client's address, which no request header names for a
    // cache; no-store keeps every cache from reusing it instead.
    return c.body(null, answer.status, {
      Location: answer.location,
      'Cache-Control': 'no-store',
      'X-Mirrorgate-Mirror': mirror,
    });
  });
}
