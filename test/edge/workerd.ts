// Runs the built Worker bundle in the real workerd runtime (npm workerd) on loopback, one socket per configured Worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/network.js';

export interface EdgeWorkerSpec {
  /** Service and socket name ([a-z-]+). */
  name: string;
  /** Text bindings (what [vars] and secrets become). */
  bindings: Record<string, string>;
}

export interface RunningWorkerd {
  /** Base URL per worker name. */
  urls: Record<string, string>;
  /** From spawn to the first 200 on every socket's /healthz. */
  coldStartMs: number;
  /** stdout + stderr so far (the Worker's console lines). */
  output(): string;
  close(): Promise<void>;
}

/** Path of the workerd binary from the npm package, or an error saying why there is none. */
export function workerdBinary(): string {
  const mod = createRequire(import.meta.url)('workerd') as { default: string };
  return mod.default;
}

/** compatibility_date from wrangler.toml, so tests run the date that deploys. */
export async function wranglerCompatibilityDate(root: string): Promise<string> {
  const toml = await readFile(path.join(root, 'wrangler.toml'), 'utf8');
  const m = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!m) throw new Error('wrangler.toml has no compatibility_date');
  return m[1]!;
}

function capnpString(s: string): string {
  return JSON.stringify(s);
}

/** Cap'n Proto constant names are camelCase: "edge-stale" → "edgeStaleWorker". */
function constName(worker: string): string {
  return `${worker.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase())}Worker`;
}

/** A workerd config (Cap'n Proto text): each Worker may fetch loopback only (the control plane under test). */
export function workerdConfig(workers: readonly (EdgeWorkerSpec & { address: string })[], compatibilityDate: string): string {
  const services = workers.map((w) => `    (name = ${capnpString(w.name)}, worker = .${constName(w.name)}),`);
  const sockets = workers.map(
    (w) => `    (name = ${capnpString(w.name)}, address = ${capnpString(w.address)}, http = (cfBlobHeader = "CF-Blob"), service = ${capnpString(w.name)}),`,
  );
  const defs = workers.map((w) => {
    const bindings = Object.entries(w.bindings).map(([k, v]) => `    (name = ${capnpString(k)}, text = ${capnpString(v)}),`);
    return [
      `const ${constName(w.name)} :Workerd.Worker = (`,
      '  modules = [(name = "worker.js", esModule = embed "worker.js")],',
      `  compatibilityDate = ${capnpString(compatibilityDate)},`,
      '  globalOutbound = "loopback",',
      '  bindings = [',
      ...bindings,
      '  ],',
      ');',
    ].join('\n');
  });
  return [
    'using Workerd = import "/workerd/workerd.capnp";',
    '',
    'const config :Workerd.Config = (',
    '  services = [',
    ...services,
    // Workers may not reach private addresses by default (SSRF guard); the control plane here is on 127.0.0.1.
    '    (name = "loopback", network = (allow = ["local"])),',
    '  ],',
    '  sockets = [',
    ...sockets,
    '  ],',
    ');',
    '',
    ...defs,
    '',
  ].join('\n');
}

export async function startWorkerd(bundle: string, workers: readonly EdgeWorkerSpec[], compatibilityDate: string): Promise<RunningWorkerd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-workerd-'));
  await copyFile(bundle, path.join(dir, 'worker.js'));
  const urls: Record<string, string> = {};
  const withAddresses = [];
  for (const w of workers) {
    const port = await freePort();
    urls[w.name] = `http://127.0.0.1:${port}`;
    withAddresses.push({ ...w, address: `127.0.0.1:${port}` });
  }
  const configPath = path.join(dir, 'config.capnp');
  await writeFile(configPath, workerdConfig(withAddresses, compatibilityDate));

  let output = '';
  const started = performance.now();
  const child: ChildProcess = spawn(workerdBinary(), ['serve', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  child.once('error', (err) => (output += `spawn error: ${err.message}\n`));

  const close = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (const url of Object.values(urls)) {
      for (;;) {
        if (exited !== undefined) throw new Error(`workerd exited (${exited}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`workerd did not answer within 30 s:\n${output}`);
        const ok = await fetch(`${url}/healthz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { urls, coldStartMs: performance.now() - started, output: () => output, close };
}
