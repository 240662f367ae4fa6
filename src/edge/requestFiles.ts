// Which origin paths a request needs file facts for, read from the URL the way the app's routes read it.
import { parseDownloadPath } from '../core/paths.js';
import { withRoutePrefix } from '../http/target.js';

const DOWNLOAD_PREFIX = '/download/';
const FILES_PREFIX = '/api/v1/files/';
const METALINK_SUFFIX = '.meta4';

/**
 * The origin paths whose shard a request needs, most wanted first: for GET/HEAD /download/{path}
 * the path, then (for "x.meta4") the path without the suffix, which the app answers with a
 * metalink when "x.meta4" itself is not a file; for /api/v1/files/{path} the path. Empty for
 * every other request and for a path the app refuses with 400 (it needs no file to say so).
 *
 * `rawTarget` is the request target as received (http/target.ts originForm); the app takes the path
 * from it in the same way (http/target.ts withRoutePrefix: the router matched the prefix on the decoded path).
 */
export function requestFilePaths(method: string, pathname: string, rawTarget: string): string[] {
  if (method !== 'GET' && method !== 'HEAD') return [];
  const q = rawTarget.indexOf('?');
  const pathPart = q >= 0 ? rawTarget.slice(0, q) : rawTarget;
  if (pathname.startsWith(FILES_PREFIX)) {
    const parsed = parseDownloadPath(withRoutePrefix(pathPart, FILES_PREFIX).slice(FILES_PREFIX.length));
    return parsed.ok ? [parsed.path] : [];
  }
  if (pathname.startsWith(DOWNLOAD_PREFIX)) {
    const parsed = parseDownloadPath(withRoutePrefix(pathPart, DOWNLOAD_PREFIX).slice(DOWNLOAD_PREFIX.length));
    if (!parsed.ok) return [];
    const path = parsed.path;
    return path.endsWith(METALINK_SUFFIX) && path.length > METALINK_SUFFIX.length ? [path, path.slice(0, -METALINK_SUFFIX.length)] : [path];
  }
  return [];
}
