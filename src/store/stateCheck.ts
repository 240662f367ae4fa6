// Reading staff state back from disk or Redis: each record checked with the API's rules, and damage made safe, never silently dropped.
//
// A staff change that cannot be read back must not turn into "no change": a drained or disabled mirror
// would take traffic again. So a record that fails its schema becomes an *unconfirmed* override (the
// mirror gets no downloads until staff change it), and a lost overrides file is rebuilt from the audit
// log, whose entries carry the state they applied (write-ahead, see AdminService).
import { MIRROR_ID } from '../config/fields.js';
import { healthRecordSchema, mirrorOverrideSchema } from './schemas.js';
import type { AuditEntry, MirrorOverride } from '../core/records.js';
import type { HealthRecord } from '../core/model.js';

/** The actor named on overrides this module makes up. */
export const STATE_CHECK_ACTOR = 'state-check';

/** An override for a mirror whose stored state is unknown: it stays out of rotation until staff confirm it. */
export function unconfirmedOverride(reason: string): MirrorOverride {
  return { patch: {}, unconfirmed: reason, updatedAt: 0, updatedBy: STATE_CHECK_ACTOR };
}

/** The audit actions that write a mirror's override (probes and scans only report). */
export function changesOverride(action: string): boolean {
  return action.startsWith('mirror.') && action !== 'mirror.probe' && action !== 'mirror.scan';
}

/** A mirror id as stored keys and file names must spell it. */
export function isMirrorId(id: string): boolean {
  return id.length > 0 && id.length <= 63 && MIRROR_ID.test(id);
}

/** One stored override, checked: the value, or the reason it cannot be used. */
export function checkOverride(raw: unknown): { ok: true; value: MirrorOverride } | { ok: false; reason: string } {
  const parsed = mirrorOverrideSchema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: `stored staff state is invalid (${issue ? `${issue.path.join('.') || '(record)'}: ${issue.message}` : 'unreadable'})` };
}

/**
 * Overrides checked one by one: a bad one is replaced by an unconfirmed override (or by its state in
 * `fallback`, rebuilt from the audit log, when that has it); a key that is no mirror id is dropped.
 */
export function checkOverrides(
  entries: Iterable<[string, unknown]>,
  log: { error(obj: object, msg?: string): void },
  where: string,
  fallback?: () => ReadonlyMap<string, MirrorOverride>,
): Map<string, MirrorOverride> {
  const out = new Map<string, MirrorOverride>();
  for (const [mirror, raw] of entries) {
    if (!isMirrorId(mirror)) {
      log.error({ where, key: mirror.slice(0, 100) }, 'stored staff state under a key that is no mirror id; ignored');
      continue;
    }
    const checked = checkOverride(raw);
    if (checked.ok) {
      out.set(mirror, checked.value);
      continue;
    }
    const rebuilt = fallback?.().get(mirror);
    if (rebuilt && !rebuilt.unconfirmed) {
      log.error({ where, mirror, reason: checked.reason }, 'stored staff state invalid; using its last audited state instead');
      out.set(mirror, rebuilt);
    } else {
      log.error({ where, mirror, reason: checked.reason }, 'stored staff state invalid; the mirror gets no downloads until staff change it');
      out.set(mirror, unconfirmedOverride(checked.reason));
    }
  }
  return out;
}

/**
 * Overrides as the audit log says they are: the state the last override-changing entry of each mirror
 * applied (entries oldest first). A mirror whose last such entry carries no state (written before
 * entries did) or an invalid one is unconfirmed.
 */
export function overridesFromAudit(entries: Iterable<AuditEntry>): Map<string, MirrorOverride> {
  const out = new Map<string, MirrorOverride>();
  for (const entry of entries) {
    if (!entry.target.startsWith('mirror:') || !changesOverride(entry.action)) continue;
    const mirror = entry.target.slice('mirror:'.length);
    if (!isMirrorId(mirror)) continue;
    const applies = entry.applies;
    if (!applies || !('override' in applies)) {
      out.set(mirror, unconfirmedOverride(`its staff state was lost, and its last change (${entry.action}) predates audit entries that record the state`));
      continue;
    }
    if (applies.override === null) {
      out.delete(mirror);
      continue;
    }
    const checked = checkOverride(applies.override);
    out.set(mirror, checked.ok ? checked.value : unconfirmedOverride(checked.reason));
  }
  return out;
}

/** A health record read back; an invalid one reads as down (unknown health is not a reason to send downloads). */
export function checkHealth(raw: unknown): { value: HealthRecord; reason?: string } {
  const parsed = healthRecordSchema.safeParse(raw);
  if (parsed.success) return { value: parsed.data };
  const reason = 'stored health record is invalid; waiting for a probe';
  return { value: { health: 'down', reason, consecutiveFailures: 0, consecutiveSuccesses: 0 }, reason };
}
