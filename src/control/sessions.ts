// Console sessions: an opaque random id in the cookie, the session itself in the store (under the id's SHA-256), with an absolute expiry.
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { StoreUnavailableError, type SessionRecord, type Store } from '../store/store.js';
import { sha256Hex, type Principal, type TokenRegistry } from './tokens.js';

/** However active, a session ends this long after sign-in. */
export const SESSION_MS = 12 * 3_600_000;

/** A cookie value we could have issued: 32 bytes of base64url. Anything else is not looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class SessionService {
  /**
   * Sessions this instance has seen, so the console still knows who is signed in while the store is
   * unreachable (read-only then), and so they can be written back if the store loses its data.
   */
  private readonly seen = new LRUCache<string, SessionRecord>({ max: 10_000 });

  constructor(
    private readonly store: Store,
    private readonly tokens: TokenRegistry,
    private readonly clock: () => number,
  ) {}

  /** Starts a session for a principal; the id goes in the cookie and nowhere else. */
  async create(principal: Principal): Promise<{ id: string; expiresAt: number }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock();
    const record: SessionRecord = { tokenRef: principal.ref, createdAt: now, expiresAt: now + SESSION_MS };
    const key = sha256Hex(id);
    await this.store.putSession(key, record);
    this.seen.set(key, record);
    return { id, expiresAt: record.expiresAt };
  }

  /**
   * The principal behind a cookie value: the session must exist, be unexpired, and its token must
   * still be valid (a revoked token ends its sessions at once, on every instance).
   */
  async resolve(id: string): Promise<Principal | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const key = sha256Hex(id);
    let record: SessionRecord | undefined;
    try {
      record = await this.store.getSession(key);
      if (record) this.seen.set(key, record);
      else this.seen.delete(key);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      record = this.seen.get(key);
    }
    if (!record || record.expiresAt <= this.clock()) return undefined;
    return this.tokens.resolve(record.tokenRef);
  }

  /** Ends a session (sign out). */
  async end(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    const key = sha256Hex(id);
    this.seen.delete(key);
    await this.store.putSession(key, null);
  }

  /** Unexpired sessions this instance knows, by store key: written back after the store lost its data. */
  held(): [string, SessionRecord][] {
    const now = this.clock();
    return [...this.seen.entries()].filter(([, s]) => s.expiresAt > now);
  }
}
