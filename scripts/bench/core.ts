// Child process: builds the synthetic 1,000,000-file × 500-mirror snapshot the way the server does (origin
// manifest read by the real reader, rule classes, partial inventories, live states), reports build time, RSS and
// the rebuild after a staff change, and times decide() on it against a bare Map lookup of the path.
// Sends one JSON result over IPC. The manifest is written by a separate process (--generate), so generating
// it leaves nothing in this process's heap; it is kept in the temp folder for the next run.
//
//   node --import tsx scripts/bench/core.ts [--quick] [--files N] [--mirrors N]
import { createWriteStream, existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { readOriginIndex } from '../../src/control/manifest.js';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide, type DecideOptions } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import { effectiveMirrors, mirrorStates, type Overlay } from '../../src/core/mirrors.js';
import type { ClientFacts } from '../../src/core/model.js';
import { random } from '../../load/scenarios.js';
import { partialInventory, syntheticClients, syntheticFiles, syntheticHealth, syntheticMirrors, syntheticOverlays } from './synthetic.js';
import { BENCH_DIR, forkChild, median, peakRss, percentile, resetPeakRss, send } from './util.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface CoreResult {
  files: number;
  mirrors: number;
  inventories: number;
  ruleClasses: number;
  distinctRuleSets: number;
  /** readMs: the origin manifest read, validated and indexed in one pass (readOriginIndex); totalMs counts it. */
  build: { readMs: number; rulesMs: number; inventoriesMs: number; statesMs: number; totalMs: number };
  memory: {
    baselineRss: number;
    rss: number;
    settledRss: number;
    heapUsed: number;
    arrayBuffers: number;
    peakRss: number;
    mapFloorBytes: number;
    pathBytes: number;
  };
  rebuild: { stateChangeMs: number; stateChangeRuns: number[]; rulesChangeMs: number };
  decide: DecideFigures;
  decideFullList: DecideFigures;
  lookup: { medianUs: number; p99Us: number };
}

export interface DecideFigures {
  samples: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** Mean number of candidate mirrors per decision (after every exclusion). */
  meanCandidates: number;
  /** Mean size of the pre-filtered pool decide() loops over. */
  meanPool: number;
  toOrigin: number;
}

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const v = fn();
  return [v, performance.now() - t];
}

function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/**
 * Reads the manifest and builds the index as loadOriginIndex does (readOriginIndex: one pass, the
 * index columns filled while lines stream in). A function of its own so that whatever the read
 * leaves behind dies with its frame (a register of a still-running async function keeps it alive,
 * which production never does).
 */
async function loadIndex(manifest: string): Promise<{ files: FileIndex; readMs: number }> {
  const t0 = performance.now();
  const { index: files } = await readOriginIndex(manifest);
  return { files, readMs: performance.now() - t0 };
}

/** One mirror's inventory handed to the builder as the store would (a list of entries); returns the ms setInventory took. */
function addInventory(builder: SnapshotBuilder, mirrorIndex: number, keep: number): number {
  const snapshot = builder.current();
  const entries = [...partialInventory(snapshot, mirrorIndex, keep, 100 + mirrorIndex)];
  return time(() => builder.setInventory(snapshot.mirrors[mirrorIndex]!.spec.id, entries))[1];
}

/** The synthetic origin manifest for `count` files, written once by a separate process and then reused. */
async function manifestFor(count: number): Promise<string> {
  const file = path.join(tmpdir(), `mirrorgate-bench-origin-${count}-v1.jsonl`);
  if (existsSync(file)) return file;
  const child = forkChild(path.join(BENCH_DIR, 'core.ts'), ['--generate', file, '--files', String(count)]);
  await child.next('result', 10 * 60_000);
  await child.stop();
  return file;
}

