// Turns a Decision into what every answer format shares: target URLs, ranks and display facts.
import type { Candidate, Decision } from './decide.js';
import type { ClientFacts } from './model.js';
import { encodePathForUrl } from './paths.js';
import type { Snapshot, SnapshotMirror } from './snapshot.js';

export interface RankedMirror {
  id: string;
  name: string;
  url: string;
  country: string;
  https: boolean;
  /** Rounded; null when the client's location is unknown. */
  distanceKm: number | null;
  /**
   * Higher is nearer: the tier (ASN, country, continent, elsewhere) first, then distance; never higher
   * than the score before it, so sorting by it keeps our order (mirrors the weighted pick took as about
   * equally near share the score of the one ranked first).
   */
  score: number;
  /** 1 = the pick; the order of Link pri and metalink priority. */
  priority: number;
  sponsor: SnapshotMirror['spec']['sponsor'];
}

/** The only way a redirect target is formed: a configured base URL plus the encoded origin path. */
export function targetUrl(baseUrl: string, path: string): string {
  return baseUrl + encodePathForUrl(path);
}

export function originUrl(snapshot: Snapshot, path: string): string {
  return targetUrl(snapshot.origin.baseUrl, path);
}

export function rankedMirrors(decision: Pick<Decision, 'ranked'>, path: string, limit = Infinity): RankedMirror[] {
  const encoded = encodePathForUrl(path);
  let ceiling = Infinity;
  return decision.ranked.slice(0, limit).map((c, i) => {
    const m = present(c, encoded, i + 1);
    ceiling = Math.min(ceiling, m.score);
    return ceiling === m.score ? m : { ...m, score: ceiling };
  });
}

/** `encodedPath` is already percent-encoded: encoded once per answer, not once per mirror. */
function present(c: Candidate, encodedPath: string, priority: number): RankedMirror {
  const spec = c.mirror.spec;
  const distance = c.distanceKm === undefined ? null : Math.round(c.distanceKm);
  return {
    id: spec.id,
    name: spec.name,
    url: spec.baseUrl + encodedPath,
    country: spec.country,
    https: c.mirror.https,
    distanceKm: distance,
    score: Math.max(0, (4 - c.tier) * 20000 - Math.min(19999, distance ?? 0)),
    priority,
    sponsor: spec.sponsor,
  };
}

/** The client facts as the mirror list shows them (never more than we were told). */
export function clientSummary(client: ClientFacts): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ip: client.ip, https: client.https };
  if (client.country) out.country = client.country;
  if (client.continent) out.continent = client.continent;
  if (client.lat !== undefined) out.lat = client.lat;
  if (client.lon !== undefined) out.lon = client.lon;
  if (client.asn !== undefined) out.asn = client.asn;
  return out;
}

export function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
