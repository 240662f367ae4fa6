// Public read-only pages and API: the landing page, /mirrors (and its sorting script), /api/v1/mirrors, /api/v1/files/{path}.
import type { Hono } from 'hono';
import { mirrorCarries, type Snapshot } from '../core/snapshot.js';
import { examplePaths, mirrorSummaries, type MirrorSummary } from '../core/mirrorStatus.js';
import { parseDownloadPath } from '../core/paths.js';
import { MIRRORS_SCRIPT } from './assets/index.js';
import { HttpProblem } from './problem.js';
import type { AppEnv, AppServices } from './services.js';
import { originForm, withRoutePrefix } from './target.js';
import { homePage, mirrorsPage, parseMirrorSort } from './views/mirrorsPage.js';
import { accepts } from './accept.js';

const FILES_PREFIX = '/api/v1/files/';

/** Summaries as the public sees them: a logo link only where a logo is really served (it may have been rejected at load). */
function publicSummaries(snapshot: Snapshot, services: AppServices): MirrorSummary[] {
  return mirrorSummaries(snapshot).map((m) => (m.sponsor?.logo && !services.logo(m.id) ? { ...m, sponsor: { ...m.sponsor, logo: null } } : m));
}

export function registerPublicRoutes(app: Hono<AppEnv>, services: AppServices): void {
  app.get('/', (c) => {
    const snapshot = services.snapshot();
    return c.html(homePage(snapshot.fileSet?.examples ?? examplePaths(snapshot.files)));
  });

  app.get('/mirrors', (c) => {
    const snapshot = services.snapshot();
    const mirrors = publicSummaries(snapshot, services);
    // HTML or JSON by Accept: a shared cache must keep them apart.
    c.header('Vary', 'Accept');
    if (accepts(c.req.header('accept') ?? '', 'application/json')) return c.json({ mirrors });
    const sort = parseMirrorSort(c.req.query('sort'), c.req.query('dir'));
    return c.html(mirrorsPage({ mirrors, fileCount: snapshot.fileSet?.count ?? snapshot.files.count, nowMs: services.clock(), sort }));
  });

  app.get('/api/v1/mirrors', (c) => c.json({ mirrors: publicSummaries(services.snapshot(), services) }));

  app.get('/assets/mirrors.js', (c) =>
    c.body(MIRRORS_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }),
  );

  app.get(`${FILES_PREFIX}*`, async (c) => {
    const raw = withRoutePrefix((services.connection(c).rawTarget ?? originForm(c.req.url)).split('?')[0]!, FILES_PREFIX);
    const parsed = parseDownloadPath(raw.slice(FILES_PREFIX.length));
    if (!parsed.ok) throw new HttpProblem(400, parsed.reason);
    let snapshot = services.snapshot();
    let f = snapshot.files.lookup(parsed.path);
    // Published since the last refresh? Looked for at the origin at once, as a download would be.
    if (f < 0 && services.originLook && (await services.originLook(parsed.path))) {
      snapshot = services.snapshot();
      f = snapshot.files.lookup(parsed.path);
    }
    if (f < 0) throw new HttpProblem(404, 'not in the file set');
    const mirrors = snapshot.mirrors.filter((m) => mirrorCarries(snapshot, m, f)).map((m) => ({ id: m.spec.id, status: m.status, url: m.spec.baseUrl }));
    // Piece hashes belong in the metalink; here only their shape, so a large file's record stays small.
    const file = snapshot.files.file(f, { pieces: false });
    const pieces = snapshot.files.pieceInfo(f);
    return c.json({ ...file, ...(pieces ? { pieces } : {}), mirrors });
  });
}
