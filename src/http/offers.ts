// POST /api/v1/offers: a provider offers a mirror; every requirement checked, each failed field named.
import type { Hono } from 'hono';
import { z } from 'zod';
import { fields } from '../config/fields.js';
import type { AdminService, NewOffer } from '../control/adminService.js';
import { fieldErrors } from './admin.js';
import { HttpProblem } from './problem.js';
import type { AppEnv } from './services.js';

/** What a mirror must bring to join (the requirements of SPEC). */
export const MIN_STORAGE_TB = 8;
export const MIN_BANDWIDTH_MBPS = 150;

const offerSchema = z.strictObject({
  contact: z.strictObject({
    name: z.string().trim().min(1, { message: 'is required' }).max(200),
    email: z.email({ message: 'must be a valid email address' }).max(320),
  }),
  organisation: z.string().trim().min(1, { message: 'is required' }).max(200),
  location: z.strictObject({
    country: fields.countryCode(),
    city: z.string().trim().min(1).max(200).optional(),
  }),
  peerings: z.string().trim().max(2000).optional(),
  storageTB: z.number({ message: 'must be a number of terabytes' }).min(MIN_STORAGE_TB, { message: `must be at least ${MIN_STORAGE_TB} TB` }).max(1_000_000),
  bandwidthMbps: z.number({ message: 'must be a number of Mbps' }).min(MIN_BANDWIDTH_MBPS, { message: `must be at least ${MIN_BANDWIDTH_MBPS} Mbps` }).max(10_000_000),
  baseUrl: fields.baseUrl().optional(),
  rsyncUrl: fields.rsyncUrl.optional(),
  note: z.string().max(5000).optional(),
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
    const parts = input.location.split(',').map((p) => p.trim()).filter(Boolean);
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

export function parseOffer(raw: unknown): { ok: true; offer: NewOffer } | { ok: false; fields: Record<string, string> } {
  const { value, spelled } = normalizeOffer(raw);
  const parsed = offerSchema.safeParse(value);
  if (parsed.success) return { ok: true, offer: parsed.data as NewOffer };
  const out: Record<string, string> = {};
  for (const [path, reason] of Object.entries(fieldErrors(parsed.error))) out[spelled.get(path) ?? path] = reason;
  return { ok: false, fields: out };
}

export function registerOfferRoutes(app: Hono<AppEnv>, admin: AdminService): void {
  app.post('/api/v1/offers', async (c) => {
    let raw: unknown;
    try {
      raw = JSON.parse(await c.req.text());
    } catch {
      throw new HttpProblem(400, 'body is not valid JSON');
    }
    const result = parseOffer(raw);
    if (!result.ok) throw new HttpProblem(422, 'the offer does not meet the requirements', { fields: result.fields });
    const offer = await admin.createOffer(result.offer);
    return c.json({ id: offer.id, status: offer.status, createdAt: new Date(offer.createdAt).toISOString() }, 201);
  });
}
