// What the HTTP app needs from the runtime, passed in so Node, Workers and tests wire it alike.
import type { Context } from 'hono';
import type { HitCount, HitDelta } from '../core/hitWindows.js';
import type { Logger } from '../core/logger.js';
import type { DownloadEvent } from '../core/model.js';
import type { AdminService } from '../control/adminService.js';
import type { Snapshot } from '../core/snapshot.js';
import type { TrustedProxies } from '../geo/clientAddress.js';
import type { GeoInfo, Locator, Location } from '../geo/locator.js';

/** Per-request variables: the request id and the mirror we sent the client to (for the access log). */
export type AppEnv = { Variables: { mirror: string; requestId: string } };

/** edge: a Worker's token, which reads the routing snapshot and posts download counts, and nothing else. */
export type Role = 'staff' | 'provider' | 'edge';

export interface AccessToken {
  token: string;
  role: Role;
  name: string;
  mirrors: string[];
}

/** The transport facts only the runtime knows. */
export interface Connection {
  /** TCP peer address. */
  peer: string;
  /** The connection itself is TLS. */
  https: boolean;
  /** The request target exactly as sent (before URL normalisation removes dot segments). */
  rawTarget?: string;
}

export interface Logo {
  body: Uint8Array;
  contentType: string;
}

export type LogLike = Logger;

export interface AppServices {
  /** How clients reach us (no trailing slash): absolute links in headers use it. */
  publicUrl: string;
  snapshot(): Snapshot;
  locator: Locator;
  /**
   * Where the requester is, when the runtime already knows (Workers' request.cf); otherwise
   * the locator looks the client address up.
   */
  requestPlace?(c: Context): Location | undefined;
  trustedProxies: TrustedProxies;
  connection(c: Context): Connection;
  logo(mirrorId: string): Logo | undefined;
  tokens: readonly AccessToken[];
  logger: LogLike;
  clock(): number;
  /** The geography data in use (source, build date), stated on /readyz; Node only. */
  geoInfo?(): GeoInfo;
  /** Readiness detail for /readyz; ready unless the runtime says otherwise. */
  readiness?(): { ready: boolean; detail?: Record<string, unknown> };
  /**
   * For a download of a path the index lacks: looks at the origin now and says whether the index has the
   * file since (a file just published is then served, not answered 404 until the next refresh); Node only.
   */
  originLook?(path: string): Promise<boolean>;
  /** The control plane's staff operations; without it /admin and offers answer 503. */
  admin?: AdminService;
  /**
   * Rate-limit counters shared by every instance (the store's countHit, with a local fallback); absent,
   * each instance counts for itself (the Worker).
   */
  countHit?: (key: string, windowMs: number, delta: HitDelta) => Promise<HitCount>;
  /**
   * Requests per minute per client on the public API; offers per hour; clients are IPv4 addresses and
   * IPv6 networks of `ipv6Prefix` bits; pending-offer caps and wrong tokens per quarter hour (guards.ts).
   */
  rateLimits?: {
    apiPerMinute: number;
    offersPerHour: number;
    ipv6Prefix?: number;
    pendingOffers?: number;
    pendingOffersPerNetwork?: number;
    authFailures?: number;
  };
  /** Who may read /metrics (config `metrics`); unset: anyone. */
  metricsAccess?: { token?: string; allowFrom?: readonly string[] };
  /** Where download facts go (stats, metrics); each hook is synchronous and must not throw. */
  events?: DownloadEvents;
  /** Prometheus exposition for /metrics. */
  metrics?: { render(): Promise<string>; contentType: string };
  /** Seconds the interstitial waits before the download starts. */
  interstitialDelaySeconds?: number;
}

export interface DownloadEvents {
  /** A redirect or interstitial sent a client to `mirror` (or "origin"). */
  download?(e: DownloadEvent): void;
  /** An interstitial showed this mirror's sponsor. */
  impression?(mirror: string, atMs: number, who?: { ip: string; path: string }): void;
  /** Every decision, with how long the pure core took. */
  decided?(seconds: number, outcome: string, mirror: string): void;
}
