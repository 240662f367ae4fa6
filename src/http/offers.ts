// Offers: POST /api/v1/offers (JSON, or the /offer form) with every requirement checked and each failed field named in plain words, and the provider's secret status link.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { fields } from '../config/fields.js';
import type { AdminService, NewOffer } from '../control/adminService.js';
import { offerOrigin } from './guards.js';
import { HttpProblem } from './problem.js';
import { problemFields } from './schemas/problemFields.js';
import { issueWords } from '../config/issueWords.js';
import type { AppEnv } from './services.js';
import { OFFER_FIELDS, offerFormPage, offerStatusPage } from './views/offerPage.js';
import { accepts } from './accept.js';

/** What a mirror must bring to join (the requirements of SPEC). */
export const MIN_STORAGE_TB = 8;
export const MIN_BANDWIDTH_MBPS = 150;

// Messages in plain words, naming the field as people call it ("storage must be at least 8 TB"):
// the form shows them as they are, and the API's 422 carries them under the JSON field names.
const required = (what: string) =>
  z
    .string({ error: `${what} is required` })
    .trim()
    .min(1, { error: `${what} is required` });
const offerSchema = z.strictObject({
  contact: z.strictObject(
    {
      name: required('contact name').max(200, { error: 'contact name must be at most 200 characters' }),
      email: z
        .string({ error: 'contact email is required' })
        .trim()
        .min(1, { error: 'contact email is required' })
        .pipe(z.email({ error: 'contact email must be an email address, like noc@example.org' }).max(320)),
    },
    { error: 'contact must have a name and an email' },
  ),
  organisation: required('organisation').max(200, { error: 'organisation must be at most 200 characters' }),
  location: z.strictObject(
    {
      country: z.string({ error: 'country is required' }).trim().min(1, { error: 'country is required' }).pipe(fields.countryCode()),
      city: z.string().trim().min(1, { error: 'city must not be empty' }).max(200, { error: 'city must be at most 200 characters' }).optional(),
    },
    { error: 'location must have a country' },
  ),
  peerings: z
    .string({ error: 'peerings must be text, like "DE-CIX, AMS-IX"' })
    .trim()
    .max(2000, { error: 'peerings must be at most 2,000 characters' })
    .optional(),
  storageTB: z
    .number({ error: 'storage must be a number of terabytes' })
    .min(MIN_STORAGE_TB, { error: `storage must be at least ${MIN_STORAGE_TB} TB` })
    .max(1_000_000, { error: 'storage must be at most 1,000,000 TB' }),
  bandwidthMbps: z
    .number({ error: 'bandwidth must be a number of Mbps' })
    .min(MIN_BANDWIDTH_MBPS, { error: `bandwidth must be at least ${MIN_BANDWIDTH_MBPS} Mbps` })
    .max(10_000_000, { error: 'bandwidth must be at most 10,000,000 Mbps' }),
  baseUrl: z.string({ error: 'download URL must be an http or https URL' }).pipe(fields.baseUrl()).optional(),
  rsyncUrl: z.string({ error: 'rsync URL must be an rsync:// URL' }).pipe(fields.rsyncUrl).optional(),
  note: z.string({ error: 'note must be text' }).max(5000, { error: 'note must be at most 5,000 characters' }).optional(),
});

/** Accepted spellings of each field (forms and scripts send flat or nested, British or American). */
const ALIASES: Record<string, string[]> = {
  'contact.name': ['contact.name', 'contactName', 'contact_name', 'name'],
  'contact.email': ['contact.email', 'contactEmail', 'contact_email', 'email'],
  organisation: ['organisation', 'organization', 'org'],
  'location.country': ['location.country', 'country'],
  'location.city': ['location.city', 'city'],
  peerings: ['peerings', 'peering'],
  storageTB: ['storageTB', 'storageTb', 'storage_tb', 'storage'],
  bandwidthMbps: ['bandwidthMbps', 'bandwidth_mbps', 'bandwidth'],
  baseUrl: ['baseUrl', 'base_url', 'url', 'httpUrl'],
  rsyncUrl: ['rsyncUrl', 'rsync_url'],
  note: ['note', 'notes', 'comment', 'message'],
};

