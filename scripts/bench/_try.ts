import { runLoad, scenarios, startServer, warmUp } from './http.js';
const sc = await scenarios();
for (const mode of ['bare', 'mirrorgate'] as const) {
  const s = await startServer(mode, { LOG_LEVEL: 'silent' });
  await warmUp(s.url, sc.redirects, 2, 16);
  for (const c of [8, 32, 64]) {
    const r = await runLoad({ urls: [s.url], requests: sc.redirects, connections: c, durationS: 4, servers: [s.child] });
    console.log(mode, c, Math.round(r.rps), r.p50.toFixed(2), r.p99.toFixed(2), r.statuses, r.serverCores.toFixed(2), r.loadgenCores.toFixed(2), r.serverCpuUsPerReq.toFixed(1));
  }
  await s.child.stop();
}
