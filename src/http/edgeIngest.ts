// POST /admin/v1/stats/downloads: download counts from edge isolates, recorded by the control plane's own rules (once per client and file per ten minutes).
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Principal } from '../control/tokens.js';
import { principalOf } from './auth.js';
import { HttpProblem } from './problem.js';
import { problemFields } from './schemas/problemFields.js';
import { issueWords } from '../config/issueWords.js';
import type { AppEnv, AppServices } from './services.js';

export const EDGE_DOWNLOADS_PATH = '/admin/v1/stats/downloads';
/** Events one POST may carry; an isolate sends more in several. */
export const MAX_EDGE_EVENTS = 5_000;
/** An edge may hold counts while the control plane is away; older ones would land on a day already reported. */
const MAX_EVENT_AGE_MS = 7 * 86_400_000;
/** Isolates' clocks are Cloudflare's; a little skew is allowed, the future is not. */
const MAX_EVENT_SKEW_MS = 60_000;

const mirrorOrOrigin = z.string().regex(/^[a-z0-9-]{1,64}$/, { message: 'must be a mirror id or "origin"' });
const atMs = z.number().int().nonnegative();
const downloadEvent = z.strictObject({
  ip: z.string().min(1).max(64),
  path: z.string().min(1).max(1024),
  mirror: mirrorOrOrigin,
  country: z.string().regex(/^([A-Z]{2}|--)$/, { message: 'must be an ISO country code or "--"' }),
  size: z.number().finite().nonnegative(),
  atMs,
});
/** A logo shown: with its client and file (counted once per pair in ten minutes, across isolates), or a total without them. */
const impressionEvent = z
  .strictObject({
    mirror: mirrorOrOrigin,
    atMs,
    count: z.int().min(1).max(1_000_000),
    ip: z.string().min(1).max(64).optional(),
    path: z.string().min(1).max(1024).optional(),
  })
  .refine((i) => (i.ip === undefined) === (i.path === undefined) && (i.ip === undefined || i.count === 1), {
    message: 'ip and path come together, with a count of 1',
  });
export const edgeDownloadsBody = z.strictObject({
  downloads: z.array(downloadEvent).max(MAX_EDGE_EVENTS).default([]),
  impressions: z.array(impressionEvent).max(MAX_EDGE_EVENTS).default([]),
});
export type EdgeDownloadsBatch = z.input<typeof edgeDownloadsBody>;

/**
 * A token that may read the routing snapshot: staff, or an `edge` token (which may do that and post
 * download counts, and nothing else: the admin routes refuse it everywhere else).
 */
export function snapshotReader(c: Context, services: AppServices): Principal {
  // Config tokens and those issued at runtime alike.
  const token = principalOf(c, services);
  if (!token) throw new HttpProblem(401, c.req.header('authorization') ? 'invalid token' : 'a bearer token is required');
  if (token.role !== 'staff' && token.role !== 'edge') throw new HttpProblem(403, 'this needs an edge or staff token');
  return token;
}

export function registerEdgeIngestRoutes(app: Hono<AppEnv>, services: AppServices): void {
  app.post(EDGE_DOWNLOADS_PATH, async (c) => {
    snapshotReader(c, services);
    let raw: unknown;
    try {
      raw = JSON.parse(await c.req.text());
    } catch {
      throw new HttpProblem(400, 'body is not valid JSON');
    }
    const parsed = edgeDownloadsBody.safeParse(raw, { error: issueWords });
    if (!parsed.success) throw new HttpProblem(422, 'invalid body', { fields: problemFields(parsed.error, 'an edge download batch') });
    const events = services.events;
    if (!events?.download) throw new HttpProblem(503, 'this instance does not record download statistics');
    const now = services.clock();
    const inWindow = (at: number) => at >= now - MAX_EVENT_AGE_MS && at <= now + MAX_EVENT_SKEW_MS;
    let downloads = 0;
    let impressions = 0;
    // The same hooks the control plane's own downloads go through: StatsRecorder drops a client's repeat
    // of a file within ten minutes, here and (claimed in the store) across instances and isolates.
    for (const e of parsed.data.downloads) {
      if (!inWindow(e.atMs)) continue;
      events.download(e);
      downloads++;
    }
    for (const i of parsed.data.impressions) {
      if (!inWindow(i.atMs) || !events.impression) continue;
      if (i.ip !== undefined && i.path !== undefined) events.impression(i.mirror, i.atMs, { ip: i.ip, path: i.path });
      else for (let n = 0; n < i.count; n++) events.impression(i.mirror, i.atMs);
      impressions += i.count;
    }
    return c.json({ downloads, impressions, dropped: parsed.data.downloads.length - downloads }, 202);
  });
}
