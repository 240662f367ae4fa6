// A shard's routing snapshot from a per-core template: what depends on mirrors is built once per core, each shard adds only its files and inventories.
import { resolveRuleKeys, type DecodedShard, type SnapshotCore } from '../core/snapshotShards.js';
import { FileIndex } from '../core/fileIndex.js';
import type { MirrorState } from '../core/model.js';
import { routingTablesFor } from '../core/routingTables.js';
import { buildSnapshot, fileNumbers, union, type Snapshot, type SnapshotMirror } from '../core/snapshot.js';

/**
 * composeShardSnapshot (core/snapshotShards.ts) runs buildSnapshot over the core's mirrors for every
 * shard: 3–5 ms at 500 mirrors, most of it the same for every shard of a split (each mirror's place,
 * status and rule bit, and each rule class's pool of active mirrors). Here that part is built once
 * per core and rule-class table (the template, through buildSnapshot itself, over no files); a shard
 * then only swaps in its files and rule classes and, for the mirrors with an inventory or with probe
 * findings or held-back paths, a copy carrying those numbered within the shard: tens of µs.
 * test/edge/composeShard.test.ts checks the result equals composeShardSnapshot's, field for field.
 */
export class ShardComposer {
  /** Templates by the shard's rule tags; each also checked against its class membership (a file change can regroup classes). */
  private readonly templates = new Map<string, { membership: readonly Uint32Array[]; snapshot: Snapshot }[]>();

  constructor(
    private readonly core: SnapshotCore,
    private readonly nowMs: number,
  ) {}

  compose(shard: DecodedShard): Snapshot {
    const t = this.template(shard);
    const files = shard.files;
    let mirrors: SnapshotMirror[] | undefined;
    for (let i = 0; i < t.mirrors.length; i++) {
      const m = t.mirrors[i]!;
      const inventory = shard.inventories.get(m.spec.id);
      const probeMissing = fileNumbers(m.state.missing, files);
      const heldBack = fileNumbers(m.state.heldBack, files);
      if (inventory === undefined && probeMissing === undefined && heldBack === undefined) continue;
      mirrors ??= t.mirrors.slice();
      // As buildSnapshot does for a snapshot without consistency rules (an edge's).
      mirrors[i] = { ...m, inventory, listed: inventory ? shard.listings.get(m.spec.id) : undefined, missing: union(probeMissing, heldBack), heldBack };
    }
    if (!mirrors) return { ...t, files, rules: { ...shard.rules, ruleKeys: t.rules.ruleKeys } };
    // decide()'s column tables now, reusing the template's per-class layouts (places are the same).
    routingTablesFor(mirrors, t.mirrors);
    return { ...t, files, mirrors, rules: { ...shard.rules, ruleKeys: t.rules.ruleKeys } };
  }

  /** The core's snapshot over no files, with this shard's rule keys and class membership (the same for every shard of one split). */
  private template(shard: DecodedShard): Snapshot {
    const key = shard.rules.ruleKeys.join('\n');
    const known = this.templates.get(key);
    let t = known?.find((x) => sameMembership(x.membership, shard.rules.membership))?.snapshot;
    if (t === undefined) {
      const empty = FileIndex.from([]);
      const states = new Map<string, MirrorState>();
      for (const m of this.core.mirrors) states.set(m.spec.id, m.state);
      const built = buildSnapshot({
        version: this.core.version,
        nowMs: this.nowMs,
        files: empty,
        mirrors: this.core.mirrors.map((m) => m.spec),
        states,
        inventories: new Map(),
        origin: this.core.origin,
        routing: this.core.routing,
        rules: {
          files: empty,
          ruleKeys: resolveRuleKeys(shard.rules.ruleKeys, this.core.mirrors),
          fileClass: new Uint32Array(0),
          membership: shard.rules.membership,
        },
      });
      t = { ...built, builtAtMs: this.core.builtAtMs, ...(this.core.fileSet ? { fileSet: this.core.fileSet } : {}) };
      // Shards of older splits may carry other rule tables; a core meets only a few.
      if (this.templates.size >= 4) this.templates.clear();
      // A copy: the shard's own arrays are views on its bytes, which must be free to go when it is evicted.
      this.templates.set(key, [...(known ?? []), { membership: shard.rules.membership.map((c) => c.slice()), snapshot: t }]);
    }
    return t;
  }
}

function sameMembership(a: readonly Uint32Array[], b: readonly Uint32Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let c = 0; c < a.length; c++) {
    const x = a[c]!;
    const y = b[c]!;
    if (x.length !== y.length) return false;
    for (let w = 0; w < x.length; w++) if (x[w] !== y[w]) return false;
  }
  return true;
}
