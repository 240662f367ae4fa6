// A guard on something no test of behaviour would see: every built-in prototype stays in V8's fast mode once
// the server's modules (and their dependencies) are loaded. One `class … extends String` in a dependency (ioredis
// 6.0's VerbatimString) left String.prototype in dictionary mode, and every `str.charCodeAt()`,
// `.startsWith()` … in the process, the download path's included, went through a generic lookup: 8.1 → 5.8 µs
// per 302 in `npm run bench:fastpath` when it was fixed. A child process, because the check needs a V8 flag.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

const PROTOTYPES = ['Object', 'Function', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'RegExp', 'Map', 'Set', 'Promise', 'Error', 'Date', 'Uint8Array'];

const PROBE = `
const names = ${JSON.stringify(PROTOTYPES)};
const slow = () => names.filter((n) => !%HasFastProperties(globalThis[n].prototype));
const before = slow();
// What \`npm start\` loads: the entry (it only serves when run as the main module), the stores, the CLI.
await import('./src/node.ts');
await import('./src/store/redisStore.ts');
await import('./src/node/cluster.ts');
await import('./src/cli/main.ts');
console.log(JSON.stringify({ before, after: slow() }));
`;

describe('built-in prototypes', () => {
  it('stay in fast mode once every server module is loaded', async () => {
    const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', PROBE], {
      cwd: process.cwd(),
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    const { before, after } = JSON.parse(stdout.trim().split('\n').pop()!) as { before: string[]; after: string[] };
    expect(before).toEqual([]);
    expect(after).toEqual([]);
  });
});
