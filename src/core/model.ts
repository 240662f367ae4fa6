// The domain vocabulary shared by every layer: mirrors, their live state, files and clients.

/** Two-letter continent codes as GeoLite2 and Cloudflare's request.cf use them. */
export type Continent = 'AF' | 'AN' | 'AS' | 'EU' | 'NA' | 'OC' | 'SA';

/** What we know about the client of one request; every field but ip and https may be unknown. */
export interface ClientFacts {
  ip: string;
  /** ISO 3166-1 alpha-2, upper case. */
  country?: string;
  continent?: Continent;
  lat?: number;
  lon?: number;
  asn?: number;
  /** The client reached us over HTTPS (directly or via a trusted proxy). */
  https: boolean;
  /**
   * Who download counts take the client for: its address, or for IPv6 its network (limits.ipv6Prefix,
   * a /64 by default: one host holds a whole /64). Absent: its address.
   */
  countAs?: string;
}

/** A redirect or interstitial sent a client to a mirror: what download counting gets, on Node and at the edge. */
export interface DownloadEvent {
  /** Who counts take the client for (ClientFacts.countAs, else its address). */
  ip: string;
  path: string;
  /** Mirror id, or "origin". */
  mirror: string;
  /** Client country, or "--" when unknown. */
  country: string;
  size: number;
  atMs: number;
  /** The file's number in `fileIndex` (any object that stands for one index), when the caller has it. */
  file?: number;
  fileIndex?: object;
}

/** One file of the origin file set. mtime is in whole seconds since the epoch. */
export interface OriginFile {
  path: string;
  size: number;
  mtime?: number;
  /** Lower-case hex. */
  sha256?: string;
  /** Piece hashes, so a client re-fetches only a corrupt piece (Metalink <pieces>). */
  pieces?: FilePieces;
}

/** A file's sha-256 per `length` bytes (the last piece may be shorter). */
export interface FilePieces {
  /** Bytes per piece: a power of two from 16 KiB to 1 GiB. */
  length: number;
  /** The pieces' digests in file order, lower-case hex, 64 characters each, concatenated (one string, not thousands). */
  sha256: string;
}

/** One line of a mirror inventory: what a mirror really holds. */
export interface InventoryEntry {
  path: string;
  size: number;
  mtime?: number;
}

export interface Sponsor {
  name: string;
  url?: string;
  /** Path to the logo file on disk (config) or a URL path served by us. */
  logo?: string;
}

/** A mirror as staff describe it: config file overlaid with runtime changes. */
export interface MirrorSpec {
  id: string;
  name: string;
  /** Always ends with '/'. */
  baseUrl: string;
  rsyncUrl?: string;
  /** Its trace file, relative to baseUrl, when not where the origin's is (`origin.trace`). */
  trace?: string;
  country: string;
  /** When absent, the country's centroid is used. */
  lat?: number;
  lon?: number;
  asn: number[];
  weight: number;
  bandwidthMbps?: number;
  countryOnly: boolean;
  enabled: boolean;
  sponsor?: Sponsor;
  content: { include: string[]; exclude: string[]; manifest?: string };
}

export type Health = 'up' | 'down' | 'unknown';

/** What probes have found about one mirror, as the store keeps it and the health state machine advances it. */
export interface HealthRecord {
  health: Health;
  /** Why the last probe failed, e.g. "connection refused", "HTTP 503", "timeout after 5000 ms". */
  reason?: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Exponential moving average of probe latency. */
  latencyMs?: number;
  /** Epoch ms of the last probe. */
  checkedAt?: number;
  /** Epoch seconds of the mirror's copy of the origin trace file (its last completed sync). */
  lastSync?: number;
  /** Origin trace time minus the mirror's, in seconds, when both are known. */
  lagSeconds?: number;
  /** Files a probe found missing or wrong since the last scan (taken off the mirror at once). */
  missing?: string[];
}

/** Live state of a mirror, written by probes, scans and staff; read when building a snapshot. */
export interface MirrorState {
  health: Health;
  /** Why the mirror is down (probe failure reason). */
  reason?: string;
  /** Moving average of probe latency, when probed. */
  latencyMs?: number;
  /** Seconds the mirror's copy lags behind the origin, when measured. */
  lagSeconds?: number;
  /** Epoch seconds of the mirror's last completed sync, when known. */
  lastSync?: number;
  /**
   * Derived, never stored: without a known last sync, the newest origin mtime (epoch seconds) the mirror's
   * include/exclude rules vouch for — the newest file of the origin index when this instance first loaded
   * it. A file new or changed at the origin after that waits for a scan, or a trace, to show it there.
   */
  trustedTo?: number;
  /** Drain: from `startMs` (epoch ms) the share ramps to zero over `overMs`. */
  drain?: { startMs: number; overMs: number };
  /** Accepted but not yet launched: scanned and probed, never routed. */
  launching?: boolean;
  /** Added by hand and not yet shown up by a probe (launching is set too): status `pending`. */
  pending?: boolean;
  /** Files a probe found missing or wrong since the last scan: off this mirror at once. */
  missing?: readonly string[];
  /**
   * Derived, never stored: leaders of consistency groups (a suite's Release, a repomd.xml) held back
   * because their folder is not whole on this mirror. The snapshot builder writes it so an edge can
   * honour it without the whole file set.
   */
  heldBack?: readonly string[];
}

/** Why a mirror is not a candidate for one request; shown in ?mirrorlist. */
export type ExclusionReason =
  | 'disabled'
  | 'not-launched'
  | 'draining'
  | 'down'
  | 'lagging'
  | 'missing-file'
  /** It holds another version of the file (listed with another size or mtime, or synced before the change). */
  | 'stale-copy'
  /** It holds the file, but not all of the file's consistency group (a mirror mid-sync). */
  | 'incomplete-group'
  | 'country-only'
  | 'http-only';

/** A whole-site route (config `routes`): a path prefix outside /download/ sent to full-copy mirrors or the origin. */
export interface SiteRoute {
  /** Path prefix on Mirrorgate: starts and ends with '/', e.g. "/browse/". */
  readonly prefix: string;
  readonly to: 'mirrors' | 'origin';
  /** For `to: mirrors`: ids of the mirrors whose baseUrl serves a full copy of the site. */
  readonly mirrors: readonly string[];
  /** What replaces `prefix` in the target's path; the prefix itself by default, so the whole path is kept. */
  readonly targetPrefix: string;
}
