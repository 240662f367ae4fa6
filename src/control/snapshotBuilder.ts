// Holds the routing inputs (mirrors, live state, origin index, inventories) and swaps in a new snapshot on change.
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  compileInventoryListing,
  matchUnmatched,
  rebaseInventory,
  rebaseListing,
  ruleClassesFor,
  ruleClassesForSteps,
  ruleKey,
  type RuleClasses,
} from '../core/availability.js';
import { newestMtime } from '../core/arrivals.js';
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
  /**
   * How long a rebuild of rule classes for new include/exclude rules may run (wall time, default
   * 30 s) before it is abandoned; it runs in slices, answering requests between them.
   */
  rebuildBudgetMs?: number;
  /** Longest slice of such a rebuild before the event loop gets a turn (default 10 ms). */
  rebuildSliceMs?: number;
  log?: { error(obj: object, msg?: string): void };
}

/** What applyMirrorsAndStates did: rule keys whose classes were given up on (their mirrors carry nothing by rules). */
export interface ApplyResult {
  abandoned: string[];
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
  /** Entries of each inventory that name no file of the origin index yet (see matchUnmatched). */
  private readonly unmatched = new Map<string, InventoryEntry[]>();
  private readonly consistency: readonly ConsistencyRule[];
  private readonly originBaseUrl: string;
  private readonly routing: RoutingOptions;
  private readonly clock: () => number;
  private snapshot: Snapshot;
  /** The rule classes every build uses; may lack keys being computed or given up on (their mirrors carry nothing by rules meanwhile). */
  private rules: RuleClasses;
  /** Rule keys whose rebuild ran past the budget: not tried again while some mirror still has them. */
  private readonly abandoned = new Set<string>();
  private ruleWork: Promise<ApplyResult> | undefined;
  private readonly rebuildBudgetMs: number;
  private readonly rebuildSliceMs: number;
  private readonly log: SnapshotBuilderOptions['log'];
  private readonly listeners = new Set<(s: Snapshot) => void>();
  /** The newest origin mtime when the index was first loaded: how far rules vouch without a last sync (MirrorState.trustedTo). */
  private rulesHorizon: number | undefined;

