// The public summary of every mirror in a snapshot: status, sponsor, sync, share carried.
import { mirrorCarries, type MirrorStatus, type Snapshot } from './snapshot.js';

export interface MirrorSummary {
  id: string;
  name: string;
  url: string;
  country: string;
  continent: string | null;
  status: MirrorStatus;
  reason: string | null;
  weight: number;
  bandwidthMbps: number | null;
  countryOnly: boolean;
  sponsor: { name: string; url: string | null; logo: string | null } | null;
  lastSync: string | null;
  lagSeconds: number | null;
  /** Median probe round trip in ms, when probes have measured it. */
  latencyMs: number | null;
  /** Share of the origin's files it carries now, 0..1. */
  share: number;
  files: number;
}

const cache = new WeakMap<Snapshot, MirrorSummary[]>();

/** Computed once per snapshot: counting carried files walks the whole index. */
export function mirrorSummaries(snapshot: Snapshot): MirrorSummary[] {
  const hit = cache.get(snapshot);
  if (hit) return hit;
  const total = snapshot.files.count;
  const summaries = snapshot.mirrors.map((m): MirrorSummary => {
    let carried = 0;
    for (let f = 0; f < total; f++) if (mirrorCarries(snapshot, m, f)) carried++;
    const s = m.spec;
    return {
      id: s.id,
      name: s.name,
      url: s.baseUrl,
      country: s.country,
      continent: m.continent ?? null,
      status: m.status,
      reason: m.state.reason ?? null,
      weight: s.weight,
      bandwidthMbps: s.bandwidthMbps ?? null,
      countryOnly: s.countryOnly,
      sponsor: s.sponsor ? { name: s.sponsor.name, url: s.sponsor.url ?? null, logo: s.sponsor.logo ? `/logos/${s.id}` : null } : null,
      lastSync: m.state.lastSync !== undefined ? new Date(m.state.lastSync * 1000).toISOString() : null,
      lagSeconds: m.state.lagSeconds ?? null,
      latencyMs: m.state.latencyMs !== undefined ? Math.round(m.state.latencyMs * 10) / 10 : null,
      share: total ? carried / total : 0,
      files: carried,
    };
  });
  cache.set(snapshot, summaries);
  return summaries;
}

/** MirrorState gains latencyMs with the prober; read it defensively until then. */
