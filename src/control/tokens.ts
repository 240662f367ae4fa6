// Who a bearer token (or a console session) is: the config file's tokens, plus tokens issued at runtime and kept in the store as SHA-256 hashes.
import { createHash, randomBytes } from 'node:crypto';
import type { TokenConfig } from '../config/schema.js';
import { timingSafeEqualString } from '../core/compare.js';
import type { TokenRecord } from '../store/store.js';

type Role = TokenConfig['role'];
/** A config token as the config file gives it (the http layer's AccessToken has this shape). */
type AccessToken = Pick<TokenConfig, 'token' | 'role' | 'name' | 'mirrors'>;

/** Who is asking: a token's name (the audit actor), role and, for a provider, its mirrors. */
export interface Principal {
  name: string;
  role: Role;
  mirrors: string[];
  /** "config:<name>" or "runtime:<id>": what a session points at, resolved again on every request. */
  ref: string;
}

/** A token as staff see it in a list: never the secret, never its hash. */
export interface TokenView {
  id: string | null;
  name: string;
  role: string;
  mirrors: string[];
  source: 'config' | 'runtime';
  createdAt: string | null;
  createdBy: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  offer: string | null;
}

/** Roles a token issued at runtime may have. */
export const RUNTIME_ROLES = ['staff', 'provider', 'edge'] as const satisfies readonly Role[];
export type { Role };

/** 32 random bytes, base64url, with a prefix that says what it is (and lets secret scanners find it). */
export function newTokenSecret(): string {
  return `mgt_${randomBytes(32).toString('base64url')}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The tokens one instance accepts: the config's, and the store's (reloaded when a token changes anywhere). */
export class TokenRegistry {
  private runtime: TokenRecord[] = [];
  private byHash = new Map<string, TokenRecord>();

  constructor(private readonly configTokens: readonly AccessToken[]) {}

  /** Replaces the runtime tokens with what the store holds. */
  setRuntime(records: readonly TokenRecord[]): void {
    this.runtime = records.map((r) => ({ ...r, mirrors: [...r.mirrors] }));
    this.byHash = new Map(this.runtime.filter((r) => r.revokedAt === undefined).map((r) => [r.hash, r]));
  }

  records(): TokenRecord[] {
    return this.runtime.map((r) => ({ ...r, mirrors: [...r.mirrors] }));
  }

  /**
   * The principal a presented token names. Config tokens are compared in constant time, every one
   * of them; a runtime token is found by its SHA-256, which says nothing about the secret.
   */
  match(presented: string): Principal | undefined {
    let found: Principal | undefined;
    for (const t of this.configTokens) if (timingSafeEqualString(presented, t.token)) found = fromConfig(t);
    if (found) return found;
    const record = this.byHash.get(sha256Hex(presented));
    return record ? fromRecord(record) : undefined;
  }

  /** A session's principal, if its token still exists and is not revoked. */
  resolve(ref: string): Principal | undefined {
    if (ref.startsWith('config:')) {
      const name = ref.slice('config:'.length);
      const t = this.configTokens.find((x) => x.name === name);
      return t ? fromConfig(t) : undefined;
    }
    if (ref.startsWith('runtime:')) {
      const id = ref.slice('runtime:'.length);
      const record = this.runtime.find((r) => r.id === id && r.revokedAt === undefined);
      return record ? fromRecord(record) : undefined;
    }
    return undefined;
  }

  /** Names in use by a live token: a new token may not take one, so audit actors stay unambiguous. */
  nameTaken(name: string): boolean {
    return this.configTokens.some((t) => t.name === name) || this.runtime.some((r) => r.name === name && r.revokedAt === undefined);
  }

  list(): TokenView[] {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return [
      ...this.configTokens.map((t): TokenView => ({
        id: null,
        name: t.name,
        role: t.role,
        mirrors: [...t.mirrors],
        source: 'config',
        createdAt: null,
        createdBy: null,
        revokedAt: null,
        revokedBy: null,
        offer: null,
      })),
      ...this.runtime.map((r): TokenView => ({
        id: r.id,
        name: r.name,
        role: r.role,
        mirrors: [...r.mirrors],
        source: 'runtime',
        createdAt: iso(r.createdAt),
        createdBy: r.createdBy,
        revokedAt: iso(r.revokedAt),
        revokedBy: r.revokedBy ?? null,
        offer: r.offer ?? null,
      })),
    ];
  }
}

function fromConfig(t: AccessToken): Principal {
  return { name: t.name, role: t.role, mirrors: [...t.mirrors], ref: `config:${t.name}` };
}

function fromRecord(r: TokenRecord): Principal {
  return { name: r.name, role: r.role as Role, mirrors: [...r.mirrors], ref: `runtime:${r.id}` };
}
