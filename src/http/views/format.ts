// Small display helpers the pages share: safe links, country names, durations and relative times.
import { formatSeconds } from '../../core/format.js';

/** A URL fit for href: http(s) only, so a sponsor or config value can never become javascript:. */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The host of a URL without "www.", as people read a sponsor's address. */
export function displayHost(url: string): string {
  try {
    return new URL(url).host.replace(/^www\./, '');
  } catch {
    return url;
  }
}

let regionNames: Intl.DisplayNames | null | undefined;

/** "Germany" for "DE"; the code itself where the runtime has no region names. */
export function countryName(code: string): string {
  if (regionNames === undefined) {
    try {
      regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });
    } catch {
      regionNames = null;
    }
  }
  try {
    return regionNames?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

const CONTINENTS: Record<string, string> = {
  AF: 'Africa',
  AN: 'Antarctica',
  AS: 'Asia',
  EU: 'Europe',
  NA: 'North America',
  OC: 'Oceania',
  SA: 'South America',
};

export function continentName(code: string | null | undefined): string | null {
  return code ? (CONTINENTS[code] ?? code) : null;
}

export function timeAgo(thenMs: number, nowMs: number): string {
  const seconds = (nowMs - thenMs) / 1000;
  if (seconds < 0) return 'just now';
  if (seconds < 60) return 'less than a minute ago';
  return `${formatSeconds(seconds)} ago`;
}

export function formatKm(km: number): string {
  return `${km.toLocaleString('en')} km`;
}

/** "1 downloader", "2,345 downloaders". */
export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}
