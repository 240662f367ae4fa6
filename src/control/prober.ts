// Probes mirrors over HTTP: reads each mirror's trace file (optional) and checks a few sample files, turning every failure into a short, human reason.
import type { Logger } from '../core/logger.js';
import type { LookupFunction } from 'node:net';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { parseTraceTime, type ProbeOutcome } from '../core/health.js';
import { encodePathForUrl } from '../core/paths.js';
import type { SampleFile } from '../core/samples.js';

export type { ProbeOutcome } from '../core/health.js';

/** One mirror to probe: where it is and what it should hold. */
export interface ProbeTarget {
  id: string;
  /** Ends with '/'. */
  baseUrl: string;
  /**
   * Where the mirror's trace file may be, relative to baseUrl, tried in order (config: the
   * mirror's `trace`, else `origin.trace`). The first readable one gives the lag; none at all is
   * not a failure (lag unknown) as long as the mirror serves its samples.
   */
  tracePath: string | readonly string[];
  /** Files the mirror should carry, with their origin sizes (see chooseSamples). */
  samples: SampleFile[];
  /** Files found missing earlier, looked at again on top of the samples (never cut by sampleFiles). */
  recheck?: SampleFile[];
}

export type ProberLog = Pick<Logger, 'warn' | 'debug'>;

export interface ProberOptions {
  /** undici's `request`, or anything with its shape (tests and instrumentation). */
  request?: typeof undiciRequest;
  /** Epoch ms for `ProbeOutcome.at`; latency is measured on the monotonic clock regardless. */
  clock?: () => number;
  /** Deadline for a whole probe: trace candidates and every sample. */
  timeoutMs: number;
  /** Probes in flight at once in probeAll. */
  concurrency?: number;
  /** At most this many samples are checked per probe (extra ones in a target are ignored). */
  sampleFiles?: number;
  userAgent?: string;
  log?: ProberLog;
  /** How host names are resolved on connect; guardedLookup() refuses loopback, link-local and metadata addresses. */
  lookup?: LookupFunction;
}

export const DEFAULT_PROBE_CONCURRENCY = 128;
/** A trace file is one line plus, for ftpsync, a few dozen; anything bigger is not a trace. */
const MAX_TRACE_BYTES = 64 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A probe step that failed; `missing` marks a problem with one sample rather than with the mirror. */
class ProbeFailure extends Error {
  constructor(
    readonly reason: string,
    readonly missing = false,
  ) {
    super(reason);
  }
}

const noopLog: ProberLog = { warn() {} };

function asList(paths: string | readonly string[]): readonly string[] {
  return typeof paths === 'string' ? [paths] : paths;
}

/** Why no trace was read: "no trace file (HTTP 404)", "trace file unreadable", or per path when there were several. */
function traceProblem(paths: readonly string[], problems: readonly string[]): string {
  if (problems.length === 0) return 'no trace file (none configured)';
  const absent = problems.every((p) => p.startsWith('HTTP '));
  if (problems.length === 1)
    return absent ? `no trace file (${problems[0]})` : problems[0] === 'unreadable' ? 'trace file unreadable' : `no trace file (${problems[0]})`;
  const each = problems.map((p, i) => `${paths[i]}: ${p}`).join(', ');
  return absent ? `no trace file (${each})` : `no readable trace file (${each})`;
}

/**
 * Drops a body we will not read without waiting for it (a stalled error page must not turn
 * "HTTP 503" into a timeout). Undici's dump reads a little so the connection may be reused, and a
 * plain destroy() would emit an unhandled 'error' event.
 */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.dump({ limit: 16 * 1024 }).catch(() => {});
}

/** TLS problems surface as OpenSSL or X.509 verification codes; show the code, it is what a provider can search for. */
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|HOSTNAME_MISMATCH|EPROTO$)/;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);

/** The first error in `err`'s chain (its causes, happy-eyeballs' per-address errors) that carries a code. */
function codedError(err: unknown): { code: string; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return { code: e.code, message: typeof e.message === 'string' ? e.message : e.code };
  // Happy-eyeballs connects report an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.length > 0) return codedError(e.errors[0]);
  return e.cause !== undefined ? codedError(e.cause) : undefined;
}

