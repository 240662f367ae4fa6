// Sponsor logos at the edge, kept per isolate so pages keep img-src 'self': from KV where the snapshot comes from KV, else from the control plane's /logos/{id} through the Cache API, which also answers while the control plane is away.
import type { Snapshot } from '../core/snapshot.js';
import type { LogLike, Logo } from '../http/services.js';
import type { CacheLike, KvNamespaceLike } from './runtime.js';

export interface LogoCacheOptions {
  /** Control plane base URL (no trailing slash). */
  controlUrl?: string;
  /** KV namespace holding "logo/<mirror id>" (the README's KV script publishes them with the core and shards). */
  kv?: KvNamespaceLike;
  /** The location's shared cache (caches.default): logos fetched from the control plane are kept there. */
  sharedCache?: CacheLike;
  sharedCacheKeyBase?: () => string;
  fetch?: typeof fetch;
  clock?: () => number;
  /** How long a logo is kept (in the isolate and, as fresh, in the shared cache); a miss (404, error) missTtlMs. */
  ttlMs?: number;
  missTtlMs?: number;
  timeoutMs?: number;
  log: LogLike;
}

interface Entry {
  logo: Logo | null;
  /** The sponsor.logo the entry was fetched for: a changed sponsor invalidates it. */
  source: string;
  expiresAtMs: number;
}

/** As control/logos.ts MAX_LOGO_BYTES (not imported: that module reads files with node:fs). */
const MAX_LOGO_BYTES = 256 * 1024;
export const logoKvKey = (mirrorId: string) => `logo/${mirrorId}`;
/** A logo in the shared cache outlives its freshness this long, to be served while the control plane is away. */
const SHARED_CACHE_KEEP_SECONDS = 30 * 86_400;
const FETCHED_AT = 'X-Mirrorgate-Fetched-At';

/** Stands in for a logo not fetched yet, so a page can already link /logos/{id}; never served (see prepare). */
const NOT_YET_FETCHED: Logo = { body: new Uint8Array(0), contentType: 'application/octet-stream' };

