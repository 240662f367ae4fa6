// The effective mirror list: the config file's mirrors overlaid with staff changes made at runtime.
import type { MirrorSpec, MirrorState } from './model.js';

/** Mirrors as staff changed them; structurally the store's MirrorOverride, kept here so core imports nothing outward. */
export interface Overlay {
  /** null clears an optional field. */
  patch: { [K in keyof Omit<MirrorSpec, 'id'>]?: MirrorSpec[K] | null };
  added?: boolean;
  deleted?: boolean;
  drain?: { startMs: number; overMs: number };
  lifecycle?: 'pending' | 'syncing' | 'active' | 'retired';
  /** Its stored state was damaged or invalid (the reason): out of rotation until staff change it. */
  unconfirmed?: string;
}

export interface HealthFacts {
  health: MirrorState['health'];
  reason?: string;
  lagSeconds?: number;
  lastSync?: number;
  latencyMs?: number;
  missing?: readonly string[];
}

/**
 * Config mirrors keep their order; runtime-added ones follow, sorted by id, so every instance
 * numbers mirrors alike. Deleted and retired mirrors drop out.
 */
export function effectiveMirrors(config: readonly MirrorSpec[], overlays: ReadonlyMap<string, Overlay>): MirrorSpec[] {
  const out: MirrorSpec[] = [];
  const seen = new Set<string>();
  for (const base of config) {
    seen.add(base.id);
    const o = overlays.get(base.id);
    if (o?.deleted || o?.lifecycle === 'retired') continue;
    if (o?.unconfirmed) out.push({ ...applyPatch(base, o.patch), enabled: false });
    else out.push(o ? applyPatch(base, o.patch) : base);
  }
  const added = [...overlays.entries()].filter(([id, o]) => !seen.has(id) && o.added && !o.deleted && o.lifecycle !== 'retired');
  added.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, o] of added) {
    const spec = applyPatch(
      { id, name: id, baseUrl: '', country: '', asn: [], weight: 100, countryOnly: false, enabled: true, content: { include: ['**'], exclude: [] } },
      o.patch,
    );
    out.push(spec);
  }
  return out;
}

function applyPatch(base: MirrorSpec, patch: Overlay['patch']): MirrorSpec {
  const merged = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  if (patch.content) merged.content = { ...base.content, ...patch.content };
  merged.id = base.id;
  return merged as unknown as MirrorSpec;
}

/** The live state the snapshot reads: probe facts plus the staff's drain and launch state (syncing, pending). */
export function mirrorStates(
  mirrors: readonly MirrorSpec[],
  health: ReadonlyMap<string, HealthFacts>,
  overlays: ReadonlyMap<string, Overlay>,
): Map<string, MirrorState> {
  const states = new Map<string, MirrorState>();
  for (const m of mirrors) {
    const h = health.get(m.id);
    const o = overlays.get(m.id);
    const state: MirrorState = { health: h?.health ?? 'unknown' };
    if (h?.reason !== undefined) state.reason = h.reason;
    if (h?.lagSeconds !== undefined) state.lagSeconds = h.lagSeconds;
    if (h?.lastSync !== undefined) state.lastSync = h.lastSync;
    if (h?.latencyMs !== undefined) state.latencyMs = h.latencyMs;
    if (h?.missing?.length) state.missing = h.missing;
    if (o?.drain) state.drain = o.drain;
    if (o?.lifecycle === 'syncing') state.launching = true;
    // Added by hand: out of rotation until a probe has shown it up (a dead URL must never get a download).
    if (o?.lifecycle === 'pending' && state.health !== 'up') {
      state.launching = true;
      state.pending = true;
    }
    states.set(m.id, state);
  }
  return states;
}

/**
 * Where a scan learns a mirror's files: its rsync module, else the manifest its config names, an http(s)
 * one it publishes or a local file the operator keeps (read again by each scan, as its provider updates it).
 */
export function scanSource(m: MirrorSpec): { rsyncUrl: string } | { manifestUrl: string } | { manifestFile: string } | undefined {
  if (m.rsyncUrl) return { rsyncUrl: m.rsyncUrl };
  const manifest = m.content.manifest;
  if (!manifest) return undefined;
  return /^https?:\/\//i.test(manifest) ? { manifestUrl: manifest } : { manifestFile: manifest };
}