export class Prober {
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly sampleFiles: number | undefined;
  private readonly request: typeof undiciRequest;
  private readonly clock: () => number;
  private readonly log: ProberLog;
  private readonly userAgent: string;
  private readonly agent: Agent;

  constructor(opts: ProberOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_PROBE_CONCURRENCY);
    this.sampleFiles = opts.sampleFiles;
    this.request = opts.request ?? undiciRequest;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log ?? noopLog;
    this.userAgent = opts.userAgent ?? 'Mirrorgate-Probe/0.1';
    // A pool of our own: probe connections (short keep-alive, our timeouts) never mix with other traffic.
    // undici's own timers are coarse (about a second), so they are only a backstop; the AbortSignal
    // deadline in probe() is the precise one.
    this.agent = new Agent({
      connect: { timeout: opts.timeoutMs, ...(opts.lookup ? { lookup: opts.lookup } : {}) },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: Math.min(opts.timeoutMs, 4_000),
      keepAliveMaxTimeout: Math.min(opts.timeoutMs, 4_000),
    });
  }

  /** Probes one mirror; never throws. */
  async probe(target: ProbeTarget): Promise<ProbeOutcome> {
    const at = this.clock();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(`probe deadline (${this.timeoutMs} ms)`)), this.timeoutMs);
    const phase = { body: false };
    try {
      const started = performance.now();
      const trace = await this.readTrace(target.baseUrl, asList(target.tracePath), deadline.signal, phase);
      const latencyMs = trace.headersAfterMs === undefined ? undefined : Math.round((trace.headersAfterMs - started) * 10) / 10;

      const samples = this.sampleFiles === undefined ? target.samples : target.samples.slice(0, this.sampleFiles);
      const missing: string[] = [];
      const problems: string[] = [];
      // One after another on the kept-alive connection: a probe is one polite client, so
      // probeAll's bound is also the bound on requests each mirror sees from us.
      for (const sample of samples) {
        const problem = await this.checkSample(target.baseUrl, sample, deadline.signal, phase);
        if (problem) {
          missing.push(sample.path);
          problems.push(problem);
        }
      }
      // Whether the fresh samples vouch for a mirror without a trace; files known missing do not count.
      const freshMissing = missing.length;
      for (const sample of target.recheck ?? []) {
        const problem = await this.checkSample(target.baseUrl, sample, deadline.signal, phase);
        if (problem) {
          missing.push(sample.path);
          problems.push(problem);
        }
      }

      const outcome: ProbeOutcome = { ok: true, at };
      if (trace.time !== undefined) {
        outcome.traceTime = trace.time;
      } else {
        // No trace: the samples must vouch for the mirror, and with none to check, its base URL.
        // A host answering 404 to everything would otherwise be "up" and sent every download.
        if (samples.length > 0 && freshMissing === samples.length) {
          return { ok: false, reason: `${trace.problem}; ${problems.join('; ')}`, at };
        }
        if (samples.length === 0) {
          const status = await this.checkBase(target.baseUrl, deadline.signal, phase);
          if (status !== undefined) return { ok: false, reason: `${trace.problem}; base URL answers HTTP ${status}`, at };
        }
        outcome.traceProblem = trace.problem;
      }
      if (latencyMs !== undefined) outcome.latencyMs = latencyMs;
      if (missing.length > 0) {
        outcome.missing = missing;
        outcome.reason = problems.join('; ');
      }
      return outcome;
    } catch (err) {
      const reason = this.reasonFor(err, deadline.signal.aborted, phase.body);
      this.log.debug?.({ mirror: target.id, reason }, 'probe failed');
      return { ok: false, reason, at };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Probes every target with at most `concurrency` probes in flight, calling onResult as each
   * finishes (awaited, so a slow store slows the probing rather than piling up writes).
   */
  async probeAll(targets: readonly ProbeTarget[], onResult: (target: ProbeTarget, outcome: ProbeOutcome) => void | Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < targets.length) {
        const target = targets[next++]!;
        const outcome = await this.probe(target);
        try {
          await onResult(target, outcome);
        } catch (err) {
          this.log.warn({ mirror: target.id, err: (err as Error).message }, 'probe result not recorded');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, targets.length) }, worker));
  }

  /** The origin's trace time in epoch seconds (the first readable of `tracePaths`), or undefined (logged) when none can be read. */
  async readOriginTrace(originBaseUrl: string, tracePaths: string | readonly string[]): Promise<number | undefined> {
    const paths = asList(tracePaths);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error('origin trace deadline')), this.timeoutMs);
    const phase = { body: false };
    try {
      const trace = await this.readTrace(originBaseUrl, paths, deadline.signal, phase);
      if (trace.time === undefined) this.log.warn({ tracePaths: paths, reason: trace.problem }, 'origin trace not readable; lag unknown');
      return trace.time;
    } catch (err) {
      const reason = this.reasonFor(err, deadline.signal.aborted, phase.body);
      this.log.warn({ tracePaths: paths, reason }, 'origin trace not fetched; lag unknown');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Releases the probe connection pool, ending probes still in flight (and bodies still being drained). */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  /**
   * Tries each trace path in turn; the first that reads as a time wins. A 4xx, a redirect we do
   * not follow or a body that is no time means "no trace there" and the next path is tried; a 5xx,
   * a timeout or a refused connection is the mirror failing and ends the probe (thrown).
   */
  private async readTrace(
    baseUrl: string,
    tracePaths: readonly string[],
    signal: AbortSignal,
    phase: { body: boolean },
  ): Promise<{ time?: number; problem: string; headersAfterMs?: number }> {
    let headersAfterMs: number | undefined;
    const problems: string[] = [];
    for (const tracePath of tracePaths) {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.send('GET', baseUrl + encodePathForUrl(tracePath), signal, phase);
      } catch (err) {
        // Only redirects fail this way: some servers send a missing path to a page elsewhere.
        if (!(err instanceof ProbeFailure)) throw err;
        headersAfterMs ??= performance.now();
        problems.push(err.reason);
        continue;
      }
      headersAfterMs ??= performance.now();
      const status = res.statusCode;
      if (status >= 400 && status < 500) {
        discard(res.body);
        problems.push(`HTTP ${status}`);
        continue;
      }
      if (status < 200 || status > 299) {
        discard(res.body);
        throw new ProbeFailure(`HTTP ${status}`);
      }
      let time: number | undefined;
      if (status === 200) time = parseTraceTime(await this.readSmallBody(res, phase));
      else discard(res.body);
      if (time !== undefined) return { time, problem: '', headersAfterMs };
      problems.push('unreadable');
    }
    return { problem: traceProblem(tracePaths, problems), ...(headersAfterMs !== undefined ? { headersAfterMs } : {}) };
  }

  /** The first MAX_TRACE_BYTES of a body as text; a trace is small, so a bigger body is cut off. */
  private async readSmallBody(res: Dispatcher.ResponseData, phase: { body: boolean }): Promise<string> {
    phase.body = true;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_TRACE_BYTES) {
        // Only the first lines matter; stop reading a runaway body.
        res.body.destroy();
        break;
      }
    }
    phase.body = false;
    return Buffer.concat(chunks).subarray(0, MAX_TRACE_BYTES).toString('utf8');
  }

  /**
   * For a mirror with neither a trace nor samples to check: its base URL must answer 2xx or 3xx
   * (a listing, or a redirect to one, as web servers give a folder). undefined when it does, else
   * the status; HEAD first, GET when HEAD is not allowed. Redirects as for samples: one, same host.
   */
  private async checkBase(baseUrl: string, signal: AbortSignal, phase: { body: boolean }): Promise<number | undefined> {
    let status = 0;
    for (const method of ['HEAD', 'GET'] as const) {
      const res = await this.send(method, baseUrl, signal, phase);
      discard(res.body);
      status = res.statusCode;
      if (status !== 405 && status !== 501) break;
    }
    if (status >= 500) throw new ProbeFailure(`HTTP ${status}`);
    return status >= 200 && status < 400 ? undefined : status;
  }

  /** HEAD one sample: undefined when present with the origin's size, else the problem. */
  private async checkSample(baseUrl: string, sample: SampleFile, signal: AbortSignal, phase: { body: boolean }): Promise<string | undefined> {
    const res = await this.send('HEAD', baseUrl + encodePathForUrl(sample.path), signal, phase);
    // A HEAD body is empty; reading it to the end keeps the connection for the next sample.
    await res.body.dump();
    const status = res.statusCode;
    if (status === 404 || status === 410) return `sample missing: ${sample.path}`;
    // Other 4xx (403 and the like): clients would be refused this file too, so it is not on this mirror.
    if (status >= 400 && status < 500) return `sample unavailable: ${sample.path} (HTTP ${status})`;
    // 5xx and odd statuses are the mirror failing, not the file missing.
    if (status !== 200) throw new ProbeFailure(`HTTP ${status}`);
    const header = res.headers['content-length'];
    const length = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined;
    // No Content-Length on a HEAD proves nothing either way; only a different size is evidence.
    if (length !== undefined && length !== sample.size) {
      return `size mismatch: ${sample.path} (mirror ${length}, origin ${sample.size})`;
    }
    return undefined;
  }

  /**
   * One request, following at most one redirect and only on the same host: a mirror that sends
   * clients elsewhere is not serving what we vouch for.
   */
  private async send(method: 'GET' | 'HEAD', url: string, signal: AbortSignal, phase: { body: boolean }): Promise<Dispatcher.ResponseData> {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      phase.body = false;
      const res = await this.request(current, {
        method,
        signal,
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        headers: { 'user-agent': this.userAgent, accept: '*/*' },
      });
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(res.statusCode) || typeof location !== 'string') return res;
      discard(res.body);
      let target: URL;
      try {
        target = new URL(location, current);
      } catch {
        throw new ProbeFailure(`bad redirect (${location.slice(0, 100)})`);
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new ProbeFailure(`bad redirect (${target.protocol})`);
      if (target.hostname !== current.hostname) throw new ProbeFailure(`redirect to another host (${target.host})`);
      if (hop >= 1) throw new ProbeFailure('too many redirects');
      current = target;
    }
  }

  private reasonFor(err: unknown, deadlinePassed: boolean, inBody: boolean): string {
    if (err instanceof ProbeFailure) return err.reason;
    // Whatever undici reports after our abort, the cause is the deadline.
    if (deadlinePassed) return inBody ? 'stalled body' : `timeout after ${this.timeoutMs} ms`;
    const coded = codedError(err);
    const code = coded?.code;
    if (code === 'UND_ERR_BODY_TIMEOUT') return 'stalled body';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
      return `timeout after ${this.timeoutMs} ms`;
    }
    if (code === 'ECONNREFUSED') return 'connection refused';
    // The guarded lookup's refusal says which address and why (control/guardedLookup.ts).
    if (code === 'EFORBIDDENADDRESS') return coded!.message;
    if (code !== undefined && DNS_CODES.has(code)) return 'DNS lookup failed';
    if (code !== undefined && TLS_CODE.test(code)) return `TLS error: ${code}`;
    if (code === 'ECONNRESET') return 'connection reset';
    if (code === 'UND_ERR_SOCKET') return 'connection closed';
    if (code === 'EHOSTUNREACH') return 'host unreachable';
    if (code === 'ENETUNREACH') return 'network unreachable';
    const message = err instanceof Error ? err.message : String(err);
    return code ? `${code}: ${message}` : message || 'probe failed';
  }
}

/**
 * The origin's trace time in epoch seconds, or undefined when it cannot be read: a one-off
 * for callers without a Prober at hand (one request per probe round, so a pool of its own is cheap).
 */
export async function readOriginTrace(
  originBaseUrl: string,
  tracePaths: string | readonly string[],
  timeoutMs = 5_000,
  log?: ProberLog,
): Promise<number | undefined> {
  const prober = new Prober({ timeoutMs, ...(log ? { log } : {}) });
  try {
    return await prober.readOriginTrace(originBaseUrl, tracePaths);
  } finally {
    await prober.close();
  }
}
