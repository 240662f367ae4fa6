// The control plane's own pages and APIs (console, admin API, offers), passed through by the Worker so one hostname serves everything.
import { wantsPlainText } from '../http/download/intent.js';
import { EDGE_PLACE_HEADER, EDGE_TOKEN_HEADER, edgePlaceValue } from '../http/edgePlace.js';
import type { Location } from '../geo/locator.js';

/** Paths the control plane answers and the edge does not: exact, or as a prefix followed by "/". */
const CONTROL_PATHS = ['/admin', '/login', '/logout', '/staff', '/provider', '/offer', '/offers', '/api/v1/offers'] as const;

/**
 * A folder request: a listing (/download/…/, or /download, as HTML or JSON), a folder's mirror list or apt repository list.
 * With a sharded snapshot the edge holds only the shards its downloads needed, never a whole folder, so the
 * control plane answers it. `path` is the routed path (http/target.ts routedPath).
 */
export function isFolderRequest(method: string, path: string): boolean {
  // "/download" is the root folder too: the router matches it as /download/*, and Node lists the whole tree.
  return (method === 'GET' || method === 'HEAD') && (path === '/download' || (path.startsWith('/download/') && path.endsWith('/')));
}

/**
 * A list asked of a path that is not a file (`?mirrorlist`, or an apt repository list by `Accept: text/*`):
 * a folder named without its slash, answered from the whole tree as isFolderRequest's are.
 */
export function isListOfFolder(url: URL, accept: string): boolean {
  return url.searchParams.has('mirrorlist') || wantsPlainText(accept);
}

/** Whether a request belongs to the control plane (the staff API, the console, provider offers). */
export function isControlPlanePath(pathname: string): boolean {
  for (const p of CONTROL_PATHS) {
    if (pathname === p || pathname.startsWith(`${p}/`)) return true;
  }
  return false;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and what Cloudflare or a client says about the connection: set anew below. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'forwarded',
  'cf-connecting-ip',
  'cf-ipcountry',
  'cf-ray',
  'cf-visitor',
  'cf-worker',
  'cf-ew-via',
  'cdn-loop',
  // Set below from what the edge knows; a client's own never pass.
  EDGE_PLACE_HEADER,
  EDGE_TOKEN_HEADER,
]);

export interface ForwardOptions {
  controlUrl: string;
  /** The client as Cloudflare saw it (CF-Connecting-IP): the control plane's rate limits and logs use it. */
  clientIp: string;
  /** Where Cloudflare places the client, sent with `token` (the edge's) so the control plane ranks for the same place. */
  place?: Location;
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/**
 * The request, sent on to the control plane with the client's address in X-Forwarded-For (the
 * control plane honours it when Cloudflare's ranges are in its trustedProxies), and its answer as
 * it is: status, Set-Cookie, Location, body. Redirects are passed to the client, not followed.
 */
export async function forwardToControlPlane(request: Request, opts: ForwardOptions): Promise<Response> {
  return (
    (await tryForwardToControlPlane(request, opts)) ??
    new Response('Error: the control plane cannot be reached right now; try again shortly\n', {
      status: 502,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '30', 'Cache-Control': 'no-store' },
    })
  );
}

/** As forwardToControlPlane, but undefined when the control plane cannot be reached (or does not answer within timeoutMs). */
export async function tryForwardToControlPlane(request: Request, opts: ForwardOptions): Promise<Response | undefined> {
  const url = new URL(request.url);
  const headers = new Headers();
  for (const [name, value] of request.headers) if (!DROPPED.has(name.toLowerCase())) headers.append(name, value);
  headers.set('X-Forwarded-For', opts.clientIp);
  headers.set('X-Forwarded-Proto', url.protocol === 'https:' ? 'https' : 'http');
  headers.set('X-Forwarded-Host', url.host);
  if (opts.place && opts.token) {
    headers.set(EDGE_PLACE_HEADER, edgePlaceValue(opts.place));
    headers.set(EDGE_TOKEN_HEADER, opts.token);
  }
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  try {
    const res = await (opts.fetch ?? fetch)(`${opts.controlUrl}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: hasBody ? request.body : null,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      ...(hasBody ? { duplex: 'half' } : {}),
    } as RequestInit);
    // A fresh Response: the one fetch returns has immutable headers.
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } catch {
    return undefined;
  }
}
