// npm run lint: the import graph of src/ has no cycle, and no layer imports one it must not (core imports nothing outward; http does not reach into store).
//
// Read from the source as text (import/export … from '…' and import('…')): every import here is an ES module
// specifier, and the TypeScript 7 compiler offers no JS API for a graph tool to parse with.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');

/** Which layers each layer may import (itself always). Entries (src/node.ts, src/worker.ts) may import anything. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  config: ['core'],
  geo: ['core'],
  store: ['core', 'config'],
  control: ['core', 'config', 'geo', 'store'],
  http: ['core', 'config', 'geo', 'control'],
  edge: ['core', 'geo', 'http'],
  node: ['core', 'config', 'geo', 'store', 'control', 'http'],
  // The serve command starts the server itself.
  cli: ['core', 'config', 'control', 'http', 'entry'],
};

/** Packages that would tie a layer to a runtime: core runs on Node and Workers alike. */
const RUNTIME_BOUND = /^(node:|hono($|\/)|@hono\/|ioredis|undici|pino|maxmind|prom-client|commander|cli-progress|lru-cache)/;
const PURE_LAYERS = new Set(['core']);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SPECIFIERS = /(?:^|[;\s])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? 'entry' : rel[0]!;
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

async function main(): Promise<void> {
  const files = await sourceFiles(SRC);
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of files) {
    const text = stripComments(await readFile(file, 'utf8'));
    const deps: string[] = [];
    for (const m of text.matchAll(SPECIFIERS)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      const rel = path.relative(ROOT, file);
      const layer = layerOf(file);
      if (!spec.startsWith('.')) {
        if (PURE_LAYERS.has(layer) && RUNTIME_BOUND.test(spec))
          problems.push(`${rel}: ${layer} imports ${spec} (core runs on every runtime; pass it in as a port instead)`);
        continue;
      }
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      deps.push(target);
      const to = layerOf(target);
      if (layer !== 'entry' && to !== layer && !(ALLOWED[layer] ?? []).includes(to)) {
        problems.push(`${rel}: ${layer} imports ${to} (${path.relative(ROOT, target)}); ${layer} may import ${[layer, ...(ALLOWED[layer] ?? [])].join(', ')}`);
      }
    }
    graph.set(file, deps);
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${[...cycle, cycle[0]!].map((f) => path.relative(ROOT, f)).join(' -> ')}`);

  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    console.error(`check-imports: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files.length} files`);
    process.exitCode = 1;
  } else {
    console.log(`check-imports: ${files.length} files, no cycle, every layer within its bounds`);
  }
}

/** The strongly connected components with more than one file (Tarjan), each as one cycle through it. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.reverse());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

await main();
