// Where the server's time goes, native code and the kernel included: Linux `perf record` on the Mirrorgate
// child (started with --perf-basic-prof, so JIT-compiled functions have names) during the bench's load.
// V8's own profiler (profile.ts) sees only JavaScript frames; this one also shows V8's builtins and
// runtime (string flattening, map lookups, regexps), node:http's C++ and the socket writes, which is
// where two-byte config strings showed up (README, Performance).
//
//   npm run bench:perf                               # the 302 path, LOG_LEVEL=silent, 8 s
//   npm run bench:perf -- --log info --top 40        # with the access log
//   npm run bench:perf -- --mix                      # the full request mix
//   npm run bench:perf -- --mode bare                # the bare node:http ceiling, for comparison
//   npm run bench:perf -- --keep /tmp/server.perf    # keep perf.data for `perf report -i`
//
// Needs `perf` (Debian: linux-perf) and permission to attach to a child process (perf_event_paranoid ≤ 2).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { runLoad, scenarios, startServer, warmUp, type ServerMode } from './http.js';
import { exitWhenDone, fmtInt } from './util.js';

const run = promisify(execFile);

/** `perf report` lines "  12.34%  [.] symbol", the first `top` of them. */
async function report(data: string, args: string[], top: number): Promise<string> {
  const { stdout } = await run('perf', ['report', '-i', data, '--stdio', '-g', 'none', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => /^\s+[\d.]+%/.test(l))
    .slice(0, top)
    .join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '8' },
      top: { type: 'string', default: '30' },
      mix: { type: 'boolean', default: false },
      log: { type: 'string', default: 'silent' },
      connections: { type: 'string', default: '16' },
      mode: { type: 'string', default: 'mirrorgate' },
      keep: { type: 'string' },
    },
  });
  try {
    await run('perf', ['--version']);
  } catch {
    throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-perf-'));
  const data = values.keep ?? path.join(dir, 'perf.data');
  const top = Number(values.top);
  try {
    const server = await startServer(values.mode as ServerMode, { LOG_LEVEL: values.log }, [
      '--perf-basic-prof',
      '--no-logfile-per-isolate',
      `--logfile=${path.join(dir, 'v8.log')}`,
    ]);
    let rps: number;
    let cpuUs: number;
    try {
      const sc = await scenarios();
      const requests = values.mix ? sc.mix : sc.redirects;
      const connections = Number(values.connections);
      await warmUp(server.url, requests, 3, connections);
      const perf = spawn('perf', ['record', '-F', '999', '-g', '-p', String(server.child.process.pid), '-o', data], { stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        perf.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const result = await runLoad({ urls: [server.url], requests, connections, durationS: Number(values.seconds), servers: [server.child] });
      perf.kill('SIGINT');
      // perf writes its data and exits 0 on SIGINT; anything else means it could not record.
      const end = await exited;
      if (end.code !== 0 && end.signal !== 'SIGINT') throw new Error(`perf record failed (${end.code ?? end.signal}; is perf_event_paranoid above 2?)`);
      rps = result.rps;
      cpuUs = result.serverCpuUsPerReq;
    } finally {
      await server.child.stop();
    }
    console.log(
      `${values.mode} under perf (${values.mix ? 'full mix' : '302 path only'}, LOG_LEVEL=${values.log}): ${fmtInt(rps)} req/s, ${cpuUs.toFixed(1)} µs of server CPU per request\n`,
    );
    console.log('Where samples fall, by object (node = V8 and node:http in C++, [JIT] = compiled JavaScript):');
    console.log(await report(data, ['--no-children', '--sort', 'dso'], 8));
    console.log('\nTop symbols by self time:');
    console.log(await report(data, ['--no-children', '--sort', 'sym'], top));
    console.log('\nJavaScript functions with everything they call:');
    console.log(
      (await report(data, ['--children', '--sort', 'sym'], 400))
        .split('\n')
        .filter((l) => l.includes('JS:'))
        .slice(0, top)
        .join('\n'),
    );
    if (values.keep) console.log(`\nperf data kept in ${values.keep}: perf report -i ${values.keep}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

exitWhenDone(main());
