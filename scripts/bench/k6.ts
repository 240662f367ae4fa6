// `npm run load:k6`: bundles load/k6-mix.ts with esbuild (which maps the `.js` import specifiers to the `.ts`
// sources and keeps `k6/*` external) and runs `k6 run` on the bundle, with the demo manifest's absolute path.
// Extra arguments go to k6, e.g. `npm run load:k6 -- -e RATE=3000 -e DURATION=60s`.
// Without k6 on PATH it only bundles and says where the bundle is.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './util.js';

async function main(): Promise<void> {
  const outfile = path.join(await mkdtemp(path.join(tmpdir(), 'mirrorgate-k6-')), 'k6-mix.js');
  await build({
    entryPoints: [path.join(ROOT, 'load', 'k6-mix.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    external: ['k6', 'k6/*'],
    outfile,
    logLevel: 'warning',
  });
  const env = { ...process.env, MANIFEST: process.env.MANIFEST ?? path.join(ROOT, 'data', 'manifest.jsonl') };
  if (spawnSync('k6', ['version'], { stdio: 'ignore' }).error) {
    console.log(`k6 is not installed here; the bundle is ${outfile}.\nRun it with: MANIFEST=${env.MANIFEST} k6 run ${outfile}`);
    return;
  }
  const k6 = spawn('k6', ['run', ...process.argv.slice(2), outfile], { stdio: 'inherit', env });
  const code = await new Promise<number>((resolve) => k6.once('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