function get(obj: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = obj;
  for (const k of dotted.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/**
 * Folds the accepted spellings into the canonical shape and remembers which one the
 * client used, so a 422 names the field as the client wrote it. Unknown keys are kept,
 * and fail as unknown.
 */
export function normalizeOffer(raw: unknown): { value: Record<string, unknown>; spelled: Map<string, string> } {
  const spelled = new Map<string, string>();
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { value: {}, spelled };
  const input = raw as Record<string, unknown>;
  const used = new Set<string>();
  const value: Record<string, unknown> = {};
  for (const [canonical, names] of Object.entries(ALIASES)) {
    for (const name of names) {
      let v = get(input, name);
      if (v === undefined) continue;
      used.add(name.split('.')[0]!);
      // Peerings may come as a list; numbers may come as strings from forms.
      if (canonical === 'peerings' && Array.isArray(v)) v = v.map(String).join(', ');
      if ((canonical === 'storageTB' || canonical === 'bandwidthMbps') && typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) v = Number(v);
      spelled.set(canonical, name);
      const [head, tail] = canonical.split('.');
      if (tail) value[head!] = { ...((value[head!] as object) ?? {}), [tail]: v };
      else value[head!] = v;
      break;
    }
  }
  if (typeof input.location === 'string') {
    const parts = input.location
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const country = parts.at(-1) ?? '';
    value.location = { ...(value.location as object), country, ...(parts.length > 1 ? { city: parts.slice(0, -1).join(', ') } : {}) };
    spelled.set('location.country', 'location');
    used.add('location');
  }
  if (value.contact === undefined) value.contact = {};
  if (value.location === undefined) value.location = {};
  for (const key of Object.keys(input)) if (!used.has(key) && key !== 'contact' && key !== 'location') value[key] = input[key];
  return { value, spelled };
}

/** The shared field rules word their problems for config files; said here as a provider reads them. */
const PLAIN: Record<string, (reason: string) => string> = {
  'location.country': (r) => (r.startsWith('country') ? r : 'country must be a two-letter country code, like DE or KE'),
  baseUrl: (r) =>
    r.startsWith('download URL')
      ? r
      : `download URL ${/must/.test(r) ? r.slice(r.indexOf('must')) : 'must be an http or https URL'}, like https://mirror.example.org/pub/`,
  rsyncUrl: () => 'rsync URL must be an rsync:// URL, like rsync://mirror.example.org/pub/',
};

export function parseOffer(raw: unknown): { ok: true; offer: NewOffer } | { ok: false; fields: Record<string, string> } {
  const { value, spelled } = normalizeOffer(raw);
  const parsed = offerSchema.safeParse(value, { error: issueWords });
  if (parsed.success) return { ok: true, offer: parsed.data as NewOffer };
  const fields = problemFields(parsed.error, 'an offer', (path, message) => ({
    key: spelled.get(path) ?? path,
    reason: PLAIN[path]?.(message) ?? message,
  }));
  return { ok: false, fields };
}

/** A post a browser sent from another site: Fetch Metadata says cross-site, or Origin is neither ours nor the request's. */
function foreignForm(c: Context, publicUrl: string): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  return origin !== new URL(publicUrl).origin && origin !== new URL(c.req.url).origin;
}

const isForm = (c: Context) => /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(c.req.header('content-type') ?? '');
/** A browser sending the /offer form gets pages back; a script sending form fields gets JSON like any other. */
const wantsHtml = (c: Context) => accepts(c.req.header('accept') ?? '', 'text/html');

/** Form values as typed: strings, blanks left out (an optional field left empty is not given). */
async function formValues(c: Context): Promise<Record<string, string>> {
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody();
  } catch {
    throw new HttpProblem(400, 'the form could not be read');
  }
  const values: Record<string, string> = {};
  for (const f of OFFER_FIELDS) {
    const v = body[f.name];
    if (typeof v === 'string') values[f.name] = v;
  }
  return values;
}

/** Links to an offer's status for the holder of its key: on our publicUrl, never the request's Host, since they carry the key. */
function statusLinks(publicUrl: string, id: string, key: string): { statusUrl: string; statusPage: string } {
  const q = `?key=${encodeURIComponent(key)}`;
  return { statusUrl: `${publicUrl}/api/v1/offers/${encodeURIComponent(id)}${q}`, statusPage: `${publicUrl}/offer/${encodeURIComponent(id)}${q}` };
}

