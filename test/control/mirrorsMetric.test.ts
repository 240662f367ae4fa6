// /metrics counts mirrors by the status the public pages show: a mirror added by hand and not yet probed up is
// `pending` in mirrorgate_mirrors{status} exactly as on /mirrors and /api/v1/mirrors, never `syncing`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client } from '../support/requests.js';

let net: MirrorNetwork;

beforeAll(async () => {
  net = await startNetwork();
});

afterAll(async () => {
  await net?.close();
});

/** mirrorgate_mirrors{status} as a map, from the Prometheus text. */
async function gauge(): Promise<Record<string, number>> {
  const text = await (await fetch(`${net.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^mirrorgate_mirrors\{status="([a-z]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The same count from the public API. */
async function publicCounts(): Promise<Record<string, number>> {
  const body = (await (await fetch(`${net.url}/api/v1/mirrors`, { headers: { Accept: 'application/json' } })).json()) as { mirrors: { status: string }[] };
  const out: Record<string, number> = {};
  for (const m of body.mirrors) out[m.status] = (out[m.status] ?? 0) + 1;
  return out;
}

describe('mirrorgate_mirrors{status}', () => {
  it('a mirror added by hand (not probed up) is pending there, as on /api/v1/mirrors', async () => {
    // Nothing answers at its URL: it stays pending for the whole test.
    const added = await client(net.url, STAFF_TOKEN).post('/admin/v1/mirrors', {
      id: 'se-pending',
      name: 'Pending Stockholm',
      baseUrl: `http://127.0.0.1:${await freePort()}/pub/`,
      country: 'SE',
    });
    expect(added.status, added.text).toBe(201);

    const api = await publicCounts();
    expect(api.pending).toBe(1);
    const metric = await gauge();
    expect(metric.pending).toBe(1);
    expect(metric.syncing ?? 0).toBe(api.syncing ?? 0);
    expect(metric).toEqual(api);
  });
});
