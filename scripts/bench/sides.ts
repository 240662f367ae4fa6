// Several bench servers of this checkout side by side, interleaved as bench:ab does: each side is a mode of
// server.ts with environment variables, so a question like "what does the Mirrorgate process cost around a
// fixed answer?" is one command:
//
//   npm run bench:sides -- bare-full mirrorgate mirrorgate,LOG_LEVEL=info bare-full,BENCH_SPIN_US=5
//
// `bare-full` and `raw-full` carry the headers of a real Mirrorgate 302, fetched from a Mirrorgate server
// first. Prints server CPU per request for each side, per round and as medians.
import { parseArgs } from 'node:util';
import { alternatingSlices, runLoad, scenarios, typicalRedirectHeaders, warmUp } from './http.js';
import { exitWhenDone, BENCH_DIR, forkChild, median, type Child } from './util.js';
import path from 'node:path';

interface Side {
  name: string;
  child: Child;
  url: string;
}

async function start(spec: string, fixedHeaders: string[] | undefined): Promise<Side> {
  const [mode, ...assignments] = spec.split(',');
  const env: Record<string, string> = { LOG_LEVEL: 'silent' };
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`${spec}: expected mode,NAME=value,…`);
    env[a.slice(0, eq)] = a.slice(eq + 1);
  }
  if (fixedHeaders) env.BENCH_FIXED_HEADERS = JSON.stringify(fixedHeaders);
  const child = forkChild(path.join(BENCH_DIR, 'server.ts'), [mode!], { env, stdout: 'ignore' });
  const ready = await child.next('ready', 120_000);
  return { name: spec, child, url: `http://127.0.0.1:${ready.port}` };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '1.5' },
      connections: { type: 'string', default: '16' },
      mix: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new Error('usage: npm run bench:sides -- <mode[,NAME=value…]> … [--rounds N] [--seconds S] [--mix]');
  const sc = await scenarios();
  const requests = values.mix ? sc.mix : sc.redirects;
  const connections = Number(values.connections);

  let fixed: string[] | undefined;
  if (positionals.some((p) => p.startsWith('bare-full') || p.startsWith('raw-full') || p.includes('BENCH_'))) {
    const probe = await start('mirrorgate', undefined);
    fixed = (await typicalRedirectHeaders(probe.url, sc.redirects)).headers;
    await probe.child.stop();
  }
  const sides: Side[] = [];
  try {
    for (const spec of positionals) sides.push(await start(spec, fixed));
    for (const s of sides) await warmUp(s.url, requests, 3, connections);
    const slices = await alternatingSlices(
      sides,
      Number(values.rounds),
      (s) => runLoad({ urls: [s.url], requests, connections, durationS: Number(values.seconds), servers: [s.child] }),
      (round, results) => console.log(`round ${round}: ${results.map((x) => `${x.side.name} ${x.result.serverCpuUsPerReq.toFixed(1)}`).join(' | ')} µs`),
    );
    console.log(`\nmedian server CPU per request (${values.mix ? 'mix' : '302 path'}):`);
    for (const s of sides)
      console.log(
        `  ${median(slices.get(s)!.map((x) => x.serverCpuUsPerReq))
          .toFixed(1)
          .padStart(7)} µs  ${s.name}`,
      );
  } finally {
    for (const s of sides) await s.child.stop();
  }
}

exitWhenDone(main());
