// At start: the audit log is written before the state it records (write-ahead), so after a crash it may
// hold a change whose write was lost. Such changes are rolled forward, so the state is what the log says.
import type { AuditEntry, Offer } from '../core/records.js';
import { offerSchema } from '../store/schemas.js';
import { checkOverride } from '../store/stateCheck.js';
import type { Store } from '../store/store.js';

export interface ReconcileOptions {
  clock: () => number;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** How far back to look (default a day): a crash leaves at most the last few changes unwritten. */
  windowMs?: number;
  /** At most this many entries are read (default 5,000). */
  maxEntries?: number;
}

/** What was rolled forward, by target ("mirror:acme-de", "offer:…", "token:…"). */
export interface Reconciled {
  rolledForward: string[];
}

/**
 * For each mirror, offer and token the recent log names, compares the state its newest entry applied
 * with the stored state and writes it when the store lacks it: a staff change whose entry was written
 * but whose write was lost, an offer created or decided, a token revocation. A stored state newer
 * than its newest entry is left alone (and reported: every write should be audited).
 */
export async function reconcileAudit(store: Store, opts: ReconcileOptions): Promise<Reconciled> {
  const { log } = opts;
  const since = opts.clock() - (opts.windowMs ?? 86_400_000);
  const entries = await store.listAudit({ since, limit: opts.maxEntries ?? 5_000 });
  // Newest first: the first entry that applies something is the state its target should be in.
  const newest = new Map<string, AuditEntry>();
  for (const entry of entries) {
    if (newest.has(entry.target)) continue;
    if (entry.applies !== undefined || entry.action === 'token.revoke') newest.set(entry.target, entry);
  }
  const rolledForward: string[] = [];
  if (newest.size === 0) return { rolledForward };

  const overrides = await store.getOverrides();
  let offers: Map<string, Offer> | undefined;
  for (const [target, entry] of newest) {
    const applies = entry.applies;
    if (target.startsWith('mirror:') && applies && 'override' in applies) {
      const mirror = target.slice('mirror:'.length);
      let value = applies.override;
      if (value !== null) {
        const checked = checkOverride(value);
        if (!checked.ok) {
          log.error({ target, entry: entry.id, reason: checked.reason }, 'audit entry holds an invalid state; not rolled forward');
          continue;
        }
        value = checked.value;
      }
      const stored = overrides.get(mirror);
      if (sameJson(stored ?? null, value)) continue;
      if (stored && !stored.unconfirmed && stored.updatedAt > entry.at) {
        log.warn({ target, entry: entry.id, storedAt: stored.updatedAt, auditedAt: entry.at }, 'stored staff state is newer than its newest audit entry');
        continue;
      }
      await store.putOverride(mirror, value);
      await store.publish({ kind: 'override', mirror });
      rolledForward.push(target);
    } else if (target.startsWith('offer:') && applies && 'offer' in applies) {
      const parsed = offerSchema.safeParse(applies.offer);
      if (!parsed.success) continue;
      offers ??= new Map((await store.getOffers()).map((o) => [o.id, o]));
      const stored = offers.get(parsed.data.id);
      // Created but not written; or decided but still open. The stored copy keeps its status key's hash.
      if (stored && !(stored.status === 'offered' && parsed.data.status !== 'offered')) continue;
      await store.putOffer({ ...(stored ?? {}), ...parsed.data });
      await store.publish({ kind: 'offer', id: parsed.data.id });
      rolledForward.push(target);
    } else if (target.startsWith('token:') && entry.action === 'token.revoke') {
      const id = target.slice('token:'.length);
      const token = (await store.getTokens()).find((t) => t.id === id);
      if (!token || token.revokedAt !== undefined) continue;
      await store.putToken({ ...token, revokedAt: entry.at, revokedBy: entry.actor });
      await store.publish({ kind: 'token', id });
      rolledForward.push(target);
    }
  }
  if (rolledForward.length > 0) {
    log.warn({ targets: rolledForward }, 'audited changes whose write was lost (a crash?) were rolled forward');
  }
  return { rolledForward };
}

/** Equal as JSON, whatever the key order (a value read back through a schema has the schema's order). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
