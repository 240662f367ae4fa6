import { defineConfig } from 'vitest/config';

/** Pure logic, parsers, views and stores in memory: no server, no child process, no browser. `npm run test:unit`. */
const UNIT = [
  'test/core/**/*.test.ts',
  'test/config/**/*.test.ts',
  'test/cli/format.test.ts',
  'test/control/{manifest,originTree,snapshotBuilder}.test.ts',
  'test/geo/{asnTable,clientAddress,maxmindLocator}.test.ts',
  'test/pages/{chart,logos,views}.test.ts',
  'test/edge/{cfLocator,shardedSource,snapshotSource}.test.ts',
  'test/node/logging.test.ts',
  'test/http/accept.test.ts',
];

/** Real clients end to end: Chromium, workerd, apt, aria2c, curl, wget against running servers. */
const E2E = [
  'test/pages/{accessibility,console,downloadPage,folders,mirrorsPage}.test.ts',
  'test/edge/{worker,sharded}.test.ts',
  'test/integration/{clients,packageManagers,pieces}.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and child processes; keep file-level parallelism modest on 2 cores.
    maxWorkers: 2,
    projects: [
      // Pure tests share one module graph per worker: loading it once per file was a fifth of the run.
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      // Everything else: real servers on loopback, Redis, rsync daemons, loopback mirrors.
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...UNIT, ...E2E] } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
});
