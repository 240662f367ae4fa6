// /download/{path}: one decision, answered as a 302, an interstitial page, a mirror list, a metalink or a hash.
import type { Context, Hono } from 'hono';
import { decide, type Decision } from '../core/decide.js';
import type { ClientFacts, OriginFile } from '../core/model.js';
import { parseDownloadPath } from '../core/paths.js';
import { clientSummary, fileName, originUrl, rankedMirrors } from '../core/present.js';
import type { Snapshot } from '../core/snapshot.js';
import { bearer } from './auth.js';
import { clientFacts, factsForAddress } from './client.js';
import { HttpProblem } from './problem.js';
import type { AppEnv, AppServices } from './services.js';
import { downloadPage } from './views/downloadPage.js';
import { metalink } from './views/metalink.js';
import { mirrorListPage } from './views/mirrorList.js';
import { repositoryListPage } from './views/repositoryList.js';
import { rankRepositoryMirrors } from '../core/repositories.js';
import { METALINK_SUFFIX, redirectHeaders } from './redirect.js';
import { DOWNLOAD_CORP } from './securityHeaders.js';

export const DOWNLOAD_PREFIX = '/download/';

type Answer = 'redirect' | 'page' | 'mirrorlist' | 'metalink' | 'sha256';

/** The still-encoded path after /download/, taken from the raw request target when the runtime has it. */
export function rawDownloadPath(c: Context<AppEnv>, services: AppServices): string {
  const target = services.connection(c).rawTarget ?? new URL(c.req.url).pathname;
  const q = target.indexOf('?');
  const pathPart = q >= 0 ? target.slice(0, q) : target;
  const at = pathPart.indexOf(DOWNLOAD_PREFIX);
  return at >= 0 ? pathPart.slice(at + DOWNLOAD_PREFIX.length) : '';
}

export function registerDownloadRoutes(app: Hono<AppEnv>, services: AppServices): void {
  app.get(`${DOWNLOAD_PREFIX}*`, (c) => {
    const raw = rawDownloadPath(c, services);
    // A folder URL (ending in "/", or the root): a repository mirror list.
    if (raw === '' || raw.endsWith('/')) return folderAnswer(c, services, raw);
    const parsed = parseDownloadPath(raw);
    if (!parsed.ok) throw new HttpProblem(400, parsed.reason);

    const snapshot = services.snapshot();
    let path = parsed.path;
    let answer = answerFor(c);
    // A .meta4 suffix asks for the metalink of the file without it, unless the origin has such a file itself.
    if (path.endsWith(METALINK_SUFFIX) && snapshot.files.lookup(path) < 0) {
      const base = path.slice(0, -METALINK_SUFFIX.length);
      if (snapshot.files.lookup(base) >= 0) {
        path = base;
        answer = 'metalink';
      }
    }

    const client = requestClient(c, services);
    const started = performance.now();
    const decision = decide(snapshot, path, client, {
      nowMs: services.clock(),
      preferMirror: c.req.query('mirror') ?? rememberedMirror(c),
      explain: answer === 'mirrorlist',
      // A redirect needs the pick and the Link alternatives only; lists and metalinks want all.
      limit: answer === 'redirect' ? snapshot.routing.maxAlternatives + 1 : undefined,
    });
    const chosenId = decision.chosen?.mirror.spec.id ?? 'origin';
    services.events?.decided?.((performance.now() - started) / 1000, decision.outcome, decision.outcome === 'not-found' ? 'none' : chosenId);
    if (decision.outcome === 'not-found') {
      // apt's mirror+http asks for the list at the folder URL without its slash, with Accept: text/*.
      if (answer === 'mirrorlist' || wantsPlainText(c)) return repositoryListAnswer(c, services, path);
      throw new HttpProblem(404, 'not in the file set');
    }

    c.set('mirror', chosenId);
    // A redirect or a page sends the client to a mirror: that is a download (HEAD is only a look).
    if ((answer === 'redirect' || answer === 'page') && c.req.method === 'GET') {
      const atMs = services.clock();
      services.events?.download?.({ ip: client.ip, path, mirror: chosenId, country: client.country ?? '--', size: snapshot.files.size(decision.file), atMs });
      if (answer === 'page' && decision.chosen?.mirror.spec.sponsor) services.events?.impression?.(chosenId, atMs);
    }
    // The 302 needs only the path and the digest; the other answers show the whole file record.
    if (answer === 'redirect') return redirectAnswer(c, snapshot, decision, path, services);
    c.header('Cache-Control', 'no-store');
    c.header('Vary', 'Accept');
    // Piece hashes (up to 64 KiB of hex for a big file) only for the metalink that lists them.
    const file = snapshot.files.file(decision.file, { pieces: answer === 'metalink' });
    switch (answer) {
      case 'sha256':
        return sha256Answer(c, file);
      case 'mirrorlist':
        return mirrorListAnswer(c, snapshot, decision, file, client);
      case 'metalink':
        return metalinkAnswer(c, snapshot, decision, file, services);
      case 'page':
        return pageAnswer(c, snapshot, decision, file, services);
    }
  });
}

