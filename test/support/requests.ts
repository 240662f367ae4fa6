// Asking a running Mirrorgate what tests ask: raw HTTP (targets fetch would normalise, headers it forbids), JSON calls to the
// admin and provider APIs, downloads as a tool or a browser from a chosen client address, /mirrors as JSON, a provider's offer.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { CLIENT_IPS, type ClientIpKey } from './clientIps.js';
import { CFILES, encodePath, FILES, STAFF_TOKEN } from './network.js';

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends `target` exactly as given (no dot-segment removal, no re-encoding). */
export function rawRequest(baseUrl: string, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: opts.method ?? 'GET',
        path: target,
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One header of a raw response; repeated ones joined with ", ". */
export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

// ---------------------------------------------------------------------------------------------
// JSON calls

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface CallOptions {
  /** Bearer token to send; omit for none. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (overrides body), with Content-Type application/json unless headers say otherwise. */
  raw?: string;
  headers?: Record<string, string>;
}

/** One request against a Mirrorgate base URL; never follows redirects. */
export async function call(base: string, method: string, target: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(`${base}${target}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A staff API call. */
export function staffCall(base: string, method: string, target: string, body?: unknown): Promise<Reply> {
  return call(base, method, target, { token: STAFF_TOKEN, body });
}

/** Bound to one server and (optionally) one token. */
export function client(base: string, token?: string) {
  const withToken = (opts: CallOptions = {}): CallOptions => (token === undefined || 'token' in opts ? opts : { ...opts, token });
  return {
    get: (target: string, opts?: CallOptions) => call(base, 'GET', target, withToken(opts)),
    post: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'POST', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    patch: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'PATCH', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    put: (target: string, body?: unknown, opts?: CallOptions) => call(base, 'PUT', target, withToken({ ...opts, ...(body === undefined ? {} : { body }) })),
    delete: (target: string, opts?: CallOptions) => call(base, 'DELETE', target, withToken(opts)),
  };
}
export type Client = ReturnType<typeof client>;

/** A provider's offer (POST /api/v1/offers): a valid one with `fields` over it, sent from `from` when given. */
export function submitOffer(base: string, fields: Record<string, unknown> = {}, from?: string): Promise<Reply> {
  const body = {
    contact: { name: 'R', email: 'r@example.org' },
    organisation: 'O',
    location: { country: 'DE' },
    storageTB: 10,
    bandwidthMbps: 1000,
    ...fields,
  };
  return call(base, 'POST', '/api/v1/offers', { body, headers: from === undefined ? {} : xff(from) });
}

// ---------------------------------------------------------------------------------------------
// Downloads

/** The X-Forwarded-For header of a client: a CLIENT_IPS key or an address. */
export function xff(who: ClientIpKey | string): Record<string, string> {
  const ip = who in CLIENT_IPS ? CLIENT_IPS[who as ClientIpKey].ip : who;
  return { 'X-Forwarded-For': ip };
}

/** /download/… of a file: a FILES or CFILES key (the same path where both have it), or an origin path. */
export function downloadTarget(key: string, query = ''): string {
  const p = key in FILES ? FILES[key as keyof typeof FILES] : key in CFILES ? CFILES[key as keyof typeof CFILES].path : key;
  return `/download/${encodePath(p)}${query}`;
}

/**
 * The mirror a tool would be sent to, without counting a download (HEAD is only a look):
 * X-Mirrorgate-Mirror of a HEAD with Accept: *\/*; '(origin)' when it is sent to the origin.
 */
export async function choice(base: string, who: ClientIpKey | string, key = 'readme'): Promise<string> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { method: 'HEAD', headers: { Accept: '*/*', ...xff(who) }, redirect: 'manual' });
  if (res.status !== 302) throw new Error(`HEAD ${downloadTarget(key)} answered ${res.status}`);
  return res.headers.get('x-mirrorgate-mirror') ?? '(origin)';
}

/** A real (counted) download by a tool: GET, Accept without text/html, → 302. */
export async function download(
  base: string,
  who: ClientIpKey | string,
  key = 'readme',
  extra: Record<string, string> = {},
): Promise<{ status: number; mirror: string | null; location: string | null }> {
  const res = await fetch(`${base}${downloadTarget(key)}`, { headers: { Accept: '*/*', ...xff(who), ...extra }, redirect: 'manual' });
  await res.arrayBuffer();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror'), location: res.headers.get('location') };
}

/** A browser download: the interstitial page (a download and, with a sponsor, a logo impression). */
export async function browserDownload(base: string, who: ClientIpKey | string, key: string): Promise<{ status: number; mirror: string | null }> {
  const res = await fetch(`${base}${downloadTarget(key)}`, {
    headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...xff(who) },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror') };
}

// ---------------------------------------------------------------------------------------------
// The public mirror list

export interface MirrorRow {
  id: string;
  status: string;
  reason: string | null;
  lagSeconds: number | null;
  lastSync: string | null;
  latencyMs: number | null;
  weight: number;
  files: number;
  share: number;
}

let mirrorsCalls = 0;
/** GET /mirrors as JSON; each call from another client address (X-Forwarded-For) so the public rate limit never bites. */
export async function mirrorsJson(base: string): Promise<Record<string, MirrorRow>> {
  const n = mirrorsCalls++;
  const res = await fetch(`${base}/mirrors`, {
    headers: { Accept: 'application/json', 'X-Forwarded-For': `198.51.${Math.floor(n / 250) % 250}.${(n % 250) + 1}` },
  });
  if (res.status !== 200) throw new Error(`/mirrors answered ${res.status}`);
  const body = (await res.json()) as { mirrors: MirrorRow[] };
  return Object.fromEntries(body.mirrors.map((m) => [m.id, m]));
}

/** GET /readyz as JSON. */
export async function readyz(base: string): Promise<Record<string, unknown>> {
  return (await fetch(`${base}/readyz`)).json() as Promise<Record<string, unknown>>;
}
