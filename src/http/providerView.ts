// What a provider token may see of staff-side records: no path on the server (a logo file, a manifest file),
// in the mirror API and in the audit log alike; staff see everything as stored.
import type { Principal } from '../control/tokens.js';
import type { AuditEntry } from '../core/records.js';
import type { MirrorView } from './schemas/admin.js';

/** A mirror as the token may see it: a provider sees its logo as the public /logos/{id} address, no manifest file. */
export function seenBy(token: Principal, view: MirrorView): MirrorView {
  if (token.role !== 'provider') return view;
  const { spec } = view;
  const { manifest: _manifest, ...content } = spec.content;
  return {
    ...view,
    spec: {
      ...spec,
      ...(spec.sponsor && { sponsor: { ...spec.sponsor, ...(spec.sponsor.logo !== undefined && { logo: `/logos/${spec.id}` }) } }),
      content,
    },
  };
}

/** An audit entry as the token may see it: in a provider's view, a logo file is its /logos/{id} address and a manifest file is left out. */
export function auditSeenBy(token: Principal, entry: AuditEntry): AuditEntry {
  if (token.role !== 'provider' || !entry.target.startsWith('mirror:')) return entry;
  const logo = `/logos/${entry.target.slice('mirror:'.length)}`;
  return { ...entry, before: withoutServerPaths(entry.before, logo), after: withoutServerPaths(entry.after, logo) };
}

function withoutServerPaths(value: unknown, logo: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutServerPaths(v, logo));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' && !/^https?:\/\//i.test(v)) {
      if (key === 'logo') {
        out[key] = logo;
        continue;
      }
      if (key === 'manifest') continue;
    }
    out[key] = withoutServerPaths(v, logo);
  }
  return out;
}
