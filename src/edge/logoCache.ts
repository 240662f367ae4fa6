// Sponsor logos at the edge: fetched from the control plane's /logos/{id} on first use and kept per isolate, so pages keep img-src 'self'.
import type { Snapshot } from '../core/snapshot.js';
import type { LogLike, Logo } from '../http/services.js';

export interface LogoCacheOptions {
  /** Control plane base URL (no trailing slash); without it the edge serves no logos. */
  controlUrl?: string;
  fetch?: typeof fetch;
  clock?: () => number;
  /** How long a fetched logo is kept; a miss (404, error) is kept missTtlMs. */
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

  /**
   * For AppServices.logo: the cached logo, or a placeholder while the mirror has a sponsor logo the
   * edge has not fetched yet (pages only test whether there is one). GET /logos/{id} always runs
   * prepare() first, so the placeholder never reaches a client.
   */
  logo(snapshot: Snapshot, mirrorId: string): Logo | undefined {
    const source = sponsorLogo(snapshot, mirrorId);
    if (!source || !this.opts.controlUrl) return undefined;
    const entry = this.entries.get(mirrorId);
    if (!entry || entry.source !== source) return NOT_YET_FETCHED;
    return entry.logo ?? undefined;
  }

  /** Makes sure the cache has a fresh answer (a logo or a known miss) for a mirror of this snapshot. */
  async prepare(snapshot: Snapshot, mirrorId: string): Promise<void> {
    const source = sponsorLogo(snapshot, mirrorId);
    if (!source || !this.opts.controlUrl) {
      this.entries.delete(mirrorId);
      return;
    }
    const now = this.clock();
    const entry = this.entries.get(mirrorId);
    if (entry && entry.source === source && entry.expiresAtMs > now) return;
    let logo: Logo | null = null;
    try {
      const res = await this.fetchImpl(`${this.opts.controlUrl}/logos/${encodeURIComponent(mirrorId)}`, {
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
      });
      const contentType = res.headers.get('content-type') ?? '';
      if (res.ok && contentType.startsWith('image/')) {
        const body = new Uint8Array(await res.arrayBuffer());
        // The control plane sanitised it; the bound only keeps a misbehaving origin from filling the isolate.
        if (body.byteLength <= MAX_LOGO_BYTES) logo = { body, contentType };
      } else {
        await res.body?.cancel();
      }
    } catch (err) {
      this.opts.log.warn({ mirror: mirrorId, err: err instanceof Error ? err.message : String(err) }, 'logo fetch failed');
      // A stale logo beats none while the control plane is away.
      if (entry?.logo && entry.source === source) logo = entry.logo;
    }
    const ttl = logo ? (this.opts.ttlMs ?? 3_600_000) : (this.opts.missTtlMs ?? 60_000);
    this.entries.set(mirrorId, { logo, source, expiresAtMs: this.clock() + ttl });
  }
}

function sponsorLogo(snapshot: Snapshot, mirrorId: string): string | undefined {
  const index = snapshot.byId.get(mirrorId);
  return index === undefined ? undefined : (snapshot.mirrors[index]?.spec.sponsor?.logo ?? undefined);
}