async function generate(file: string, count: number): Promise<void> {
  const out = createWriteStream(`${file}.part`);
  for (const f of syntheticFiles(count)) {
    if (!out.write(`${JSON.stringify(f)}\n`)) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
  await new Promise<void>((resolve) => out.end(resolve));
  await rename(`${file}.part`, file);
  send({ type: 'result', data: file });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, files: { type: 'string' }, mirrors: { type: 'string' }, generate: { type: 'string' } },
  });
  const fileCount = Number(values.files ?? 1_000_000);
  if (values.generate) return generate(values.generate, fileCount);
  const mirrorCount = Number(values.mirrors ?? 500);
  const decideSamples = values.quick ? 60_000 : 400_000;
  const nowMs = Date.UTC(2026, 10, 23, 12);
  const manifest = await manifestFor(fileCount);

  const baseline = memory();
  resetPeakRss();

  // --- build, as src/control/origin.ts loadOriginIndex and the control plane do it ----------------
  const { files, readMs } = await loadIndex(manifest);
  const configMirrors = syntheticMirrors(mirrorCount);
  const routing = { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 21_600 };
  const [builder, rulesMs] = time(
    () => new SnapshotBuilder({ mirrors: configMirrors, files, originBaseUrl: 'https://origin.example.org/pub/', routing, clock: () => nowMs }),
  );

  // ~10 % of mirrors publish an inventory (a manifest or an rsync scan) listing 85–99.9 % of what their rules cover.
  const rnd = random(9);
  const withInventory = configMirrors.map((_, i) => i).filter(() => rnd() < 0.1);
  let inventoriesMs = 0;
  for (const i of withInventory) inventoriesMs += addInventory(builder, i, 0.85 + rnd() * 0.149);
  const samplePaths = Array.from({ length: 1000 }, (_, i) => files.paths[(i * 7919) % files.count]!);
  const health = syntheticHealth(configMirrors, samplePaths, nowMs);
  const overlays = syntheticOverlays(configMirrors, nowMs);
  // The staff-change path the control plane runs: overlay → effective mirrors → states → one rebuild.
  const publish = (o: ReadonlyMap<string, Overlay>) => {
    const mirrors = effectiveMirrors(configMirrors, o);
    builder.setMirrorsAndStates(mirrors, mirrorStates(mirrors, health, o));
  };
  const statesMs = time(() => publish(overlays))[1];
  const buildPeak = peakRss();
  const after = memory();
  // V8 hands freed pages back to the OS lazily; after a few idle seconds RSS shows what a serving process keeps.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const settled = memory();
  const snapshot = builder.current();

  // The floor: a Map from 1,000,000 path strings (fresh copies) to numbers, nothing else.
  const beforeMap = memory();
  let floor: Map<string, number> | undefined = new Map();
  // Fresh, flat heap strings (Buffer#toString would make external strings that heapUsed does not count).
  for (let f = 0; f < files.count; f++) floor.set(JSON.parse(JSON.stringify(files.paths[f]!)) as string, f);
  const withMap = memory();
  const mapFloorBytes = withMap.heapUsed - beforeMap.heapUsed;
  const floorSize = floor.size;
  floor = undefined;

  // --- rebuild after one staff change ------------------------------------------------------------
  const runs: number[] = [];
  for (let k = 0; k < (values.quick ? 3 : 7); k++) {
    const o = new Map(overlays);
    o.set(configMirrors[(k * 37) % configMirrors.length]!.id, { patch: {}, drain: { startMs: nowMs, overMs: 3_600_000 } });
    runs.push(time(() => publish(o))[1]);
  }
  publish(overlays);
  // A staff edit of one mirror's include rules: a rule set never seen before, so rule classes are recomputed.
  const edited = new Map(overlays);
  const target = configMirrors[11]!;
  edited.set(target.id, { patch: { content: { include: [...target.content.include, 'kernel/**'], exclude: ['**/*.torrent'] } } });
  const rulesChangeMs = time(() => publish(edited))[1];
  publish(overlays);
  const current = builder.current();

  // --- decide() ----------------------------------------------------------------------------------
  const clients = syntheticClients(10_000, configMirrors);
  const picks = new Uint32Array(decideSamples);
  const prnd = random(11);
  for (let i = 0; i < picks.length; i++) picks[i] = Math.floor(prnd() * files.count);
  const paths = Array.from(picks, (f) => files.paths[f]!);

  const redirect: DecideOptions = { nowMs, limit: routing.maxAlternatives + 1 };
  const fullList: DecideOptions = { nowMs };
  const measureDecide = (opts: DecideOptions): DecideFigures => {
    // Warm-up: let the JIT settle on the same code paths.
    for (let i = 0; i < 20_000; i++) decide(current, paths[i % paths.length]!, clients[i % clients.length]!, opts);
    const times = new Float64Array(paths.length);
    let candidates = 0;
    let pool = 0;
    let toOrigin = 0;
    for (let i = 0; i < paths.length; i++) {
      const client: ClientFacts = clients[i % clients.length]!;
      const t = performance.now();
      const d = decide(current, paths[i]!, client, opts);
      times[i] = performance.now() - t;
      candidates += d.candidateCount;
      if (d.outcome === 'origin') toOrigin++;
      pool += current.activeByClass[current.rules.fileClass[d.file]!]!.length;
    }
    let sum = 0;
    for (const t of times) sum += t;
    times.sort();
    return {
      samples: paths.length,
      medianUs: percentile(times, 50) * 1000,
      p99Us: percentile(times, 99) * 1000,
      meanUs: (sum / times.length) * 1000,
      meanCandidates: candidates / paths.length,
      meanPool: pool / paths.length,
      toOrigin: toOrigin / paths.length,
    };
  };
  const decideRedirect = measureDecide(redirect);
  const decideAll = measureDecide(fullList);

  // Baseline: the path lookup alone (a Map.get), timed the same way.
  const lookupTimes = new Float64Array(paths.length);
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += current.files.lookup(paths[i]!);
  for (let i = 0; i < paths.length; i++) {
    const t = performance.now();
    sink += current.files.lookup(paths[i]!);
    lookupTimes[i] = performance.now() - t;
  }
  lookupTimes.sort();
  if (sink === -1 || floorSize < 0) console.log('');

  const result: CoreResult = {
    files: files.count,
    mirrors: snapshot.mirrors.length,
    inventories: withInventory.length,
    ruleClasses: snapshot.rules.membership.length,
    distinctRuleSets: snapshot.rules.ruleKeys.length,
    build: { readMs, rulesMs, inventoriesMs, statesMs, totalMs: readMs + rulesMs + inventoriesMs + statesMs },
    memory: {
      baselineRss: baseline.rss,
      rss: after.rss,
      settledRss: settled.rss,
      heapUsed: after.heapUsed,
      arrayBuffers: after.arrayBuffers,
      peakRss: buildPeak,
      mapFloorBytes,
      pathBytes: files.paths.reduce((n, p) => n + p.length, 0),
    },
    rebuild: { stateChangeMs: median(runs), stateChangeRuns: runs, rulesChangeMs },
    decide: decideRedirect,
    decideFullList: decideAll,
    lookup: { medianUs: percentile(lookupTimes, 50) * 1000, p99Us: percentile(lookupTimes, 99) * 1000 },
  };
  send({ type: 'result', data: result });
  if (!process.send) console.log(JSON.stringify(result, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    console.error(err);
    process.exit(1);
  },
);
