// k6 load test for the same request mix `npm run bench` sends with autocannon (see load/scenarios.ts).
//
//   npm run load:k6                                   # bundles this file, then `k6 run` on it
//   BASE_URL=http://127.0.0.1:8080 RATE=4000 npm run load:k6
//
// Environment (k6 -e NAME=value, or exported): BASE_URL (default http://127.0.0.1:8080),
// MANIFEST (the origin manifest to draw paths from; default the demo's), MIX (`mix` or
// `redirect`), VUS and DURATION for the closed-loop saturating run, or RATE (requests per
// second) for an open-loop constant-arrival-rate run — the "p99 at half the saturating rate" figure.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { buildRequests, demoPaths, MIX, REDIRECT_ONLY } from './scenarios.js';

const BASE_URL = __ENV.BASE_URL ?? 'http://127.0.0.1:8080';
const DURATION = __ENV.DURATION ?? '30s';
const RATE = __ENV.RATE ? Number(__ENV.RATE) : undefined;
const VUS = Number(__ENV.VUS ?? 32);

// Init context: open() reads files relative to this script; the bundle passes an absolute MANIFEST.
const requests = buildRequests({
  paths: demoPaths(open(__ENV.MANIFEST ?? '../data/manifest.jsonl')),
  count: 4_000,
  mix: __ENV.MIX === 'redirect' ? REDIRECT_ONLY : MIX,
});

export const options: Options = {
  discardResponseBodies: true,
  scenarios: RATE
    ? {
        open_loop: {
          executor: 'constant-arrival-rate',
          rate: RATE,
          timeUnit: '1s',
          duration: DURATION,
          preAllocatedVUs: VUS,
          maxVUs: VUS * 4,
        },
      }
    : { closed_loop: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  // Figures per kind of answer in the end-of-test summary (no thresholds: a load run reports, it does not judge).
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
};

export default function (): void {
  const r = requests[exec.scenario.iterationInTest % requests.length]!;
  const res = http.request(r.method, `${BASE_URL}${r.path}`, null, {
    headers: r.headers,
    redirects: 0,
    tags: { kind: r.kind, name: r.kind },
  });
  check(res, { [`${r.kind} answers ${r.status}`]: (x) => x.status === r.status });
}
