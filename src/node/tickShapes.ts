// Node only, imported first by the Node entry: keeps the shapes of process.nextTick's queue entries alive.
//
// Node builds every nextTick entry as an object literal with computed (symbol) keys, and V8 takes such a
// literal's hidden class (map) from a weak cache. Between ticks no entry is alive, so a full GC frees those
// maps and the next tick gets new ones. After a few GCs (a server that loads a file index and GeoIP data has
// them; a bare one does not) the literal's inline caches have seen too many maps, go megamorphic, and every
// nextTick in the process — node:http's streams take about five per request — defines its four properties
// in the V8 runtime: 5-11 % of the CPU of a plain 302 in `perf` (Runtime_DefineKeyedOwnPropertyInLiteral and
// the map transitions under it), 0.6 % once one entry is held. Holding one entry holds its map and the maps
// it came from. Found with `npm run bench:perf`; measured with `npm run bench:ab`.
import { createHook } from 'node:async_hooks';

const held: object[] = [];

/** Keeps one nextTick entry for the life of the process (once; the async hook is on for one nextTick call). */
export function holdTickShapes(): void {
  if (held.length > 0) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && held.length === 0) held.push(resource);
    },
  });
  hook.enable();
  try {
    process.nextTick(() => undefined);
  } finally {
    // Not from inside init: Node 20 then leaves its promise hooks on, and every promise pays for them.
    hook.disable();
  }
}

/** The entry held, for the test that checks it still shares its map with new entries after full GCs. */
export function heldTickEntry(): object | undefined {
  return held[0];
}

holdTickShapes();
