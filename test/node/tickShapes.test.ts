// A guard on something no test of behaviour would see (src/node/tickShapes.ts): once the Node entry is loaded,
// one process.nextTick entry is held, so new entries keep its hidden class through full GCs and the inline
// caches that build them stay monomorphic. Losing it cost 14 % of the CPU of a silent 302 and 21 % with the
// access log (`npm run bench:ab`). A child process, because the check needs V8 flags.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

const PROBE = `
import { createHook } from 'node:async_hooks';
await import('./src/node.ts');
const { heldTickEntry } = await import('./src/node/tickShapes.ts');
const held = heldTickEntry();
// The hold must leave no async hook on (checked before this probe uses one): with Node's promise hooks on,
// every promise carries async ids.
await null;
const promiseHooks = Object.getOwnPropertySymbols(new Promise(() => undefined)).length > 0;
const entry = () => {
  let got;
  const hook = createHook({ init(_id, type, _trigger, resource) { if (type === 'TickObject') got ??= resource; } }).enable();
  process.nextTick(() => undefined);
  hook.disable();
  return got;
};
// Full GCs with no other entry alive: what frees the maps of an entry nobody holds.
for (let k = 0; k < 4; k++) {
  for (let i = 0; i < 100; i++) await new Promise((resolve) => process.nextTick(resolve));
  globalThis.gc();
}
const fresh = entry();
console.log(JSON.stringify({ held: held !== undefined, fresh: fresh !== undefined, sameMap: held !== undefined && fresh !== undefined && %HaveSameMap(held, fresh), promiseHooks }));
`;

describe('nextTick entry shapes', () => {
  it('are held by the Node entry, so new entries keep one map through full GCs, and no async hook stays on', async () => {
    const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--import', 'tsx', '--input-type=module', '-e', PROBE], {
      cwd: process.cwd(),
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ held: true, fresh: true, sameMap: true, promiseHooks: false });
  });
});
