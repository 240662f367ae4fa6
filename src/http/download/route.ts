// /download/{path}: the Hono transport of the download pipeline (intent → decision → answer → record): a 302, the
// interstitial page, a mirror list, a metalink, a hash, or a folder's repository list. The Node fast path
// (src/node/fastPath.ts) answers plain 302s with the same intent, decision, headers and records.
import { create as contentDisposition } from 'content-disposition';
import type { Context, Hono } from 'hono';
import type { Decision } from '../../core/decide.js';
import type { ClientFacts, OriginFile } from '../../core/model.js';
import { clientSummary, fileName, originUrl, rankedMirrors, type RankedMirror } from '../../core/present.js';
import { leadersBelow, rankRepositoryMirrors } from '../../core/repositories.js';
import type { Snapshot } from '../../core/snapshot.js';
import { dataCredits } from '../../geo/locator.js';
import { principalOf } from '../auth.js';
import { clientFacts, factsForAddress } from '../client.js';
import { HttpProblem } from '../problem.js';
import { DOWNLOAD_CORP } from '../securityHeaders.js';
import type { AppEnv, AppServices } from '../services.js';
import { originForm, withRoutePrefix } from '../target.js';
import { downloadPage } from '../views/downloadPage.js';
import { metalink } from '../views/metalink.js';
import { mirrorListPage } from '../views/mirrorList.js';
import { repositoryListPage } from '../views/repositoryList.js';
import { folderPage } from '../views/folderPage.js';
import { folderEntries } from '../../core/folders.js';
import { encodePathForUrl } from '../../core/paths.js';
import { classifyDownload, DOWNLOAD_PREFIX, METALINK_SUFFIX, REMEMBER_COOKIE, rememberedMirrorId, wantsPlainText, type Query } from './intent.js';
import { decideFile, observeFile } from './outcome.js';
import { redirectHeaders } from './redirect.js';
import { accepts } from '../accept.js';

/** The request target as sent (before URL normalisation removes dot segments), in origin-form. */
export function requestTarget(c: Context<AppEnv>, services: AppServices): string {
  return services.connection(c).rawTarget ?? originForm(c.req.url);
}

export function registerDownloadRoutes(app: Hono<AppEnv>, services: AppServices): void {
  app.get(`${DOWNLOAD_PREFIX}*`, (c) => downloadAnswer(c, services, true));
}

/** The answer to one /download request; `lookAgain`: a path the index lacks may be looked for at the origin (once). */
async function downloadAnswer(c: Context<AppEnv>, services: AppServices, lookAgain: boolean): Promise<Response> {
  const snapshot = services.snapshot();
  const accept = c.req.header('accept') ?? '';
  const target = withRoutePrefix(requestTarget(c, services), DOWNLOAD_PREFIX);
  const intent = classifyDownload({ target, accept, cookie: c.req.header('cookie') ?? '' }, snapshot);
  switch (intent.kind) {
    case 'invalid':
      throw new HttpProblem(400, intent.reason);
    case 'missing':
      // A folder named without its slash: where its listing is, as web servers answer it.
      if (folderEntries(snapshot.files, intent.path)) return c.redirect(`${DOWNLOAD_PREFIX}${encodePathForUrl(intent.path)}/`, 301);
      // Published since the last refresh? Served from the origin at once, not 404 until the next one.
      if (lookAgain && services.originLook && (await services.originLook(intent.path))) return downloadAnswer(c, services, false);
      services.events?.decided?.(0, 'not-found', 'none');
      throw new HttpProblem(404, 'not in the file set');
    case 'folder':
      if (!intent.list) return folderAnswer(c, snapshot, intent.folder, accept);
      return repositoryListAnswer(c, services, intent.folder, intent.query);
  }

  const { path, answer } = intent;
  const client = requestClient(c, services, intent.query);
  const outcome = decideFile(snapshot, path, intent.file, answer, client, services.clock(), intent.preferMirror);
  const { decision } = outcome;
  observeFile(services.events, { outcome, answer, method: c.req.method, client, path, files: snapshot.files, atMs: services.clock() });
  c.set('mirror', outcome.mirror);
  // The 302 needs only the path and the digest; the other answers show the whole file record.
  if (answer === 'redirect') return redirectAnswer(c, snapshot, decision, path, services);
  c.header('Cache-Control', 'no-store');
  c.header('Vary', 'Accept');
  // Piece hashes (up to 64 KiB of hex for a big file) only for the metalink that lists them.
  const file = snapshot.files.file(intent.file, { pieces: answer === 'metalink' });
  switch (answer) {
    case 'sha256':
      return sha256Answer(c, file);
    case 'mirrorlist':
      return mirrorListAnswer(c, snapshot, decision, file, client, accept, services);
    case 'metalink':
      return metalinkAnswer(c, snapshot, decision, file, services);
    case 'page':
      return pageAnswer(c, snapshot, decision, file, services, intent.query);
  }
}

