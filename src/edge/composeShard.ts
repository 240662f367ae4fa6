// A shard's routing snapshot from a per-core template: what depends on mirrors is built once per core, each shard adds only its files and inventories.
import { contentHash, resolveRuleKeys, type DecodedShard, type SnapshotCore } from '../core/snapshotShards.js';
import { FileIndex } from '../core/fileIndex.js';
import type { MirrorState } from '../core/model.js';
import { routingTablesFor } from '../core/routingTables.js';
import { buildSnapshot, type Snapshot, type SnapshotMirror } from '../core/snapshot.js';

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
  private readonly templates = new Map<string, Snapshot>();

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
      const probeMissing = fileSet(m.state.missing, files);
      const heldBack = fileSet(m.state.heldBack, files);
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
    const key = rulesSignature(shard);
    let t = this.templates.get(key);
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
        rules: { files: empty, ruleKeys: resolveRuleKeys(shard.rules.ruleKeys, this.core.mirrors), fileClass: new Uint32Array(0), membership: shard.rules.membership },
      });
      t = { ...built, builtAtMs: this.core.builtAtMs, ...(this.core.fileSet ? { fileSet: this.core.fileSet } : {}) };
      // Shards of older splits may carry other rule tables; a core meets only a few.
      if (this.templates.size >= 4) this.templates.clear();
      this.templates.set(key, t);
    }
    return t;
  }
}

/** Identity of a shard's rule table by content: its rule keys and class membership bits. */
function rulesSignature(shard: DecodedShard): string {
  const { ruleKeys, membership } = shard.rules;
  let words = 0;
  for (const c of membership) words += c.length;
  const flat = new Uint32Array(words);
  let at = 0;
  for (const c of membership) {
    flat.set(c, at);
    at += c.length;
  }
  return `${membership.length}:${contentHash(new Uint8Array(flat.buffer))}:${contentHash(new TextEncoder().encode(ruleKeys.join('\n')))}`;
}

function fileSet(paths: readonly string[] | undefined, files: FileIndex): ReadonlySet<number> | undefined {
  if (!paths || paths.length === 0) return undefined;
  const set = new Set<number>();
  for (const p of paths) {
    const f = files.lookup(p);
    if (f >= 0) set.add(f);
  }
  return set.size ? set : undefined;
}

function union(a: ReadonlySet<number> | undefined, b: ReadonlySet<number> | undefined): ReadonlySet<number> | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Set([...a, ...b]);
}
