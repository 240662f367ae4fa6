// One mirror as a routing snapshot holds it, and the routing options: the shapes decide() and its tables read.
import type { Continent, ExclusionReason, MirrorSpec, MirrorState, SiteRoute } from './model.js';

/** What /mirrors shows: the one-word state of a mirror. */
export type MirrorStatus = 'up' | 'down' | 'draining' | 'syncing' | 'disabled' | 'unknown';

export interface RoutingOptions {
  /** Mirrors within this many km of the nearest eligible one (same tier) share the traffic. */
  bandKm: number;
  /** How many alternatives the Link header and metalink carry besides the pick. */
  maxAlternatives: number;
  /** A mirror lagging more than this is `syncing` and gets no downloads. */
  maxLagSeconds: number;
  /** Whole-site routes (config `routes`, see siteRoutes.ts): they travel with the routing to the edge. */
  siteRoutes?: readonly SiteRoute[];
}

export interface SnapshotMirror {
  readonly index: number;
  readonly spec: MirrorSpec;
  readonly state: MirrorState;
  readonly status: MirrorStatus;
  readonly https: boolean;
  readonly continent: Continent | undefined;
  readonly lat: number;
  readonly lon: number;
  /** Unit vector of the location, so a distance is one dot product on the hot path. */
  readonly x: number;
  readonly y: number;
  readonly z: number;
  /** Hash of the id: rendezvous scores stay stable across instances and config order. */
  readonly idHash: number;
  // Copies of nested facts the hot path reads for every candidate (one property load each).
  readonly country: string;
  readonly countryOnly: boolean;
  readonly weight: number;
  readonly drain: MirrorState['drain'];
  readonly lastSync: number | undefined;
  readonly asn: readonly number[];
  readonly ruleBit: number;
  /** Compiled inventory (bit per file), or undefined when only the rules are known. */
  readonly inventory: Uint32Array | undefined;
  /**
   * Files the inventory lists in any version, when that differs from `inventory` (some are stale
   * copies): only the ?mirrorlist reasons read it.
   */
  readonly listed: Uint32Array | undefined;
  /** File numbers off this mirror whatever it holds: found missing by a probe, or `heldBack`. */
  readonly missing: ReadonlySet<number> | undefined;
  /** Leaders of consistency groups not whole on this mirror (see consistency.ts). */
  readonly heldBack: ReadonlySet<number> | undefined;
  /** Set when the mirror is out for every request (disabled, down, lagging, fully drained). */
  readonly exclusion: ExclusionReason | undefined;
}
