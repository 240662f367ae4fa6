// What a /download request asks for, read once from its target and two headers: both transports (the Node fast path and the Hono route) start here.
import { decodeDownloadPath, parseDownloadPath, validateOriginPath } from '../../core/paths.js';
import type { Snapshot } from '../../core/snapshot.js';
import { accepts } from '../accept.js';

export const DOWNLOAD_PREFIX = '/download/';
export const METALINK_SUFFIX = '.meta4';
/** The interstitial's "remember my choice" cookie: a mirror id ([a-z0-9-]+, so it needs no quoting). */
export const REMEMBER_COOKIE = 'mirrorgate_mirror';
const REMEMBERED = new RegExp(`(?:^|;\\s*)${REMEMBER_COOKIE}=([a-z0-9-]{1,64})(?:;|$)`);

/** The answer formats of one file. */
export type Answer = 'redirect' | 'page' | 'mirrorlist' | 'metalink' | 'sha256';

/** The parts of a request the classification reads (transport-neutral: strings, '' when absent). */
export interface DownloadRequest {
  /** The request target as sent: /download/… with its query, still percent-encoded. */
  readonly target: string;
  readonly accept: string;
  readonly cookie: string;
}

export type DownloadIntent =
  /** 400: a path we never redirect for (traversal, NUL, bad encoding, too long …). */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** A folder: /download/{folder}/ or the root, or a path that is no file but asked for as a list (apt's mirror+http). */
  | { readonly kind: 'folder'; readonly folder: string; readonly list: boolean; readonly query: Query }
  /** A path that is not in the file set: 404. */
  | { readonly kind: 'missing'; readonly path: string; readonly query: Query }
  /** One file of the file set, and how to answer for it. */
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly file: number;
      readonly answer: Answer;
      /** ?mirror=, else the remembered mirror (unless ?forget); decide() ignores it when unfit. */
      readonly preferMirror: string | undefined;
      readonly query: Query;
    };

/** The query as a read-only lookup; empty for the common case of no query at all. */
export interface Query {
  has(name: string): boolean;
  get(name: string): string | null;
}

const NO_QUERY: Query = { has: () => false, get: () => null };

/** The still-encoded path after /download/ (no query), or undefined when the target is not a download. */
export function rawDownloadPath(target: string): string | undefined {
  const q = target.indexOf('?');
  const pathPart = q >= 0 ? target.slice(0, q) : target;
  return pathPart.startsWith(DOWNLOAD_PREFIX) ? pathPart.slice(DOWNLOAD_PREFIX.length) : undefined;
}

/** Why a raw download path (after /download/) is refused, or undefined: folders ("…/", or the root) are checked without their slash. */
export function downloadPathProblem(raw: string): string | undefined {
  if (raw === '') return undefined;
  const parsed = parseDownloadPath(raw.endsWith('/') ? raw.slice(0, -1) : raw);
  return parsed.ok ? undefined : parsed.reason;
}

/** text/plain or text/* (apt's Accept for lists and extension-less files), and neither HTML nor JSON. */
export function wantsPlainText(accept: string): boolean {
  return (accepts(accept, 'text/plain') || accepts(accept, 'text/*')) && !accepts(accept, 'text/html') && !accepts(accept, 'application/json');
}

export function classifyDownload(req: DownloadRequest, snapshot: Snapshot): DownloadIntent {
  const q = req.target.indexOf('?');
  const query: Query = q >= 0 ? new URLSearchParams(req.target.slice(q + 1)) : NO_QUERY;
  const raw = rawDownloadPath(q >= 0 ? req.target.slice(0, q) : req.target) ?? '';
  const listAsked = query.has('mirrorlist') || wantsPlainText(req.accept);

  if (raw === '' || raw.endsWith('/')) {
    if (raw === '') return { kind: 'folder', folder: '', list: listAsked, query };
    const parsed = parseDownloadPath(raw.slice(0, -1));
    return parsed.ok ? { kind: 'folder', folder: parsed.path, list: listAsked, query } : { kind: 'invalid', reason: parsed.reason };
  }
  const decoded = decodeDownloadPath(raw);
  if (!decoded.ok) return { kind: 'invalid', reason: decoded.reason };
  let path = decoded.path;
  let file = snapshot.files.lookup(path);
  // The index holds only paths that passed validateOriginPath: a path it lacks is checked here.
  const problem = file < 0 ? validateOriginPath(path) : undefined;
  if (problem !== undefined) return { kind: 'invalid', reason: problem };

  let answer = answerFor(query, req.accept);
  // A .meta4 suffix asks for the metalink of the file without it, unless the origin has such a file itself.
  if (file < 0 && path.endsWith(METALINK_SUFFIX)) {
    const base = snapshot.files.lookup(path.slice(0, -METALINK_SUFFIX.length));
    if (base >= 0) {
      path = path.slice(0, -METALINK_SUFFIX.length);
      file = base;
      answer = 'metalink';
    }
  }
  if (file < 0) {
    // apt's mirror+http asks for the list at the folder URL without its slash, with Accept: text/*.
    return listAsked ? { kind: 'folder', folder: path, list: true, query } : { kind: 'missing', path, query };
  }
  const preferMirror = query.get('mirror') ?? (query.has('forget') ? undefined : REMEMBERED.exec(req.cookie)?.[1]);
  return { kind: 'file', path, file, answer, preferMirror, query };
}

function answerFor(query: Query, accept: string): Answer {
  if (query.has('sha256')) return 'sha256';
  if (query.has('mirrorlist')) return 'mirrorlist';
  if (query.has('metalink')) return 'metalink';
  if (query.has('direct')) return 'redirect';
  return accepts(accept, 'text/html') ? 'page' : 'redirect';
}

/** The mirror id in the remember cookie, if any. */
export function rememberedMirrorId(cookie: string): string | undefined {
  return REMEMBERED.exec(cookie)?.[1];
}
