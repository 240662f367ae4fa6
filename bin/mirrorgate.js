#!/usr/bin/env node
// Launcher for the `mirrorgate` command: registers tsx so the TypeScript CLI runs without a build step.
import { register } from 'tsx/esm/api';

register();
// Before the CLI's modules load (and a GC can run), as the Node entry does: `mirrorgate serve` and its workers.
await import('../src/node/tickShapes.ts');
const { run } = await import('../src/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
