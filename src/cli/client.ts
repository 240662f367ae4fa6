// HTTP client for the staff and provider API: bearer auth, timeouts, NDJSON streams, answers checked against the API's own schemas, and every failure turned into a CliError with its exit code.
import { Agent, request } from 'undici';
import type { z } from 'zod';
import { problemAnswer } from '../http/schemas/admin.js';
import { CliError, EXIT } from './context.js';
import { clean } from './format.js';

export interface ClientOptions {
  /** The server's base URL; a path prefix (behind a proxy) is kept. */
  url: string;
  /** Sent as a bearer token, never printed. */
  token?: string;
  /** Deadline per request, ms; undefined waits as long as the server keeps the connection. */
  timeoutMs?: number;
}

/** What a request is about, so failures name it the way the user wrote it. */
export interface CallContext {
  /** What a 404 is about, e.g. `mirror "acme-de"`. */
  subject?: string;
  /** API field → command-line flag, so a 422 names the flag the user typed. */
  flags?: Record<string, string>;
}

/** The server answered with an error status. */
export class ApiError extends CliError {
  constructor(
    message: string,
    exitCode: number,
    readonly status: number,
    readonly fields: Record<string, string>,
  ) {
    super(message, exitCode);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | undefined>;

/**
 * The schema of an answer (http/schemas/admin.ts). Its input and output types are the same (no
 * transforms, no defaults), so an answer that passes is returned as it was sent: --json prints the
 * server's JSON, fields this CLI does not know included.
 */
export type Answer<T> = z.ZodType<T, T>;

export class AdminClient {
  /** The server as messages show it: no credentials, no trailing slash. */
  readonly url: string;
  private readonly base: URL;
  private readonly agent: Agent;

  constructor(private readonly opts: ClientOptions) {
    this.base = parseServerUrl(opts.url);
    this.url = `${this.base.origin}${this.base.pathname.replace(/\/$/, '')}`;
    // Our own deadline (AbortSignal) governs; undici's per-phase timeouts would cut long scans short.
    this.agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  }

  get<T>(path: string, answer: Answer<T>, query: Query = {}, ctx: CallContext = {}): Promise<T> {
    return this.call('GET', path, answer, { query, ctx });
  }

  post<T>(path: string, body: unknown, answer: Answer<T>, ctx: CallContext = {}): Promise<T> {
    return this.call('POST', path, answer, { body, ctx });
  }

  patch<T>(path: string, body: unknown, answer: Answer<T>, ctx: CallContext = {}): Promise<T> {
    return this.call('PATCH', path, answer, { body, ctx });
  }

  delete<T>(path: string, answer: Answer<T>, ctx: CallContext = {}): Promise<T> {
    return this.call('DELETE', path, answer, { ctx });
  }

  /** PUTs raw bytes (a logo) with their Content-Type. */
  putBytes<T>(path: string, bytes: Uint8Array, contentType: string, answer: Answer<T>, ctx: CallContext = {}): Promise<T> {
    return this.call('PUT', path, answer, { raw: { bytes, contentType }, ctx });
  }

  /** POSTs and hands each line of an NDJSON answer, checked against `line`, to `onLine` as it arrives. */
  async stream<T>(path: string, body: unknown, line: Answer<T>, onLine: (value: T) => void, ctx: CallContext = {}): Promise<void> {
    const signal = this.signal();
    const res = await this.send('POST', path, { body, accept: 'application/x-ndjson', signal });
    if (res.statusCode >= 300) throw this.problem(res.statusCode, await this.readText(res, signal), ctx);
    let pending = '';
    const take = (text: string) => {
      if (text.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new CliError(`unexpected answer from ${this.url}: a stream line is not JSON: ${clean(text.slice(0, 200))}`, EXIT.failed);
      }
      onLine(this.checked('POST', path, line, value, `the stream line ${text.slice(0, 200)}`));
    };
    try {
      for await (const chunk of res.body) {
        pending += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          take(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw this.unreachable(err, signal, 'lost the connection to');
    }
    take(pending);
  }

  /** Releases the connection pool so the process can exit at once. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(
    method: string,
    path: string,
    answer: Answer<T>,
    req: { query?: Query; body?: unknown; raw?: { bytes: Uint8Array; contentType: string }; ctx: CallContext },
  ): Promise<T> {
    const signal = this.signal();
    const res = await this.send(method, path, { query: req.query, body: req.body, raw: req.raw, accept: 'application/json', signal });
    const text = await this.readText(res, signal);
    if (res.statusCode >= 300) throw this.problem(res.statusCode, text, req.ctx, method);
    let value: unknown;
    if (res.statusCode !== 204 && text !== '') {
      try {
        value = JSON.parse(text);
      } catch {
        const type = String(res.headers['content-type'] ?? 'no content type');
        throw new CliError(
          `unexpected answer from ${this.url}: HTTP ${res.statusCode} with ${clean(type)}, not JSON (is this a Mirrorgate server?)`,
          EXIT.failed,
        );
      }
    }
    return this.checked(method, path, answer, value);
  }

  /** The answer as sent when it has the shape the API promises; else a failure naming what is wrong, field by field. */
  private checked<T>(method: string, path: string, answer: Answer<T>, value: unknown, whole = 'the answer'): T {
    const parsed = answer.safeParse(value);
    if (parsed.success) return value as T;
    const issues = parsed.error.issues;
    const shown = issues.slice(0, 3).map((issue) => `${issue.path.map(String).join('.') || whole}: ${issue.message}`);
    if (issues.length > shown.length) shown.push(`and ${issues.length - shown.length} more`);
    throw new CliError(
      `unexpected answer from ${this.url} to ${method} /${path.replace(/^\/+/, '')}: ${clean(shown.join('; '))} ` +
        '(is this a Mirrorgate server of the same version?)',
      EXIT.failed,
    );
  }

  private async send(
    method: string,
    path: string,
    req: { query?: Query; body?: unknown; raw?: { bytes: Uint8Array; contentType: string }; accept: string; signal: AbortSignal | undefined },
  ): Promise<Awaited<ReturnType<typeof request>>> {
    const url = new URL(path.replace(/^\/+/, ''), this.base);
    for (const [key, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: req.accept, 'user-agent': 'mirrorgate-cli' };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let body: string | Uint8Array | undefined;
    if (req.raw !== undefined) {
      body = req.raw.bytes;
      headers['content-type'] = req.raw.contentType;
    } else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    try {
      return await request(url, { method: method as 'GET', headers, body, signal: req.signal, dispatcher: this.agent });
    } catch (err) {
      throw this.unreachable(err, req.signal, 'cannot reach');
    }
  }

  private async readText(res: Awaited<ReturnType<typeof request>>, signal: AbortSignal | undefined): Promise<string> {
    try {
      return await res.body.text();
    } catch (err) {
      throw this.unreachable(err, signal, 'lost the connection to');
    }
  }

  private signal(): AbortSignal | undefined {
    return this.opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(this.opts.timeoutMs);
  }

  private unreachable(err: unknown, signal: AbortSignal | undefined, what: string): CliError {
    const reason = signal?.aborted ? `no answer within ${seconds(this.opts.timeoutMs ?? 0)} (--timeout)` : networkReason(err);
    return new CliError(`${what} ${this.url}: ${reason}`, EXIT.unreachable);
  }

  /** Maps an error status to the CLI's message and exit code; `method` tells a failed read from a refused change. */
  private problem(status: number, text: string, ctx: CallContext, method = 'POST'): ApiError {
    let message = '';
    let fields: Record<string, string> = {};
    try {
      const body = problemAnswer.safeParse(JSON.parse(text));
      if (body.success) {
        message = body.data.error;
        fields = body.data.fields ?? {};
      }
    } catch {
      // Not JSON (a proxy's page, a plain-text error): its first line says most; a page says only that it is one.
      const first = text.trim().split('\n')[0] ?? '';
      message = first.startsWith('<') ? `an HTML page, not Mirrorgate's API: is ${this.url} the service's address?` : first;
    }
    message = clean(message.slice(0, 500));
    const fieldLines = Object.entries(fields)
      .map(([field, reason]) => `\n  ${describeField(field, ctx.flags)}: ${clean(reason)}`)
      .join('');
    switch (status) {
      case 401: {
        const hint = this.opts.token ? '' : ' (no token given: pass --token or set MIRRORGATE_TOKEN)';
        return new ApiError(`the token was refused (401): ${message || 'unauthorized'}${hint}`, EXIT.unauthorized, status, fields);
      }
      case 403:
        return new ApiError(`not allowed with this token (403): ${message || 'forbidden'}`, EXIT.forbidden, status, fields);
      case 404: {
        // The server's own words name the mirror or offer; a bare "not found" means the route itself is missing.
        const named = message && message !== 'not found' ? message : ctx.subject ? `no ${ctx.subject}` : `not found on ${this.url}`;
        return new ApiError(`${named} (404)`, EXIT.notFound, status, fields);
      }
      case 409:
        return new ApiError(`refused (409): ${message || 'conflict'}${fieldLines}`, EXIT.failed, status, fields);
      case 400:
      case 422:
        return new ApiError(`${message || 'invalid request'} (${status})${fieldLines}`, EXIT.failed, status, fields);
      case 503:
        // A read (stats, offers, audit) saves nothing: say that it cannot answer, not that it cannot save.
        return method === 'GET'
          ? new ApiError(`the server cannot answer this right now: ${message || 'service unavailable'}`, EXIT.unavailable, status, fields)
          : new ApiError(`the server cannot save changes right now: ${message || 'service unavailable'}`, EXIT.unavailable, status, fields);
      case 415:
        return new ApiError(`${message || 'unsupported type'} (415)${fieldLines}`, EXIT.failed, status, fields);
      default:
        return new ApiError(`the server answered ${status}: ${message || 'no reason given'}${fieldLines}`, EXIT.failed, status, fields);
    }
  }
}

function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`invalid server URL "${clean(text)}": expected http://host:port or https://host`, EXIT.usage);
  }
  url.username = '';
  url.password = '';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // As given, less any password: `localhost:8080` parses as a URL of scheme "localhost:", whose origin is "null".
    const hint = /^[a-z][a-z0-9+.-]*:\d/i.test(text) ? ` (did you mean http://${clean(text)}?)` : '';
    throw new CliError(`invalid server URL "${clean(url.href)}": expected http:// or https://${hint}`, EXIT.usage);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** `baseUrl (--base-url)`: the API's field, and the flag that sets it when there is one. */
function describeField(field: string, flags: Record<string, string> | undefined): string {
  // "asn.1" or "content.include.0" come from the flag of their list.
  const flag = flags?.[field] ?? flags?.[field.replace(/(\.\d+)+$/, '')];
  return flag ? `${field} (${flag})` : field;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  UND_ERR_CLOSED: 'the connection closed unexpectedly',
  ERR_SSL_WRONG_VERSION_NUMBER: 'no TLS there: the server answers plain http (use http://)',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'no TLS there: the server answers plain http (use http://)',
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified",
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another name",
};

function networkReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  if (code && NETWORK_REASONS[code]) return `${NETWORK_REASONS[code]} (${code})`;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return clean(code && !message.includes(code) ? `${message} (${code})` : message);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