  constructor(opts: SnapshotBuilderOptions) {
    this.mirrors = opts.mirrors;
    this.files = opts.files ?? FileIndex.from([]);
    this.originBaseUrl = opts.originBaseUrl;
    this.routing = opts.routing;
    this.consistency = opts.consistency ?? [];
    this.clock = opts.clock ?? Date.now;
    this.rebuildBudgetMs = opts.rebuildBudgetMs ?? 30_000;
    this.rebuildSliceMs = opts.rebuildSliceMs ?? 10;
    this.log = opts.log;
    this.rules = ruleClassesFor(this.files, this.mirrors);
    this.rulesHorizon = knownNewest(this.files);
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
      // New paths an inventory listed before the origin index had them (rebased bits are a fresh array then).
      const unmatched = this.unmatched.get(id);
      if (unmatched && current !== bits) {
        const still = matchUnmatched(unmatched, current, files);
        if (still.length > 0) this.unmatched.set(id, still);
        else this.unmatched.delete(id);
      }
      const listed = rebaseListing(current, this.listings.get(id), bits, this.files, files);
      this.inventories.set(id, current);
      if (listed) this.listings.set(id, listed);
      else this.listings.delete(id);
    }
    this.files = files;
    // Set once: files new or changed since are not vouched for by rules alone.
    this.rulesHorizon ??= knownNewest(files);
    // The origin's files are the operator's, not a staff edit: computed here and now.
    this.rules = ruleClassesFor(files, this.mirrors);
    this.publish();
  }

  setMirrors(mirrors: readonly MirrorSpec[]): void {
    this.forgetInventoriesBut(mirrors);
    this.mirrors = mirrors;
    this.rules = ruleClassesFor(this.files, mirrors, this.rules);
    this.publish();
  }

  setInventory(mirrorId: string, entries: Iterable<InventoryEntry>): void {
    const { current, listed, unmatched } = compileInventoryListing(entries, this.files);
    this.inventories.set(mirrorId, current);
    if (unmatched.length > 0) this.unmatched.set(mirrorId, unmatched);
    else this.unmatched.delete(mirrorId);
    if (listed) this.listings.set(mirrorId, listed);
    else this.listings.delete(mirrorId);
    this.publish();
  }

  setState(mirrorId: string, state: MirrorState): void {
    this.states.set(mirrorId, state);
    this.publish();
  }

  /** Mirrors and their states together, in one rebuild, new rule classes included, all at once. */
  setMirrorsAndStates(mirrors: readonly MirrorSpec[], states: ReadonlyMap<string, MirrorState>): void {
    this.takeMirrorsAndStates(mirrors, states);
    this.rules = ruleClassesFor(this.files, mirrors, this.rules);
    this.publish();
  }

  /**
   * Mirrors and their states as the control plane applies them (staff changes, store reloads): at
   * once when their include/exclude rules are known. New rules are evaluated in slices of
   * `rebuildSliceMs`, requests answered between them; meanwhile the mirrors with new rules carry
   * nothing by rules (never a download to a mirror whose rules are not known yet). A rebuild still
   * running after `rebuildBudgetMs` is abandoned and logged: its mirrors keep carrying nothing by
   * rules (their inventories still count) until their rules change. Resolves when the snapshot in
   * use has these mirrors with every rule key evaluated or given up on.
   */
  applyMirrorsAndStates(mirrors: readonly MirrorSpec[], states: ReadonlyMap<string, MirrorState>): Promise<ApplyResult> {
    this.takeMirrorsAndStates(mirrors, states);
    for (const key of [...this.abandoned]) if (!mirrors.some((m) => ruleKey(m.content) === key)) this.abandoned.delete(key);
    this.publish();
    if (this.missingKeys().length === 0) return Promise.resolve({ abandoned: [] });
    this.ruleWork ??= this.buildRules().finally(() => (this.ruleWork = undefined));
    return this.ruleWork;
  }

  private takeMirrorsAndStates(mirrors: readonly MirrorSpec[], states: ReadonlyMap<string, MirrorState>): void {
    this.forgetInventoriesBut(mirrors);
    this.states.clear();
    for (const [id, s] of states) this.states.set(id, s);
    this.mirrors = mirrors;
  }

  /** Rule keys of the current mirrors that the rule classes lack and nobody gave up on. */
  private missingKeys(): string[] {
    const known = new Set(this.rules.files === this.files ? this.rules.ruleKeys : []);
    return [...new Set(this.mirrors.map((m) => ruleKey(m.content)))].filter((k) => !known.has(k) && !this.abandoned.has(k));
  }

  /** Evaluates missing rule keys in slices until none is missing (mirrors may change meanwhile), or gives up. */
  private async buildRules(): Promise<ApplyResult> {
    const started = performance.now();
    const abandoned: string[] = [];
    while (this.missingKeys().length > 0) {
      const files = this.files;
      const target = this.mirrors.filter((m) => !this.abandoned.has(ruleKey(m.content)));
      const steps = ruleClassesForSteps(files, target, this.rules.files === files ? this.rules : undefined);
      let result: RuleClasses | undefined;
      for (let slice = performance.now(); ;) {
        const step = steps.next();
        if (step.done) {
          result = step.value;
          break;
        }
        if (performance.now() - slice < this.rebuildSliceMs) continue;
        if (performance.now() - started > this.rebuildBudgetMs) break;
        await nextTurn();
        // The mirrors that needed it may have changed back meanwhile.
        if (this.missingKeys().length === 0) return { abandoned };
        slice = performance.now();
      }
      if (!result) {
        const keys = this.missingKeys();
        for (const key of keys) this.abandoned.add(key);
        abandoned.push(...keys);
        const ids = this.mirrors.filter((m) => keys.includes(ruleKey(m.content))).map((m) => m.id);
        this.log?.error(
          { mirrors: ids, budgetMs: this.rebuildBudgetMs, files: files.count },
          'rule classes for new include/exclude rules took too long; abandoned: these mirrors get no downloads by rules until their rules change',
        );
        break;
      }
      // An origin refresh meanwhile made this result stale: setFiles computed the classes itself.
      if (files !== this.files) continue;
      this.rules = result;
      this.publish();
    }
    return { abandoned };
  }

  removeInventory(mirrorId: string): void {
    this.listings.delete(mirrorId);
    this.unmatched.delete(mirrorId);
    if (this.inventories.delete(mirrorId)) this.publish();
  }

  private forgetInventoriesBut(mirrors: readonly MirrorSpec[]): void {
    const ids = new Set(mirrors.map((m) => m.id));
    for (const id of [...this.inventories.keys()]) if (!ids.has(id)) this.inventories.delete(id);
    for (const id of [...this.listings.keys()]) if (!ids.has(id)) this.listings.delete(id);
    for (const id of [...this.unmatched.keys()]) if (!ids.has(id)) this.unmatched.delete(id);
  }

  /** Rebuilds even without an input change, e.g. so a drain ramp's end takes effect. */
  refresh(): void {
    this.publish();
  }

  private publish(): void {
    this.snapshot = this.build(this.snapshot.version + 1, this.snapshot);
    for (const l of this.listeners) l(this.snapshot);
  }

  /** The states, each without a known last sync trusted to the rules horizon. */
  private statesWithHorizon(): ReadonlyMap<string, MirrorState> {
    const horizon = this.rulesHorizon;
    if (horizon === undefined) return this.states;
    const out = new Map<string, MirrorState>();
    for (const [id, s] of this.states) out.set(id, s.lastSync === undefined ? { ...s, trustedTo: horizon } : s);
    // A mirror with no probe record yet: its rules are trusted to the horizon too.
    for (const m of this.mirrors) if (!out.has(m.id)) out.set(m.id, { health: 'unknown', trustedTo: horizon });
    return out;
  }

  private build(version: number, previous?: Snapshot): Snapshot {
    return buildSnapshot({
      version,
      nowMs: this.clock(),
      files: this.files,
      mirrors: this.mirrors,
      states: this.statesWithHorizon(),
      inventories: this.inventories,
      listings: this.listings,
      consistency: this.consistency,
      origin: { baseUrl: this.originBaseUrl },
      routing: this.routing,
      previous,
      rules: this.rules,
    });
  }
}

/** The newest mtime among the files (epoch seconds), or undefined for an empty index or none known. */
function knownNewest(files: FileIndex): number | undefined {
  const newest = newestMtime(files);
  return newest === -Infinity ? undefined : newest;
}
