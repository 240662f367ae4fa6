// What staff send to make or change a mirror (API bodies, the console's forms, an accepted offer), checked once
// with zod, and the MirrorSpec it describes. Shared by every route that takes one, so they cannot drift.
import { z } from 'zod';
import { fields } from '../config/fields.js';
import { isRelativeTracePath } from '../core/health.js';
import type { MirrorSpec } from '../core/model.js';
import { FieldsError } from './errors.js';

/** A logo is a picture uploaded on its own route, never a path or URL in a body: the reason says where. */
const logoElsewhere = z.never({ error: 'a logo is uploaded with PUT /admin/v1/mirrors/{id}/logo (mirrorgate mirrors logo <id> <file>)' }).optional();
export const sponsorBody = z.strictObject({ name: z.string().min(1).max(200), url: fields.linkUrl.optional(), logo: logoElsewhere });
/** In a PATCH each sponsor field is merged into the current sponsor (the logo stays); url null removes the link. */
export const sponsorPatchBody = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  url: fields.linkUrl.nullable().optional(),
  logo: logoElsewhere,
});
export const contentBody = z.strictObject({
  include: fields.globList().min(1).optional(),
  exclude: fields.globList().optional(),
});

const mirrorFields = {
  name: z.string().min(1).max(200),
  baseUrl: fields.baseUrl(),
  rsyncUrl: fields.rsyncUrl.optional(),
  trace: z.string().refine(isRelativeTracePath, { message: "must be a path relative to the mirror's baseUrl, like project/trace/ftp.example.org" }).optional(),
  country: fields.countryCode(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  asn: z.array(z.int().min(1).max(4_294_967_295)).optional(),
  weight: z.int().min(0).max(1_000_000).optional(),
  bandwidthMbps: z.number().positive().optional(),
  countryOnly: z.boolean().optional(),
  enabled: z.boolean().optional(),
  sponsor: sponsorBody.optional(),
  content: contentBody.optional(),
};

export const newMirrorBody = z.strictObject({ id: fields.mirrorId, ...mirrorFields });
export const mirrorPatchBody = z
  .strictObject({
    name: mirrorFields.name.optional(),
    baseUrl: mirrorFields.baseUrl.optional(),
    rsyncUrl: mirrorFields.rsyncUrl.nullable(),
    trace: mirrorFields.trace.nullable(),
    country: mirrorFields.country.optional(),
    lat: mirrorFields.lat.nullable(),
    lon: mirrorFields.lon.nullable(),
    asn: mirrorFields.asn,
    weight: mirrorFields.weight,
    bandwidthMbps: mirrorFields.bandwidthMbps.nullable(),
    countryOnly: mirrorFields.countryOnly,
    enabled: mirrorFields.enabled,
    sponsor: sponsorPatchBody.nullable().optional(),
    content: contentBody.optional(),
    weightCeiling: z.int().min(0).max(1_000_000).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' });

/** What staff may give when accepting an offer: any new-mirror field; the offer supplies the rest. */
export const offerMirrorBody = newMirrorBody.partial({ id: true, name: true, baseUrl: true, country: true });
export type OfferMirrorFields = z.input<typeof offerMirrorBody>;

/** zod problems as { field: reason } — a 422 names every failed field. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.length ? issue.path.join('.') : '(body)';
    out[key] ??= issue.message;
  }
  return out;
}

/** A validated new-mirror body as the MirrorSpec it describes, with the config file's defaults. */
export function mirrorSpecFromBody(body: z.output<typeof newMirrorBody>): MirrorSpec {
  const spec: MirrorSpec = {
    id: body.id,
    name: body.name,
    baseUrl: body.baseUrl,
    country: body.country,
    asn: body.asn ?? [],
    weight: body.weight ?? 100,
    countryOnly: body.countryOnly ?? false,
    enabled: body.enabled ?? true,
    content: { include: body.content?.include ?? ['**'], exclude: body.content?.exclude ?? [] },
  };
  if (body.rsyncUrl) spec.rsyncUrl = body.rsyncUrl;
  if (body.trace) spec.trace = body.trace;
  if (body.lat !== undefined) spec.lat = body.lat;
  if (body.lon !== undefined) spec.lon = body.lon;
  if (body.bandwidthMbps !== undefined) spec.bandwidthMbps = body.bandwidthMbps;
  if (body.sponsor) spec.sponsor = body.sponsor;
  return spec;
}

/** The mirror id an accepted offer gets unless staff choose one: organisation and country, slugged. */
export function offerMirrorId(offer: { organisation: string; location: { country: string } }): string {
  const base = offer.organisation
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return `${base || 'mirror'}-${offer.location.country.toLowerCase()}`;
}

/**
 * The mirror an accepted offer becomes: what staff gave, else the offer's own facts (its organisation as
 * name and sponsor, its base and rsync URLs, country and bandwidth). Throws FieldsError naming each field
 * the result lacks or gets wrong.
 */
export function mirrorFromOffer(
  offer: { organisation: string; baseUrl?: string; rsyncUrl?: string; bandwidthMbps: number; location: { country: string } },
  given: Partial<z.output<typeof offerMirrorBody>> = {},
): MirrorSpec {
  const candidate = {
    id: given.id ?? offerMirrorId(offer),
    name: given.name ?? offer.organisation,
    baseUrl: given.baseUrl ?? offer.baseUrl,
    country: given.country ?? offer.location.country,
    ...Object.fromEntries(Object.entries(given).filter(([k, v]) => v !== undefined && !['id', 'name', 'baseUrl', 'country'].includes(k))),
    ...(offer.rsyncUrl && !given.rsyncUrl ? { rsyncUrl: offer.rsyncUrl } : {}),
    ...(given.bandwidthMbps === undefined ? { bandwidthMbps: offer.bandwidthMbps } : {}),
    // The mirror carries the offer's organisation as its sponsor unless staff name another.
    ...(given.sponsor === undefined ? { sponsor: { name: offer.organisation } } : {}),
  };
  const parsed = newMirrorBody.safeParse(candidate);
  if (!parsed.success) throw new FieldsError('the offer lacks what a mirror needs; pass "mirror" fields', fieldErrors(parsed.error));
  return mirrorSpecFromBody(parsed.data);
}
