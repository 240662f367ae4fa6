// A path Mirrorgate answers, asked with a method it does not take: 405 naming the ones it does.
import type { Hono } from 'hono';
import { HttpProblem } from './problem.js';
import type { AppEnv } from './services.js';

/**
 * For every path a route was registered on, a 405 with `Allow` for the other methods (OPTIONS: 204 with
 * it), the list read from the routes themselves so it cannot drift. Registered after every route of
 * Mirrorgate's own and before the whole-site routes, so it answers only what no route did.
 */
export function methodsNotAllowed(app: Hono<AppEnv>): void {
  const methods = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue; // middleware, and catch-alls
    const set = methods.get(route.path) ?? new Set<string>();
    set.add(route.method);
    if (route.method === 'GET') set.add('HEAD'); // Hono answers HEAD with the GET route
    methods.set(route.path, set);
  }
  for (const [path, set] of methods) {
    const allow = [...set, 'OPTIONS'].join(', ');
    app.all(path, (c) => {
      if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow });
      throw new HttpProblem(405, `${c.req.method} is not allowed here: this path takes ${allow}`, undefined, { Allow: allow });
    });
  }
}
