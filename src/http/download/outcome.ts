// One file's decision and what it is recorded as (metrics, stats, impressions, the access log): shared by both transports.
import { decide, type Decision } from '../../core/decide.js';
import type { RequestLine } from '../../core/logger.js';
import type { ClientFacts } from '../../core/model.js';
import type { Snapshot } from '../../core/snapshot.js';
import type { DownloadEvents, LogLike } from '../services.js';
import type { Answer } from './intent.js';

export interface DownloadOutcome {
  readonly decision: Decision;
  /** The chosen mirror's id, or "origin". */
  readonly mirror: string;
  /** Seconds the pure decision took. */
  readonly seconds: number;
}

/** The decision for one file, as much of the ranking as the answer needs. */
export function decideFile(
  snapshot: Snapshot,
  path: string,
  file: number,
  answer: Answer,
  client: ClientFacts,
  nowMs: number,
  preferMirror: string | undefined,
): DownloadOutcome {
  const started = performance.now();
  const decision = decide(snapshot, path, client, {
    nowMs,
    file,
    preferMirror,
    explain: answer === 'mirrorlist',
    // A redirect needs the pick and the Link alternatives only; lists and metalinks want all.
    limit: answer === 'redirect' ? snapshot.routing.maxAlternatives + 1 : undefined,
  });
  return { decision, mirror: decision.chosen?.mirror.spec.id ?? 'origin', seconds: (performance.now() - started) / 1000 };
}

/**
 * Records an answered file request: the decision for metrics; a download when a redirect or a page
 * sends a client to a mirror (HEAD is only a look); a logo impression when a page shows a sponsor.
 */
export function observeFile(
  events: DownloadEvents | undefined,
  o: { outcome: DownloadOutcome; answer: Answer; method: string; client: ClientFacts; path: string; files: Snapshot['files']; atMs: number },
): void {
  const { decision, mirror } = o.outcome;
  events?.decided?.(o.outcome.seconds, decision.outcome, mirror);
  if ((o.answer !== 'redirect' && o.answer !== 'page') || o.method !== 'GET') return;
  // One host holds a whole /64: counted by address, it could count one download (or logo impression) per address.
  const ip = o.client.countAs ?? o.client.ip;
  const file = decision.file;
  const files = o.files;
  events?.download?.({ ip, path: o.path, mirror, country: o.client.country ?? '--', size: files.size(file), atMs: o.atMs, file, fileIndex: files });
  if (o.answer === 'page' && decision.chosen?.mirror.spec.sponsor) events?.impression?.(mirror, o.atMs, { ip, path: o.path });
}

/** The access log line every request gets, from either transport. */
export function logRequest(
  logger: LogLike,
  l: { reqId: string | undefined; method: string; path: string; status: number; mirror: string | undefined; startedAt: number },
): void {
  const line: RequestLine = {
    reqId: l.reqId,
    method: l.method,
    path: l.path,
    status: l.status,
    mirror: l.mirror,
    ms: Math.round((performance.now() - l.startedAt) * 100) / 100,
  };
  if (logger.request) logger.request(line);
  else logger.info(line, 'request');
}

/** Incoming request ids we echo, as hono/request-id accepts them; anything else gets a fresh one. */
export const REQUEST_ID = /^[\w\-=]{1,255}$/;

let idPrefix = '';
let idCounter = 0;

/**
 * A fresh request id, UUID-shaped: a random prefix per process (or isolate) and a counter. Unique where
 * a random UUID per request would be, for a fraction of its cost on the hot path. The prefix is drawn
 * on first use, because Workers allow no random values at module scope.
 */
export function newRequestId(): string {
  if (idPrefix === '' || idCounter >= 0xffffffffffff) {
    idPrefix = crypto.randomUUID().slice(0, 24);
    idCounter = 0;
  }
  const n = (idCounter++).toString(16);
  return idPrefix + '000000000000'.slice(n.length) + n;
}
