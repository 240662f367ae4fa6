// Field rules shared by the YAML config and the admin API's JSON bodies; free of Node APIs so the Worker can bundle them.
import ms from 'ms';
import { z } from 'zod';
import { isCountryCode } from '../core/countries.js';
import { globProblem } from '../core/globMatch.js';

export const MIRROR_ID = /^[a-z0-9-]+$/;
// ms() alone also takes "30 sec" or "2 weeks"; a config should have one spelling, so the unit list is ours.
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * A duration as config and admin bodies write it: '250ms', '30s', '5m', '6h', '1d', or a number of seconds.
 * Returns whole milliseconds, or undefined when the input is not a positive duration.
 */
export function parseDuration(input: unknown): number | undefined {
  let millis: number | undefined;
  if (typeof input === 'number') millis = input * 1000;
  else if (typeof input === 'string' && DURATION.test(input)) millis = ms(input as ms.StringValue);
  if (millis === undefined || !Number.isFinite(millis) || millis <= 0) return undefined;
  return Math.round(millis);
}

/** Reason an http(s) URL is unacceptable as a base for redirects, or undefined when it is fine. */
export function httpUrlProblem(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https URL, got ${url.protocol}`;
  if (url.username || url.password) return 'must not contain credentials';
  // href keeps a bare "?" or "#" that search and hash report as empty: "https://m/pub/?" is a foot-gun too.
  if (url.search || url.hash || url.href.includes('?') || url.href.includes('#')) return 'must not have a query or fragment';
  return undefined;
}

export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** A base URL we redirect to or build links from; trailing '/' added ('add') or removed ('strip'). */
export function baseUrl(slash: 'add' | 'strip') {
  return z.string().transform((text, ctx) => {
    const url = parseUrl(text);
    const problem = url ? httpUrlProblem(url) : `invalid URL "${text}"`;
    if (!url || problem) {
      ctx.addIssue({ code: 'custom', message: problem ?? 'invalid URL', input: text });
      return z.NEVER;
    }
    const href = url.href;
    if (slash === 'add') return href.endsWith('/') ? href : `${href}/`;
    return href.replace(/\/+$/, '');
  });
}

/** A link shown to people (sponsor site): any http(s) URL, queries allowed. */
export const linkUrl = z.string().refine(
  (text) => {
    const protocol = parseUrl(text)?.protocol;
    return protocol === 'http:' || protocol === 'https:';
  },
  { message: 'must be an http or https URL' },
);

export const rsyncUrl = z.string().refine((text) => parseUrl(text)?.protocol === 'rsync:', {
  message: 'must be an rsync:// URL',
});

export const duration = z
  .union([z.string(), z.number()], { error: 'expected a duration like 250ms, 30s, 5m, 6h, 1d or a number of seconds' })
  .transform((value, ctx) => {
    const millis = parseDuration(value);
    if (millis === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: typeof value === 'number' ? 'must be a positive number of seconds' : `invalid duration "${value}"`,
        input: value,
      });
      return z.NEVER;
    }
    return millis;
  });

/** Most globs one include or exclude list may hold: each is evaluated over the whole file set. */
export const MAX_GLOBS = 64;

/**
 * A content glob in the dialect of core/globMatch.ts, within its limits (length, alternatives,
 * segments, wildcards, and work on a fixed set of probe paths): matched in linear time, and the
 * same verdict on every instance, since nothing here reads a clock.
 */
export const glob = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    // Origin paths are relative, so a leading '/' can never match: almost surely a mistake.
    if (pattern.startsWith('/')) {
      ctx.addIssue({ code: 'custom', message: `glob "${pattern}" must be relative to the origin root (no leading "/")` });
      return;
    }
    const problem = globProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: `invalid glob "${pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern}": ${problem}` });
  });

/** An include or exclude list. */
export const globList = () => z.array(glob).max(MAX_GLOBS);

export function countryCode() {
  return z.string().transform((text, ctx) => {
    const code = text.toUpperCase();
    if (!isCountryCode(code)) {
      ctx.addIssue({ code: 'custom', message: `unknown country code "${code}"`, input: text });
      return z.NEVER;
    }
    return code;
  });
}

/** Field rules shared with the admin API's bodies, so a mirror is validated alike in YAML and JSON. */
export const fields = {
  baseUrl: () => baseUrl('add'),
  linkUrl,
  rsyncUrl,
  countryCode,
  glob,
  globList,
  duration,
  mirrorId: z.string().min(1).max(63).regex(MIRROR_ID, { message: 'must contain only a-z, 0-9 and "-"' }),
};

/**
 * lat and lon come together (config file and admin API alike): one alone would place a mirror on its
 * country's centroid along the other axis (core/snapshot.ts), somewhere nobody chose. The field that is
 * missing and why, or undefined; null counts as absent (a PATCH clears a field with it).
 */
export function halfPosition(lat: unknown, lon: unknown): { field: 'lat' | 'lon'; message: string } | undefined {
  const hasLat = lat !== undefined && lat !== null;
  const hasLon = lon !== undefined && lon !== null;
  if (hasLat && !hasLon) return { field: 'lon', message: 'required when lat is set' };
  if (hasLon && !hasLat) return { field: 'lat', message: 'required when lon is set' };
  return undefined;
}
