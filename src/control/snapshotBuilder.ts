// Holds the routing inputs (mirrors, live state, origin index, inventories) and swaps in a new snapshot on change.
import { compileInventoryListing, rebaseInventory, rebaseListing } from '../core/availability.js';
import type { ConsistencyRule } from '../core/consistency.js';
import { FileIndex } from '../core/fileIndex.js';
import type { InventoryEntry, MirrorSpec, MirrorState } from '../core/model.js';
import { buildSnapshot, type RoutingOptions, type Snapshot } from '../core/snapshot.js';

export interface SnapshotBuilderOptions {
  mirrors: readonly MirrorSpec[];
  files?: FileIndex;
  originBaseUrl: string;
  routing: RoutingOptions;
  /** Consistency groups (config `consistencyGroups`); default none. */
  consistency?: readonly ConsistencyRule[];
  clock?: () => number;
}

/**
 * The one writer of the current snapshot. Control loops and staff actions call the setters;
 * each setter rebuilds at once (cheap: rule classes are reused unless files or rules change),
 * and readers on the hot path only ever see a whole, immutable snapshot.
 */
export class SnapshotBuilder {
  private mirrors: readonly MirrorSpec[];
  private files: FileIndex;
  private readonly states = new Map<string, MirrorState>();
  /** Inventories compiled against `this.files`. */
  private readonly inventories = new Map<string, Uint32Array>();
  /** What each inventory lists in any version, where that is more than its current files. */
  private readonly listings = new Map<string, Uint32Array>();
  private readonly consistency: readonly ConsistencyRule[];
  private readonly originBaseUrl: string;
  private readonly routing: RoutingOptions;
  private readonly clock: () => number;
  private snapshot: Snapshot;
  private readonly listeners = new Set<(s: Snapshot) => void>();

  constructor(opts: SnapshotBuilderOptions) {
    this.mirrors = opts.mirrors;
    this.files = opts.files ?? FileIndex.from([]);
    this.originBaseUrl = opts.originBaseUrl;
    this.routing = opts.routing;
    this.consistency = opts.consistency ?? [];
    this.clock = opts.clock ?? Date.now;
    this.snapshot = this.build(0);
  }

  current(): Snapshot {
    return this.snapshot;
  }

  onChange(listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A new origin index: inventories are carried over, losing files whose origin copy changed. */
  setFiles(files: FileIndex): void {
    for (const [id, bits] of this.inventories) {
      const current = rebaseInventory(bits, this.files, files);
      const listed = rebaseListing(current, this.listings.get(id), bits, this.files, files);
      this.inventories.set(id, current);
      if (listed) this.listings.set(id, listed);
      else this.listings.delete(id);
    }
    this.files = files;
    this.publish();
  }

  setMirrors(mirrors: readonly MirrorSpec[]): void {
    this.forgetInventoriesBut(mirrors);
    this.mirrors = mirrors;
    this.publish();
  }

  setInventory(mirrorId: string, entries: Iterable<InventoryEntry>): void {
    const { current, listed } = compileInventoryListing(entries, this.files);
    this.inventories.set(mirrorId, current);
    if (listed) this.listings.set(mirrorId, listed);
    else this.listings.delete(mirrorId);
    this.publish();
  }

  setState(mirrorId: string, state: MirrorState): void {
    this.states.set(mirrorId, state);
    this.publish();
  }

  /** Mirrors and their states together, in one rebuild (staff changes, store reloads). */
  setMirrorsAndStates(mirrors: readonly MirrorSpec[], states: ReadonlyMap<string, MirrorState>): void {
    this.forgetInventoriesBut(mirrors);
    this.states.clear();
    for (const [id, s] of states) this.states.set(id, s);
    this.mirrors = mirrors;
    this.publish();
  }

  removeInventory(mirrorId: string): void {
    this.listings.delete(mirrorId);
    if (this.inventories.delete(mirrorId)) this.publish();
  }

  private forgetInventoriesBut(mirrors: readonly MirrorSpec[]): void {
    const ids = new Set(mirrors.map((m) => m.id));
    for (const id of [...this.inventories.keys()]) if (!ids.has(id)) this.inventories.delete(id);
    for (const id of [...this.listings.keys()]) if (!ids.has(id)) this.listings.delete(id);
  }

  /** Rebuilds even without an input change, e.g. so a drain ramp's end takes effect. */
  refresh(): void {
    this.publish();
  }

  private publish(): void {
    this.snapshot = this.build(this.snapshot.version + 1, this.snapshot);
    for (const l of this.listeners) l(this.snapshot);
  }

  private build(version: number, previous?: Snapshot): Snapshot {
    return buildSnapshot({
      version,
      nowMs: this.clock(),
      files: this.files,
      mirrors: this.mirrors,
      states: this.states,
      inventories: this.inventories,
      listings: this.listings,
      consistency: this.consistency,
      origin: { baseUrl: this.originBaseUrl },
      routing: this.routing,
      previous,
    });
  }
}