/** The mirror a browser asked us to remember (the interstitial's cookie); decide() ignores it when unfit. */
function rememberedMirror(c: Context<AppEnv>): string | undefined {
  if ('forget' in c.req.query()) return undefined;
  return /(?:^|;\s*)mirrorgate_mirror=([a-z0-9-]{1,64})(?:;|$)/.exec(c.req.header('cookie') ?? '')?.[1];
}

function answerFor(c: Context<AppEnv>): Answer {
  const q = c.req.query();
  if ('sha256' in q) return 'sha256';
  if ('mirrorlist' in q) return 'mirrorlist';
  if ('metalink' in q) return 'metalink';
  if ('direct' in q) return 'redirect';
  return (c.req.header('accept') ?? '').includes('text/html') ? 'page' : 'redirect';
}

/** The requester, or, for staff asking with ?fromip=, the address they want to see the answer for. */
function requestClient(c: Context<AppEnv>, services: AppServices): ClientFacts {
  const client = clientFacts(c, services);
  const fromip = c.req.query('fromip');
  if (fromip === undefined) return client;
  if (bearer(c, services.tokens)?.role !== 'staff') throw new HttpProblem(403, 'fromip is for staff tokens only');
  const other = factsForAddress(fromip, client.https, services);
  if (!other) throw new HttpProblem(400, 'fromip is not an IP address');
  return other;
}

function redirectAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, path: string, services: AppServices) {
  const headers = redirectHeaders(snapshot, decision, path, services.publicUrl);
  for (let i = 0; i < headers.length; i += 2) c.header(headers[i]!, headers[i + 1]!, { append: headers[i] === 'link' });
  return c.body(null, 302);
}

function pageAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, file: OriginFile, services: AppServices) {
  const ranked = rankedMirrors(decision, file.path);
  const chosen = ranked[0];
  c.header('X-Mirrorgate-Mirror', chosen?.id ?? 'origin');
  c.header(...DOWNLOAD_CORP);
  // "Remember my choice": a preference cookie naming a configured mirror (ids are [a-z0-9-]+, so it needs no quoting).
  const configured = (id: string | undefined) => (id ? snapshot.mirrors.find((m) => m.spec.id === id)?.spec : undefined);
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Lax${services.publicUrl.startsWith('https:') ? '; Secure' : ''}`;
  const query = c.req.query();
  let remembered = configured(/(?:^|;\s*)mirrorgate_mirror=([a-z0-9-]{1,64})(?:;|$)/.exec(c.req.header('cookie') ?? '')?.[1]);
  const forget = 'forget' in query;
  let notice: string | null = null;
  if (forget) {
    c.header('Set-Cookie', `mirrorgate_mirror=; Max-Age=0; ${cookieAttrs}`);
    remembered = undefined;
    notice = 'Your choice is forgotten. Use the direct link to download.';
  } else if ('remember' in query && configured(query.mirror)) {
    remembered = configured(query.mirror);
    c.header('Set-Cookie', `mirrorgate_mirror=${remembered!.id}; Max-Age=31536000; ${cookieAttrs}`);
    notice = `Saved: this browser asks for ${remembered!.name} first from now on.`;
  }
  // start=0: a preference change after the download already began (the no-JavaScript "remember" button).
  const autoStart = !forget && query.start !== '0';
  const offerRemember = chosen && query.mirror === chosen.id && remembered?.id !== chosen.id ? { id: chosen.id, name: chosen.name } : null;
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
    }),
  );
}

function mirrorListAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, file: OriginFile, client: ClientFacts) {
  const ranked = rankedMirrors(decision, file.path);
  const accept = c.req.header('accept') ?? '';
  if (accept.includes('application/json')) {
    return c.json({
      file,
      client: clientSummary(client),
      mirrors: ranked.map(({ id, name, url, country, distanceKm, score }) => ({ id, name, url, country, distanceKm, score })),
      excluded: decision.excluded.map((e) => ({ id: e.mirror.spec.id, reason: e.reason })),
    });
  }
  if (wantsPlainText(c)) {
    // apt's mirror+http list format; the origin closes the list so apt always has a source.
    const lines = ranked.map((r) => `${r.url}\tpriority:${r.priority}`);
    lines.push(`${originUrl(snapshot, file.path)}\tpriority:${ranked.length + 1}`);
    return c.text(`${lines.join('\n')}\n`);
  }
  return c.html(
    mirrorListPage({
      file,
      client: clientSummary(client),
      mirrors: ranked,
      excluded: decision.excluded.map((e) => ({ id: e.mirror.spec.id, name: e.mirror.spec.name, reason: e.reason })),
      originUrl: originUrl(snapshot, file.path),
    }),
  );
}

/** text/plain or text/* (apt's Accept for the mirror list), and neither HTML nor JSON. */
function wantsPlainText(c: Context<AppEnv>): boolean {
  const accept = c.req.header('accept') ?? '';
  return (accept.includes('text/plain') || accept.includes('text/*')) && !accept.includes('text/html') && !accept.includes('application/json');
}

/** A folder URL: its repository mirror list when asked for one (?mirrorlist, or text/* as apt asks). */
function folderAnswer(c: Context<AppEnv>, services: AppServices, raw: string) {
  let folder = '';
  if (raw !== '') {
    const parsed = parseDownloadPath(raw.slice(0, -1));
    if (!parsed.ok) throw new HttpProblem(400, parsed.reason);
    folder = parsed.path;
  }
  if ('mirrorlist' in c.req.query() || wantsPlainText(c)) return repositoryListAnswer(c, services, folder);
  throw new HttpProblem(404, 'a folder: add ?mirrorlist for the mirrors holding its repository');
}

/**
 * The mirrors holding every repository index below `folder` current: apt's mirror+http list
 * (`<base URL>\tpriority:N`, the origin last), JSON, or HTML. 404 when no Release or repomd.xml is below it.
 */
function repositoryListAnswer(c: Context<AppEnv>, services: AppServices, folder: string) {
  const snapshot = services.snapshot();
  const client = requestClient(c, services);
  const repo = rankRepositoryMirrors(snapshot, folder, client, services.clock());
  if (repo.leaders.length === 0) throw new HttpProblem(404, 'no repository here: no Release, InRelease or repodata/repomd.xml below this folder');
  const base = folder === '' ? '' : `${folder}/`;
  const mirrors = rankedMirrors(repo, base);
  const origin = originUrl(snapshot, base);
  c.header('Cache-Control', 'no-store');
  c.header('Vary', 'Accept');
  const accept = c.req.header('accept') ?? '';
  if (accept.includes('application/json')) {
    return c.json({
      folder: base,
      client: clientSummary(client),
      mirrors: mirrors.map(({ id, name, url, country, distanceKm, score }) => ({ id, name, url, country, distanceKm, score })),
      excluded: repo.excluded.map((e) => ({ id: e.mirror.spec.id, reason: e.reason })),
      origin,
    });
  }
  if (wantsPlainText(c)) {
    const lines = mirrors.map((r) => `${r.url}\tpriority:${r.priority}`);
    lines.push(`${origin}\tpriority:${mirrors.length + 1}`);
    return c.text(`${lines.join('\n')}\n`);
  }
  return c.html(
    repositoryListPage({
      folder: `/${base}`,
      client: clientSummary(client),
      mirrors,
      excluded: repo.excluded.map((e) => ({ id: e.mirror.spec.id, name: e.mirror.spec.name, reason: e.reason })),
      originUrl: origin,
      listUrl: `${services.publicUrl}${DOWNLOAD_PREFIX}${base}`,
    }),
  );
}

async function metalinkAnswer(c: Context<AppEnv>, snapshot: Snapshot, decision: Decision, file: OriginFile, services: AppServices) {
  const xml = await metalink({
    file,
    mirrors: rankedMirrors(decision, file.path),
    originUrl: originUrl(snapshot, file.path),
    publishedAt: new Date(services.clock()),
  });
  c.header('Content-Disposition', `inline; filename*=UTF-8''${rfc8187(`${fileName(file.path)}.meta4`)}`);
  return c.body(xml.toString(), 200, { 'Content-Type': 'application/metalink4+xml; charset=utf-8' });
}

/** RFC 8187 ext-value: encodeURIComponent leaves ' ( ) * ! which attr-char does not allow. */
function rfc8187(value: string): string {
  return encodeURIComponent(value).replace(/['()*!]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Answer(c: Context<AppEnv>, file: OriginFile) {
  if (!file.sha256) throw new HttpProblem(404, 'no sha-256 is known for this file');
  return c.text(`${file.sha256}  ${fileName(file.path)}\n`);
}
