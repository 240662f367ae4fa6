// /admin/v1: the staff and provider API — bearer tokens, role scopes, zod-checked bodies, answers shaped by schemas/admin.ts.
import type { Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { fields } from '../config/fields.js';
import type { AdminService } from '../control/adminService.js';
import { mirrorPatchBody, mirrorSpecFromBody, newMirrorBody, offerMirrorBody } from '../control/mirrorBodies.js';
import { AUDIT_ACTIONS } from '../core/auditActions.js';
import type { Principal } from '../control/tokens.js';
import { encodeSnapshot } from '../core/snapshotCodec.js';
import { SHARD_TARGET_FILES, ShardCache } from '../core/snapshotShards.js';
import type { Cooperation } from '../core/steps.js';
import { StoreUnavailableError } from '../control/errors.js';
import { principalOf } from './auth.js';
import { auditSeenBy, seenBy } from './providerView.js';
import { registerEdgeIngestRoutes, snapshotReader } from './edgeIngest.js';
import { HttpProblem } from './problem.js';
import { problemFields } from './schemas/problemFields.js';
import { issueWords } from '../config/issueWords.js';
import { offerView } from './schemas/admin.js';
import type {
  AuditAnswer,
  IssuedToken,
  MirrorListAnswer,
  MirrorView,
  OfferAcceptAnswer,
  OfferListAnswer,
  OfferRejectAnswer,
  ProbeAnswer,
  ScanAnswer,
  ScanStreamLine,
  StatsAnswer,
  TokenListAnswer,
  TokenView,
} from './schemas/admin.js';
import type { AppEnv, AppServices } from './services.js';
import { MOMENT_FORMS, parseMoment } from '../core/moment.js';

/** What a provider may change on its own mirror. */
const providerPatchBody = z.strictObject({ weight: z.int().min(0).max(1_000_000) });
const tokenBody = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[\w.@:+-][\w .@:+-]*$/, { message: 'use letters, digits, spaces and . @ : + - _' }),
  role: z.enum(['staff', 'provider', 'edge'], { message: 'must be staff, provider or edge' }),
  mirrors: z.array(fields.mirrorId).max(1000).optional(),
});
/** The longest ramp a drain may take: a maintenance window, not a slow retirement (that is a weight). */
const MAX_DRAIN_RAMP_MS = 30 * 86_400_000;
/** A drain's ramp: a duration, zero ("0", "0s", 0) meaning at once as no body does, at most 30 days. */
const drainOver = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (value === 0 || (typeof value === 'string' && /^\s*0+(?:ms|s|m|h|d)?\s*$/.test(value))) return 0;
  const parsed = fields.duration.safeParse(value);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]?.message ?? 'invalid duration', input: value });
    return z.NEVER;
  }
  if (parsed.data > MAX_DRAIN_RAMP_MS) {
    ctx.addIssue({ code: 'custom', message: 'must be at most 30d: a longer wind-down is a lower weight', input: value });
    return z.NEVER;
  }
  return parsed.data;
});
const drainBody = z.strictObject({ over: drainOver.optional() });
const decisionBody = z.strictObject({ note: z.string().max(2000).optional() });
const acceptBody = z.strictObject({
  note: z.string().max(2000).optional(),
  mirror: offerMirrorBody.optional(),
  /** Issue the provider's token now; it is in this answer only. */
  issueToken: z.boolean().optional(),
});
/** A day of the calendar: 2026-02-30 and 2026-13-01 are not days. */
const isoDay = z.string().refine(
  (s) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
    const at = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === s;
  },
  { message: 'must be a day as YYYY-MM-DD' },
);
const statsQuery = z.strictObject({ mirror: z.string().optional(), from: isoDay.optional(), to: isoDay.optional() });
const OFFER_STATUSES = offerView.shape.status.options;
const offersQuery = z.strictObject({ status: z.enum(OFFER_STATUSES, { message: `must be one of ${OFFER_STATUSES.join(', ')}` }).optional() });
/** A query's moment: epoch ms, an ISO date or time, or a time ago (core/moment.ts), as the CLI takes them. */
const moment = z.string().transform((value, ctx) => {
  const ms = parseMoment(value, Date.now());
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be ${MOMENT_FORMS}`, input: value });
    return z.NEVER;
  }
  return ms;
});

const auditQuery = z.strictObject({
  actor: z.string().optional(),
  target: z.string().optional(),
  action: z.string().optional(),
  since: moment.optional(),
  until: moment.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** The request's JSON body as sent ({} for an empty optional one); 400 when it is not JSON. */
async function readJson(c: Context, optional = false): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() !== '') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpProblem(400, 'body is not valid JSON');
    }
  }
  if (!optional) throw new HttpProblem(400, 'a JSON body is required');
  return {};
}

/** A JSON body checked by its schema: 422 naming each failed field; `subject` is what the body describes ("a mirror"). */
function checkBody<T extends z.ZodType>(raw: unknown, schema: T, subject: string): z.output<T> {
  const parsed = schema.safeParse(raw, { error: issueWords });
  if (!parsed.success) throw new HttpProblem(422, 'invalid body', { fields: problemFields(parsed.error, subject) });
  return parsed.data;
}

export async function readBody<T extends z.ZodType>(c: Context, schema: T, subject: string, optional = false): Promise<z.output<T>> {
  return checkBody(await readJson(c, optional), schema, subject);
}

function readQuery<T extends z.ZodType>(c: Context, schema: T, subject: string): z.output<T> {
  const parsed = schema.safeParse(c.req.query(), { error: issueWords });
  if (!parsed.success) throw new HttpProblem(400, 'invalid query', { fields: problemFields(parsed.error, subject) });
  return parsed.data;
}

/** The mirror fields (of a PATCH) a provider may not change, as a provider sent them. */
function staffOnlyFields(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return [];
  return Object.keys(raw).filter((key) => Object.hasOwn(mirrorPatchBody.shape, key) && !Object.hasOwn(providerPatchBody.shape, key));
}

/** `no mirror "x", "y"` for the ids that name no mirror, or undefined when every one does. */
function unknownMirrors(admin: AdminService, ids: readonly string[]): string | undefined {
  if (ids.length === 0) return undefined;
  const known = new Set(admin.listMirrors().map((m) => m.spec.id));
  const unknown = ids.filter((m) => !known.has(m));
  return unknown.length > 0 ? `no mirror ${unknown.map((m) => `"${m}"`).join(', ')}` : undefined;
}

function today(offsetDays = 0): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/**
 * An audit `action` as given: a full name (mirror.drain) or a short one (drain). Unknown names are
 * refused with the list of valid ones, so a typo does not quietly match nothing.
 */
export function normalizeAuditAction(given: string): string {
  if ((AUDIT_ACTIONS as readonly string[]).includes(given)) return given;
  const short = AUDIT_ACTIONS.filter((a) => a.split('.')[1] === given);
  if (short.length === 1) return short[0]!;
  throw new HttpProblem(400, `unknown action "${given}"`, {
    fields: {
      action: `must be one of ${AUDIT_ACTIONS.join(', ')} (or the part after the dot, e.g. ${AUDIT_ACTIONS.map((a) => a.split('.')[1])
        .filter((v, i, all) => all.indexOf(v) === i)
        .slice(0, 4)
        .join(', ')}, …)`,
    },
    actions: AUDIT_ACTIONS,
  });
}

/** A read the store cannot answer while it is unreachable: a 503 that says so (nothing is being saved). */
function unreadable(c: Context, what: string): HttpProblem {
  c.header('Retry-After', '5');
  return new HttpProblem(503, `the shared store is unreachable, so ${what} cannot be read right now; downloads still work`);
}

export function registerAdminRoutes(app: Hono<AppEnv>, services: AppServices, admin: AdminService): void {
  const who = (c: Context): Principal => {
    const token = principalOf(c, services);
    if (!token) throw new HttpProblem(401, c.req.header('authorization') ? 'invalid token' : 'a bearer token is required');
    if (token.role === 'edge') throw new HttpProblem(403, 'an edge token may only read the routing snapshot and post download counts');
    return token;
  };
  const staff = (c: Context): Principal => {
    const token = who(c);
    if (token.role !== 'staff') throw new HttpProblem(403, 'this needs a staff token');
    return token;
  };
  /** Staff see and run every mirror; a provider only its own. */
  const mayRead = (c: Context, id: string): Principal => {
    const token = who(c);
    if (token.role === 'provider' && !token.mirrors.includes(id)) throw new HttpProblem(403, 'not one of your mirrors');
    return token;
  };
  const owner = mayRead;
  const id = (c: Context) => c.req.param('id') ?? '';

  app.use('/admin/*', async (c, next) => {
    c.header('Cache-Control', 'no-store');
    await next();
  });

  app.get('/admin/v1/mirrors', (c) => {
    const token = who(c);
    return c.json({
      mirrors: admin.listMirrors(token.role === 'provider' ? token.mirrors : undefined).map((m) => seenBy(token, m)),
    } satisfies MirrorListAnswer);
  });
  app.post('/admin/v1/mirrors', async (c) => {
    const token = staff(c);
    const body = await readBody(c, newMirrorBody, 'a mirror');
    return c.json((await admin.addMirror(token.name, mirrorSpecFromBody(body))) satisfies MirrorView, 201);
  });
  app.get('/admin/v1/mirrors/:id', (c) => {
    const token = mayRead(c, id(c));
    return c.json(seenBy(token, admin.getMirror(id(c))) satisfies MirrorView);
  });
  app.patch('/admin/v1/mirrors/:id', async (c) => {
    const token = owner(c, id(c));
    admin.getMirror(id(c));
    if (token.role === 'provider') {
      // A provider may set its own mirror's weight, up to the ceiling staff allow; nothing else (403, as any staff action).
      const raw = await readJson(c);
      const refused = staffOnlyFields(raw);
      if (refused.length > 0) {
        throw new HttpProblem(403, `a provider token may change only weight, not ${refused.join(', ')}`, {
          fields: Object.fromEntries(refused.map((key) => [key, 'only staff may change this'])),
        });
      }
      const body = checkBody(raw, providerPatchBody, 'a mirror');
      const ceiling = admin.weightCeiling(id(c));
      if (body.weight > ceiling) {
        throw new HttpProblem(422, 'invalid body', {
          fields: { weight: `must be at most ${ceiling}, this mirror's ceiling; ask the network's staff to raise it` },
        });
      }
      return c.json(seenBy(token, await admin.setWeightAsProvider(token.name, id(c), body.weight)) satisfies MirrorView);
    }
    const body = await readBody(c, mirrorPatchBody, 'a mirror');
    if (body.sponsor && body.sponsor.name === undefined && !admin.getMirror(id(c)).spec.sponsor) {
      throw new HttpProblem(422, 'invalid body', { fields: { 'sponsor.name': 'is required: the mirror has no sponsor yet' } });
    }
    return c.json((await admin.patchMirror(token.name, id(c), body)) satisfies MirrorView);
  });
  app.put('/admin/v1/mirrors/:id/logo', async (c) => {
    const token = owner(c, id(c));
    admin.getMirror(id(c));
    const type = c.req.header('content-type') ?? '';
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    try {
      return c.json(seenBy(token, await admin.setLogo(token.name, id(c), bytes, type)) satisfies MirrorView);
    } catch (err) {
      if (err instanceof Error && err.name === 'InvalidLogoError') {
        const wrongType = !/^image\/(svg\+xml|png|webp)\b/i.test(type.trim());
        throw new HttpProblem(wrongType ? 415 : 422, err.message, { fields: { logo: err.message } });
      }
      throw err;
    }
  });
  app.delete('/admin/v1/mirrors/:id', async (c) => {
    const token = staff(c);
    await admin.deleteMirror(token.name, id(c));
    return c.body(null, 204);
  });
  app.post('/admin/v1/mirrors/:id/drain', async (c) => {
    const token = owner(c, id(c));
    admin.getMirror(id(c));
    const body = await readBody(c, drainBody, 'a drain', true);
    return c.json(seenBy(token, await admin.drain(token.name, id(c), body.over ?? 0)) satisfies MirrorView);
  });
  app.post('/admin/v1/mirrors/:id/undrain', async (c) => {
    const token = owner(c, id(c));
    return c.json(seenBy(token, await admin.undrain(token.name, id(c))) satisfies MirrorView);
  });
  app.post('/admin/v1/mirrors/:id/restore', async (c) => {
    const token = staff(c);
    return c.json((await admin.restoreMirror(token.name, id(c))) satisfies MirrorView);
  });
  app.post('/admin/v1/mirrors/:id/launch', async (c) => {
    const token = staff(c);
    return c.json((await admin.launch(token.name, id(c))) satisfies MirrorView);
  });
  app.post('/admin/v1/mirrors/:id/probe', async (c) => {
    const token = owner(c, id(c));
    const health = (await admin.probe(token.name, id(c))) ?? null;
    // ok: this probe reached the mirror (health changes only after several probes in a row).
    return c.json({ mirror: id(c), ok: health !== null && health.consecutiveFailures === 0, health } satisfies ProbeAnswer);
  });
  app.post('/admin/v1/mirrors/:id/scan', async (c) => {
    const token = owner(c, id(c));
    const mirror = id(c);
    admin.getMirror(mirror);
    if (!(c.req.header('accept') ?? '').includes('application/x-ndjson')) {
      return c.json({ mirror, report: await admin.scan(token.name, mirror) } satisfies ScanAnswer);
    }
    // Streamed for the CLI's progress bar: {"entries":n} lines, then {"report":…} or {"error":…}.
    return stream(c, async (out) => {
      let last = 0;
      try {
        const report = await admin.scan(token.name, mirror, (entries) => {
          const now = Date.now();
          if (now - last < 250) return;
          last = now;
          void out.write(`${JSON.stringify({ entries } satisfies ScanStreamLine)}\n`);
        });
        await out.write(`${JSON.stringify({ mirror, report } satisfies ScanStreamLine)}\n`);
      } catch (err) {
        await out.write(`${JSON.stringify({ mirror, error: (err as Error).message } satisfies ScanStreamLine)}\n`);
      }
    });
  });

  // The routing snapshot for edge instances: versioned, cached per snapshot, 304 when unchanged.
  app.get('/admin/v1/snapshot', (c) => {
    snapshotReader(c, services);
    const snapshot = services.snapshot();
    const etag = `"mgs-${snapshot.version}-${snapshot.builtAtMs}"`;
    c.header('ETag', etag);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    let bytes = encoded.get(snapshot);
    if (!bytes) {
      bytes = encodeSnapshot(snapshot);
      encoded.set(snapshot, bytes);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/vnd.mirrorgate.snapshot' });
  });

  // The same snapshot split for large file sets (core/snapshotShards.ts): a small core (mirrors, states,
  // routing, each shard's hash) that changes with every probe, and file shards an edge fetches on demand.
  // Shards are re-split only when the files, rule classes or inventories change, not on a state change.
  const shardCache = new ShardCache();
  // A split of a million files takes seconds: in 10 ms slices, so downloads and probe timers run between them.
  const cooperation: Cooperation = { pause: () => new Promise((resolve) => setTimeout(resolve, 0)), now: () => performance.now() };
  app.get('/admin/v1/snapshot/core', async (c) => {
    snapshotReader(c, services);
    const snapshot = services.snapshot();
    const target = shardTargetFiles();
    const etag = `"mgc-${snapshot.version}-${snapshot.builtAtMs}-${target}"`;
    c.header('ETag', etag);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    const bytes = await shardCache.coreCooperatively(snapshot, target, cooperation);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/vnd.mirrorgate.snapshot-core+json' });
  });
  app.get('/admin/v1/snapshot/shards/:k', async (c) => {
    snapshotReader(c, services);
    const set = await shardCache.shardsCooperatively(services.snapshot(), shardTargetFiles(), cooperation);
    const raw = c.req.param('k') ?? '';
    const k = /^\d{1,9}$/.test(raw) ? Number(raw) : -1;
    if (k < 0 || k >= set.count) throw new HttpProblem(404, `no shard ${raw} (this snapshot has ${set.count})`);
    const etag = `"${set.info[k]!.hash}"`;
    c.header('ETag', etag);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    return c.body(set.shards[k] as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/vnd.mirrorgate.snapshot' });
  });
  registerEdgeIngestRoutes(app, services);

  app.get('/admin/v1/offers', async (c) => {
    staff(c);
    const { status } = readQuery(c, offersQuery, 'the offers query');
    // While the store is unreachable: this instance's last copy, said so.
    const { offers, stale } = await admin.readOffers();
    if (stale) c.header('Warning', '110 - "the shared store is unreachable; offers as this instance last read them"');
    return c.json({ offers: status ? offers.filter((o) => o.status === status) : offers, ...(stale ? { stale: true } : {}) } satisfies OfferListAnswer);
  });
  app.post('/admin/v1/offers/:id/accept', async (c) => {
    const token = staff(c);
    const body = await readBody(c, acceptBody, 'an acceptance', true);
    return c.json(
      (await admin.acceptOffer(token.name, id(c), body.mirror ?? {}, body.note, { issueToken: body.issueToken === true })) satisfies OfferAcceptAnswer,
    );
  });
  app.post('/admin/v1/offers/:id/reject', async (c) => {
    const token = staff(c);
    const body = await readBody(c, decisionBody, 'a rejection', true);
    return c.json({ offer: await admin.rejectOffer(token.name, id(c), body.note) } satisfies OfferRejectAnswer);
  });

  app.get('/admin/v1/stats', async (c) => {
    const token = who(c);
    const q = readQuery(c, statsQuery, 'the stats query');
    let mirrors: string[] | undefined = q.mirror ? q.mirror.split(',') : undefined;
    if (token.role === 'provider') {
      if (mirrors?.some((m) => !token.mirrors.includes(m))) throw new HttpProblem(403, 'not one of your mirrors');
      mirrors ??= token.mirrors;
    }
    const from = q.from ?? today(-30);
    const to = q.to ?? today();
    if (from > to) {
      const which = q.from === undefined ? 'to' : 'from';
      throw new HttpProblem(400, 'invalid query', {
        fields: { [which]: which === 'from' ? `from (${from}) is after to (${to})` : `to (${to}) is before from (${from})` },
      });
    }
    let stats: Omit<StatsAnswer, 'from' | 'to' | 'mirrors'>;
    try {
      stats = await admin.stats({ from, to, mirrors });
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw unreadable(c, 'statistics');
      throw err;
    }
    // An id that names no mirror and has no statistics here is a typo: told, not answered with zeros. A
    // deleted mirror keeps its history, so its id still finds it.
    const unheard = (mirrors ?? []).filter((m) => m !== 'origin' && !stats.byMirror.some((b) => b.mirror === m));
    const unknown = unknownMirrors(admin, q.mirror ? unheard : []);
    if (unknown) throw new HttpProblem(404, unknown);
    return c.json({ from, to, mirrors: mirrors ?? null, ...stats } satisfies StatsAnswer);
  });

  app.get('/admin/v1/audit', async (c) => {
    const token = who(c);
    const q = readQuery(c, auditQuery, 'the audit query');
    const query = {
      ...q,
      ...(q.action !== undefined ? { action: normalizeAuditAction(q.action) } : {}),
      // A provider sees the entries about its own mirrors.
      ...(token.role === 'provider' ? { targets: token.mirrors.map((m) => `mirror:${m}`) } : {}),
    };
    const { entries, stale } = await admin.readAudit(query);
    if (stale) c.header('Warning', '110 - "the shared store is unreachable; the newest entries this instance holds"');
    return c.json({ entries: entries.map((e) => auditSeenBy(token, e)), ...(stale ? { stale: true } : {}) } satisfies AuditAnswer);
  });

  // ---- tokens issued at runtime (config tokens are listed, never shown) ----

  app.get('/admin/v1/tokens', (c) => {
    staff(c);
    return c.json({ tokens: admin.listTokens() } satisfies TokenListAnswer);
  });
  app.post('/admin/v1/tokens', async (c) => {
    const token = staff(c);
    const body = await readBody(c, tokenBody, 'a token');
    if (body.role === 'provider' && !body.mirrors?.length)
      throw new HttpProblem(422, 'invalid body', { fields: { mirrors: 'a provider token needs at least one mirror' } });
    if (body.role !== 'provider' && body.mirrors?.length)
      throw new HttpProblem(422, 'invalid body', {
        fields: {
          mirrors:
            body.role === 'staff' ? 'a staff token sees every mirror; do not list mirrors' : 'an edge token reads the whole snapshot; do not list mirrors',
        },
      });
    const unknown = unknownMirrors(admin, body.mirrors ?? []);
    if (unknown) throw new HttpProblem(422, 'invalid body', { fields: { mirrors: unknown } });
    return c.json((await admin.issueToken(token.name, body)) satisfies IssuedToken, 201);
  });
  const revoke = async (c: Context) => {
    const token = staff(c);
    return c.json((await admin.revokeToken(token.name, c.req.param('id') ?? '')) satisfies TokenView);
  };
  app.delete('/admin/v1/tokens/:id', revoke);
  app.post('/admin/v1/tokens/:id/revoke', revoke);
}

const encoded = new WeakMap<object, Uint8Array>();

/**
 * Files per snapshot shard: MIRRORGATE_SNAPSHOT_SHARD_FILES on the control plane (tests lower it to
 * get several shards from a small network), else SHARD_TARGET_FILES. Read per request, through
 * globalThis, because this module also runs in the Worker bundle, which has no `process`.
 */
function shardTargetFiles(): number {
  const raw = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MIRRORGATE_SNAPSHOT_SHARD_FILES;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : SHARD_TARGET_FILES;
}