/** `publicUrl` is read per request: a loopback one names the port the server really listens on, known only once listening. */
export function registerOfferRoutes(app: Hono<AppEnv>, admin: AdminService, publicUrlNow: () => string): void {
  app.get('/offer', (c) => c.html(offerFormPage({ values: {}, errors: {} })));

  app.post('/api/v1/offers', async (c) => {
    // A browser's post from another site (its visitors' addresses would spend the per-network caps of
    // strangers): refused, whatever its type. A form, and a text/plain body holding JSON, need no CORS
    // preflight, so every body is checked, not only forms. Scripts send no Origin, browsers always do on a POST.
    if (foreignForm(c, publicUrlNow())) throw new HttpProblem(403, 'this offer was not sent from a Mirrorgate page');
    if (isForm(c)) {
      // The /offer form, sent without JavaScript: problems are shown on the form, success goes to the status page.
      const values = await formValues(c);
      const raw: Record<string, string> = {};
      for (const [k, v] of Object.entries(values)) if (v.trim() !== '') raw[k] = v;
      const result = parseOffer(raw);
      if (!result.ok) {
        const byApi: Record<string, string> = {};
        for (const [spelled, reason] of Object.entries(result.fields)) {
          const f = OFFER_FIELDS.find((x) => x.name === spelled || x.api === spelled);
          byApi[f?.api ?? spelled] = reason;
        }
        if (!wantsHtml(c)) throw new HttpProblem(422, 'the offer does not meet the requirements', { fields: result.fields });
        return c.html(offerFormPage({ values, errors: byApi }), 422);
      }
      const { offer, statusKey } = await admin.createOffer({ ...result.offer, ...offerOrigin(c) });
      if (!wantsHtml(c))
        return c.json(
          { id: offer.id, status: offer.status, createdAt: new Date(offer.createdAt).toISOString(), ...statusLinks(publicUrlNow(), offer.id, statusKey) },
          201,
        );
      return c.redirect(`/offer/${encodeURIComponent(offer.id)}?key=${encodeURIComponent(statusKey)}&sent`, 303);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(await c.req.text());
    } catch {
      throw new HttpProblem(400, 'body is not valid JSON');
    }
    const result = parseOffer(raw);
    if (!result.ok) throw new HttpProblem(422, 'the offer does not meet the requirements', { fields: result.fields });
    const { offer, statusKey } = await admin.createOffer({ ...result.offer, ...offerOrigin(c) });
    return c.json(
      { id: offer.id, status: offer.status, createdAt: new Date(offer.createdAt).toISOString(), ...statusLinks(publicUrlNow(), offer.id, statusKey) },
      201,
    );
  });

  /** The offer behind a status link; a wrong key reads as no offer, so ids reveal nothing. */
  const forKey = async (c: Context) => {
    const offer = await admin.offerForKey(c.req.param('id') ?? '', c.req.query('key') ?? '');
    if (!offer) throw new HttpProblem(404, 'no such offer, or the key in the link is wrong');
    return offer;
  };

  app.get('/api/v1/offers/:id', async (c) => {
    const o = await forKey(c);
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    return c.json({
      id: o.id,
      status: o.status,
      createdAt: new Date(o.createdAt).toISOString(),
      decidedAt: o.decidedAt !== undefined ? new Date(o.decidedAt).toISOString() : null,
      decisionNote: o.decisionNote ?? null,
      mirrorId: o.mirrorId ?? null,
      organisation: o.organisation,
      location: o.location,
      storageTB: o.storageTB,
      bandwidthMbps: o.bandwidthMbps,
      baseUrl: o.baseUrl ?? null,
      rsyncUrl: o.rsyncUrl ?? null,
    });
  });

  app.get('/offer/:id', async (c) => {
    const o = await forKey(c);
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    const key = c.req.query('key') ?? '';
    return c.html(offerStatusPage(o, `/api/v1/offers/${encodeURIComponent(o.id)}?key=${encodeURIComponent(key)}`, c.req.query('sent') !== undefined));
  });
}
