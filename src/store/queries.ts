// Answers stats and audit queries over stored data, shared so the memory and Redis stores answer identically.
import type { StatsDay } from './schemas.js';
import type { AuditQuery, StatsBatch, StatsQuery, StatsResult } from './store.js';
import type { AuditEntry } from '../core/records.js';

/** Top files beyond this many are dropped from a result; enough for any dashboard. */
export const TOP_FILES_LIMIT = 100;

// Mirror ids are [a-z0-9-]+ (config), so '|' never occurs in them and the first '|' splits safely.
export const downloadField = (mirror: string, country: string): string => `${mirror}|${country}`;
export const fileField = (mirror: string | undefined, path: string): string => `${mirror ?? ''}|${path}`;

export function splitField(field: string): [string, string] {
  const bar = field.indexOf('|');
  return bar === -1 ? [field, ''] : [field.slice(0, bar), field.slice(bar + 1)];
}

export function emptyStatsDay(): StatsDay {
  return { downloads: {}, files: {}, impressions: {} };
}

/** Adds a batch into per-day counters in place (the memory store's write path). */
export function addBatch(days: Map<string, StatsDay>, batch: StatsBatch): void {
  const dayOf = (day: string): StatsDay => {
    let stats = days.get(day);
    if (stats === undefined) {
      stats = emptyStatsDay();
      days.set(day, stats);
    }
    return stats;
  };
  for (const row of batch.downloads) {
    const counters = dayOf(row.day).downloads;
    const field = downloadField(row.mirror, row.country);
    const [count, bytes] = counters[field] ?? [0, 0];
    counters[field] = [count + row.count, bytes + row.bytes];
  }
  for (const row of batch.files) {
    const counters = dayOf(row.day).files;
    const field = fileField(row.mirror, row.path);
    counters[field] = (counters[field] ?? 0) + row.count;
  }
  for (const row of batch.impressions) {
    const counters = dayOf(row.day).impressions;
    counters[row.mirror] = (counters[row.mirror] ?? 0) + row.count;
  }
}

export const dayInRange = (day: string, query: StatsQuery): boolean => day >= query.from && day <= query.to;

function bump(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Sums the days within the query's inclusive range, scoped to `query.mirrors` when given. */
export function summarizeStats(days: Iterable<readonly [string, StatsDay]>, query: StatsQuery): StatsResult {
  const scope = query.mirrors === undefined ? undefined : new Set(query.mirrors);
  const inScope = (mirror: string): boolean => scope === undefined || scope.has(mirror);

  const byDay: StatsResult['byDay'] = [];
  const mirrorDownloads = new Map<string, number>();
  const mirrorBytes = new Map<string, number>();
  const mirrorImpressions = new Map<string, number>();
  const countryDownloads = new Map<string, number>();
  const countryBytes = new Map<string, number>();
  const fileDownloads = new Map<string, number>();

  for (const [day, stats] of days) {
    if (!dayInRange(day, query)) continue;
    let downloads = 0;
    let bytes = 0;
    let impressions = 0;
    for (const [field, [count, sent]] of Object.entries(stats.downloads)) {
      const [mirror, country] = splitField(field);
      if (!inScope(mirror)) continue;
      downloads += count;
      bytes += sent;
      bump(mirrorDownloads, mirror, count);
      bump(mirrorBytes, mirror, sent);
      bump(countryDownloads, country, count);
      bump(countryBytes, country, sent);
    }
    for (const [mirror, count] of Object.entries(stats.impressions)) {
      if (!inScope(mirror)) continue;
      impressions += count;
      bump(mirrorImpressions, mirror, count);
    }
    for (const [field, count] of Object.entries(stats.files)) {
      const [mirror, path] = splitField(field);
      // A row without a mirror cannot be attributed to a provider, so scoped queries leave it out.
      if (scope !== undefined && !scope.has(mirror)) continue;
      bump(fileDownloads, path, count);
    }
    if (downloads > 0 || bytes > 0 || impressions > 0) byDay.push({ day, downloads, bytes, impressions });
  }

  byDay.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const byCount =
    <T extends { downloads: number }>(key: (row: T) => string) =>
    (a: T, b: T): number =>
      b.downloads - a.downloads || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

  const mirrors = new Set([...mirrorDownloads.keys(), ...mirrorImpressions.keys()]);
  const byMirror = [...mirrors]
    .map((mirror) => ({
      mirror,
      downloads: mirrorDownloads.get(mirror) ?? 0,
      bytes: mirrorBytes.get(mirror) ?? 0,
      impressions: mirrorImpressions.get(mirror) ?? 0,
    }))
    .sort(byCount((row) => row.mirror));
  const byCountry = [...countryDownloads]
    .map(([country, downloads]) => ({ country, downloads, bytes: countryBytes.get(country) ?? 0 }))
    .sort(byCount((row) => row.country));
  const topFiles = [...fileDownloads]
    .map(([path, downloads]) => ({ path, downloads }))
    .sort(byCount((row) => row.path))
    .slice(0, TOP_FILES_LIMIT);
  const totals = byDay.reduce(
    (sum, row) => ({
      downloads: sum.downloads + row.downloads,
      bytes: sum.bytes + row.bytes,
      impressions: sum.impressions + row.impressions,
    }),
    { downloads: 0, bytes: 0, impressions: 0 },
  );
  return { byDay, byMirror, byCountry, topFiles, totals };
}

/** The audit filters: exact actor/target/action, inclusive since/until on `at`. */
export function matchesAudit(entry: AuditEntry, query: AuditQuery): boolean {
  return (
    (query.actor === undefined || entry.actor === query.actor) &&
    (query.target === undefined || entry.target === query.target) &&
    (query.targets === undefined || query.targets.includes(entry.target)) &&
    (query.action === undefined || entry.action === query.action) &&
    (query.since === undefined || entry.at >= query.since) &&
    (query.until === undefined || entry.at <= query.until)
  );
}