/** Logos cost ~10 KB each and there is one per mirror at most, so the cache needs no other bound than the snapshot's mirror list. */
export class LogoCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetchImpl: typeof fetch;
  private readonly clock: () => number;

  constructor(private readonly opts: LogoCacheOptions) {
    this.fetchImpl = opts.fetch ?? fetch.bind(globalThis);
    this.clock = opts.clock ?? Date.now;
  }

  private get hasSource(): boolean {
    return this.opts.kv !== undefined || this.opts.controlUrl !== undefined;
  }

  /**
   * For AppServices.logo: the cached logo, or a placeholder while the mirror has a sponsor logo the
   * edge has not fetched yet (pages only test whether there is one). GET /logos/{id} always runs
   * prepare() first, so the placeholder never reaches a client.
   */
  logo(snapshot: Snapshot, mirrorId: string): Logo | undefined {
    const source = sponsorLogo(snapshot, mirrorId);
    if (!source || !this.hasSource) return undefined;
    const entry = this.entries.get(mirrorId);
    if (!entry || entry.source !== source) return NOT_YET_FETCHED;
    return entry.logo ?? undefined;
  }

  /** Makes sure the cache has a fresh answer (a logo or a known miss) for a mirror of this snapshot. */
  async prepare(snapshot: Snapshot, mirrorId: string, background: (p: Promise<unknown>) => void = () => {}): Promise<void> {
    const source = sponsorLogo(snapshot, mirrorId);
    if (!source || !this.hasSource) {
      this.entries.delete(mirrorId);
      return;
    }
    const now = this.clock();
    const entry = this.entries.get(mirrorId);
    if (entry && entry.source === source && entry.expiresAtMs > now) return;
    const stale = entry?.logo && entry.source === source ? entry.logo : null;
    const logo = this.opts.kv ? await this.fromKv(this.opts.kv, mirrorId, stale) : await this.fromControlPlane(mirrorId, source, stale, background);
    const ttl = logo ? (this.opts.ttlMs ?? 3_600_000) : (this.opts.missTtlMs ?? 60_000);
    this.entries.set(mirrorId, { logo, source, expiresAtMs: this.clock() + ttl });
  }

  private async fromKv(kv: KvNamespaceLike, mirrorId: string, stale: Logo | null): Promise<Logo | null> {
    try {
      const options = { type: 'arrayBuffer' as const, cacheTtl: 300 };
      let value: ArrayBuffer | null;
      let contentType: string | undefined;
      if (kv.getWithMetadata) {
        const got = await kv.getWithMetadata<{ contentType?: unknown }>(logoKvKey(mirrorId), options);
        value = got.value;
        if (typeof got.metadata?.contentType === 'string') contentType = got.metadata.contentType;
      } else {
        value = await kv.get(logoKvKey(mirrorId), options);
      }
      if (!value) return null;
      const body = new Uint8Array(value);
      const type = contentType?.startsWith('image/') ? contentType : sniffImageType(body);
      return type && body.byteLength <= MAX_LOGO_BYTES ? { body, contentType: type } : null;
    } catch (err) {
      this.opts.log.warn({ mirror: mirrorId, err: err instanceof Error ? err.message : String(err) }, 'logo read from KV failed');
      return stale;
    }
  }

  /**
   * The shared cache's copy while fresh; else the control plane's (written back to the shared
   * cache); else, the control plane being away, any copy held here or in the shared cache.
   */
  private async fromControlPlane(mirrorId: string, source: string, stale: Logo | null, background: (p: Promise<unknown>) => void): Promise<Logo | null> {
    const key = `${this.opts.sharedCacheKeyBase?.() ?? 'https://mirrorgate.invalid'}/__mirrorgate/logos/${encodeURIComponent(mirrorId)}?source=${encodeURIComponent(source)}`;
    const shared = await this.fromSharedCache(key);
    if (shared && this.clock() - shared.fetchedAtMs < (this.opts.ttlMs ?? 3_600_000)) return shared.logo;
    try {
      const res = await this.fetchImpl(`${this.opts.controlUrl}/logos/${encodeURIComponent(mirrorId)}`, {
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      });
      const contentType = res.headers.get('content-type') ?? '';
      if (res.ok && contentType.startsWith('image/')) {
        const body = new Uint8Array(await res.arrayBuffer());
        // The control plane sanitised it; the bound only keeps a misbehaving origin from filling the isolate.
        if (body.byteLength > MAX_LOGO_BYTES) return null;
        const logo = { body, contentType };
        this.toSharedCache(key, logo, background);
        return logo;
      }
      await res.body?.cancel();
      // 5xx: the control plane is in trouble, not the logo gone.
      if (res.status >= 500) throw new Error(`control plane answered ${res.status} for /logos/${mirrorId}`);
      return null;
    } catch (err) {
      this.opts.log.warn({ mirror: mirrorId, err: err instanceof Error ? err.message : String(err) }, 'logo fetch failed');
      // A stale logo beats none while the control plane is away.
      return stale ?? shared?.logo ?? null;
    }
  }

  private async fromSharedCache(key: string): Promise<{ logo: Logo; fetchedAtMs: number } | undefined> {
    const cache = this.opts.sharedCache;
    if (!cache) return undefined;
    try {
      const res = await cache.match(key);
      if (!res || res.status !== 200) {
        await res?.body?.cancel();
        return undefined;
      }
      const contentType = res.headers.get('content-type') ?? '';
      const body = new Uint8Array(await res.arrayBuffer());
      if (!contentType.startsWith('image/') || body.byteLength > MAX_LOGO_BYTES) return undefined;
      return { logo: { body, contentType }, fetchedAtMs: Number(res.headers.get(FETCHED_AT)) || 0 };
    } catch {
      return undefined;
    }
  }

  private toSharedCache(key: string, logo: Logo, background: (p: Promise<unknown>) => void): void {
    const cache = this.opts.sharedCache;
    if (!cache) return;
    const res = new Response(logo.body as Uint8Array<ArrayBuffer>, {
      headers: { 'Content-Type': logo.contentType, 'Cache-Control': `public, max-age=${SHARED_CACHE_KEEP_SECONDS}`, [FETCHED_AT]: String(this.clock()) },
    });
    background(cache.put(key, res).catch(() => undefined));
  }
}

function sponsorLogo(snapshot: Snapshot, mirrorId: string): string | undefined {
  const index = snapshot.byId.get(mirrorId);
  return index === undefined ? undefined : (snapshot.mirrors[index]?.spec.sponsor?.logo ?? undefined);
}

/** The types the control plane accepts for logos (SVG, PNG, WebP), told by their first bytes. */
export function sniffImageType(body: Uint8Array): string | undefined {
  if (body.length >= 8 && body[0] === 0x89 && body[1] === 0x50 && body[2] === 0x4e && body[3] === 0x47) return 'image/png';
  if (body.length >= 12 && String.fromCharCode(...body.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...body.subarray(8, 12)) === 'WEBP')
    return 'image/webp';
  const head = new TextDecoder().decode(body.subarray(0, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || ((head.startsWith('<?xml') || head.startsWith('<!--')) && head.includes('<svg'))) return 'image/svg+xml';
  return undefined;
}
