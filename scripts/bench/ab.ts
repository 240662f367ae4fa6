// A/B of this checkout's server against another checkout's, interleaved: both servers run at once and take
// the same load in alternating short slices, so a noisy shared VM (steal, neighbours, frequency) weighs on
// both alike. Sequential runs of a minute each moved by ±20 % here; interleaved slices agree within a few %.
//
//   npm run bench:ab -- /path/to/other/checkout                 # 302 path, LOG_LEVEL=silent
//   npm run bench:ab -- /path/to/other --log info --rounds 20 --mix
//   npm run bench:ab -- . --node-arg=--max-semi-space-size=32    # a Node/V8 flag on this side only
//
// The other checkout needs its node_modules (a symlink to this one's will do) and the same bench server
// (scripts/bench/server.ts). Prints server CPU per request for each side, per round and as medians.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingSlices, runLoad, scenarios, warmUp } from './http.js';
import { exitWhenDone, BENCH_DIR, forkChild, median, type Child } from './util.js';

async function start(serverScript: string, log: string, cwd: string, execArgv: string[] = []): Promise<{ child: Child; url: string }> {
  const child = forkChild(serverScript, ['mirrorgate'], { env: { LOG_LEVEL: log }, stdout: 'ignore', cwd, execArgv });
  const ready = await child.next('ready', 120_000);
  return { child, url: `http://127.0.0.1:${ready.port}` };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      log: { type: 'string', default: 'silent' },
      rounds: { type: 'string', default: '12' },
      seconds: { type: 'string', default: '1.5' },
      connections: { type: 'string', default: '16' },
      mix: { type: 'boolean', default: false },
      'node-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  const other = positionals[0];
  if (!other) throw new Error('usage: npm run bench:ab -- <other checkout> [--log info] [--rounds N] [--seconds S] [--mix]');
  const otherScript = path.resolve(other, 'scripts/bench/server.ts');
  if (!existsSync(otherScript)) throw new Error(`${otherScript}: no bench server there`);

  const sc = await scenarios();
  const requests = values.mix ? sc.mix : sc.redirects;
  const connections = Number(values.connections);
  const sides = [
    { name: 'other', ...(await start(otherScript, values.log, path.resolve(other))) },
    { name: 'this', ...(await start(path.join(BENCH_DIR, 'server.ts'), values.log, process.cwd(), values['node-arg'])) },
  ];
  try {
    for (const s of sides) await warmUp(s.url, requests, 3, connections);
    const slices = await alternatingSlices(
      sides,
      Number(values.rounds),
      (s) => runLoad({ urls: [s.url], requests, connections, durationS: Number(values.seconds), servers: [s.child] }),
      (round, results) => console.log(`round ${round}: ${results.map((x) => `${x.side.name} ${x.result.serverCpuUsPerReq.toFixed(1)} µs`).join(', ')}`),
    );
    const cpuOf = (name: string) => median(slices.get(sides.find((s) => s.name === name)!)!.map((x) => x.serverCpuUsPerReq));
    const mOther = cpuOf('other');
    const mThis = cpuOf('this');
    console.log(
      `\nmedian server CPU per request (${values.mix ? 'mix' : '302 path'}, LOG_LEVEL=${values.log}): other ${mOther.toFixed(1)} µs, this ${mThis.toFixed(1)} µs (${(((mThis - mOther) / mOther) * 100).toFixed(1)} %)`,
    );
  } finally {
    for (const s of sides) await s.child.stop();
  }
}

exitWhenDone(main());