/** A folder URL: its subfolders and files (name, size, date, checksum), as HTML or JSON. */
function folderAnswer(c: Context<AppEnv>, snapshot: Snapshot, folder: string, accept: string) {
  const entries = folderEntries(snapshot.files, folder);
  if (!entries) throw new HttpProblem(404, 'no such folder in the file set');
  const files = entries.files.map((f) => {
    const file = snapshot.files.file(f, { pieces: false });
    return { name: fileName(file.path), ...file };
  });
  const folders = entries.folders;
  c.header('Vary', 'Accept');
  if (accepts(accept, 'application/json')) {
    const base = folder === '' ? '' : `${folder}/`;
    return c.json({ folder: base, folders: folders.map((name) => ({ name, path: `${base}${name}/` })), files });
  }
  return c.html(folderPage({ folder, folders: [...folders], files, repository: leadersBelow(snapshot, folder).length > 0 }));
}

/** apt's mirror+http list: `<URL>\tpriority:N` a line, best first; the origin closes it so apt always has a source. */
function aptMirrorList(ranked: readonly RankedMirror[], origin: string): string {
  const lines = ranked.map((r) => `${r.url}\tpriority:${r.priority}`);
  lines.push(`${origin}\tpriority:${ranked.length + 1}`);
  return `${lines.join('\n')}\n`;
}

/** The requester, or, for staff asking with ?fromip=, the address they want to see the answer for. */
function requestClient(c: Context<AppEnv>, services: AppServices, query: Query): ClientFacts {
  const client = clientFacts(c, services);
  const fromip = query.get('fromip');
  if (fromip === null) return client;
  // Config tokens and those issued at runtime alike.
  if (principalOf(c, services)?.role !== 'staff') throw new HttpProblem(403, 'fromip is for staff tokens only');
  const other = factsForAddress(fromip, client.https, services);
  if (!other) throw new HttpProblem(400, 'fromip is not an IP address');
  return other;
}

function redirectAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, path: string, services: AppServices) {
  const headers = redirectHeaders(snapshot, decision, path, services.publicUrl);
  for (let i = 0; i < headers.length; i += 2) c.header(headers[i]!, headers[i + 1]!, { append: headers[i] === 'link' });
  // Framed as the fast path frames it: an empty body of known length, not an empty chunked one.
  c.header('Content-Length', '0');
  return c.body(null, 302);
}

const FOREIGN_NAVIGATION = new Set(['cross-site', 'same-site']);

function pageAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, file: OriginFile, services: AppServices, query: Query) {
  const ranked = rankedMirrors(decision, file.path);
  const chosen = ranked[0];
  c.header('X-Mirrorgate-Mirror', chosen?.id ?? 'origin');
  c.header(...DOWNLOAD_CORP);
  // "Remember my choice": a preference cookie naming a configured mirror (ids are [a-z0-9-]+, so it needs no quoting).
  const configured = (id: string | undefined) => (id ? snapshot.mirrors.find((m) => m.spec.id === id)?.spec : undefined);
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Lax${services.publicUrl.startsWith('https:') ? '; Secure' : ''}`;
  let remembered = configured(rememberedMirrorId(c.req.header('cookie') ?? ''));
  // Only the visitor's own hand changes the preference: a link on another site (Fetch Metadata says
  // cross-site or same-site) must not pin a browser to a mirror of the linker's choosing. Without the
  // header (an older browser) there is nothing to tell by, and the link is taken as the visitor's.
  const ownHand = !FOREIGN_NAVIGATION.has(c.req.header('sec-fetch-site') ?? '');
  const forget = ownHand && query.has('forget');
  let notice: string | null = null;
  if (forget) {
    c.header('Set-Cookie', `${REMEMBER_COOKIE}=; Max-Age=0; ${cookieAttrs}`);
    remembered = undefined;
    notice = 'Your choice is forgotten. Use the direct link to download.';
  } else if (ownHand && query.has('remember') && configured(query.get('mirror') ?? undefined)) {
    remembered = configured(query.get('mirror') ?? undefined);
    c.header('Set-Cookie', `${REMEMBER_COOKIE}=${remembered!.id}; Max-Age=31536000; ${cookieAttrs}`);
    notice = `Saved: this browser asks for ${remembered!.name} first from now on.`;
  }
  // start=0: a preference change after the download already began (the no-JavaScript "remember" button).
  const autoStart = !forget && query.get('start') !== '0';
  const offerRemember = chosen && query.get('mirror') === chosen.id && remembered?.id !== chosen.id ? { id: chosen.id, name: chosen.name } : null;
  return c.html(
    downloadPage({
      file,
      target: chosen?.url ?? originUrl(snapshot, file.path),
      chosen,
      others: ranked.slice(1),
      selfPath: new URL(c.req.url).pathname,
      delaySeconds: services.interstitialDelaySeconds ?? 3,
      logoUrl: chosen?.sponsor?.logo && services.logo(chosen.id) ? `/logos/${encodeURIComponent(chosen.id)}` : null,
      remembered: remembered ? { id: remembered.id, name: remembered.name } : null,
      autoStart,
      notice: autoStart ? null : notice,
      offerRemember,
      credits: dataCredits(services.geoInfo?.()),
    }),
  );
}

function mirrorListAnswer(
  c: Context<AppEnv>,
  snapshot: Snapshot,
  decision: Decision,
  file: OriginFile,
  client: ClientFacts,
  accept: string,
  services: AppServices,
) {
  const ranked = rankedMirrors(decision, file.path);
  if (accepts(accept, 'application/json')) {
    return c.json({
      file,
      client: clientSummary(client),
      mirrors: ranked.map(({ id, name, url, country, distanceKm, score }) => ({ id, name, url, country, distanceKm, score })),
      excluded: decision.excluded.map((e) => ({ id: e.mirror.spec.id, reason: e.reason })),
    });
  }
  if (wantsPlainText(accept)) return c.text(aptMirrorList(ranked, originUrl(snapshot, file.path)));
  return c.html(
    mirrorListPage({
      file,
      client: clientSummary(client),
      mirrors: ranked,
      excluded: decision.excluded.map((e) => ({ id: e.mirror.spec.id, name: e.mirror.spec.name, reason: e.reason })),
      originUrl: originUrl(snapshot, file.path),
      credits: dataCredits(services.geoInfo?.()),
    }),
  );
}

/**
 * The mirrors holding every repository index below `folder` current: apt's mirror+http list
 * (`<base URL>\tpriority:N`, the origin last), JSON, or HTML. 404 when no Release or repomd.xml is below it.
 */
function repositoryListAnswer(c: Context<AppEnv>, services: AppServices, folder: string, query: Query) {
  const snapshot = services.snapshot();
  const client = requestClient(c, services, query);
  const repo = rankRepositoryMirrors(snapshot, folder, client, services.clock());
  if (repo.leaders.length === 0) {
    // A list asked for at a path that is neither a file nor a folder: it is just not there.
    if (folder !== '' && !folderEntries(snapshot.files, folder)) throw new HttpProblem(404, 'not in the file set');
    throw new HttpProblem(404, 'no repository here: no Release, InRelease or repodata/repomd.xml below this folder');
  }
  const base = folder === '' ? '' : `${folder}/`;
  const mirrors = rankedMirrors(repo, base);
  const origin = originUrl(snapshot, base);
  c.header('Cache-Control', 'no-store');
  c.header('Vary', 'Accept');
  const accept = c.req.header('accept') ?? '';
  if (accepts(accept, 'application/json')) {
    return c.json({
      folder: base,
      client: clientSummary(client),
      mirrors: mirrors.map(({ id, name, url, country, distanceKm, score }) => ({ id, name, url, country, distanceKm, score })),
      excluded: repo.excluded.map((e) => ({ id: e.mirror.spec.id, reason: e.reason })),
      origin,
    });
  }
  if (wantsPlainText(accept)) return c.text(aptMirrorList(mirrors, origin));
  return c.html(
    repositoryListPage({
      folder: `/${base}`,
      client: clientSummary(client),
      mirrors,
      excluded: repo.excluded.map((e) => ({ id: e.mirror.spec.id, name: e.mirror.spec.name, reason: e.reason })),
      originUrl: origin,
      listUrl: `${services.publicUrl}${DOWNLOAD_PREFIX}${base}`,
      credits: dataCredits(services.geoInfo?.()),
    }),
  );
}

async function metalinkAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, file: OriginFile, services: AppServices) {
  const xml = await metalink({
    file,
    mirrors: rankedMirrors(decision, file.path),
    originUrl: originUrl(snapshot, file.path),
    selfUrl: `${services.publicUrl}${DOWNLOAD_PREFIX}${encodePathForUrl(file.path)}${METALINK_SUFFIX}`,
    publishedAt: new Date(services.clock()),
  });
  // An ASCII filename= for old clients beside RFC 8187's filename* (RFC 6266 §4.3).
  c.header('Content-Disposition', contentDisposition(`${fileName(file.path)}.meta4`, { type: 'inline' }));
  return c.body(xml.toString(), 200, { 'Content-Type': 'application/metalink4+xml; charset=utf-8' });
}

function sha256Answer(c: Context<AppEnv>, file: OriginFile) {
  if (!file.sha256) throw new HttpProblem(404, 'no sha-256 is known for this file');
  return c.text(`${file.sha256}  ${fileName(file.path)}\n`);
}
