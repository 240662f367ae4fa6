// A mirror added by hand is `pending`: it gets no download until a probe shows it up. One added with a dead URL
// never gets one — not in the instant after it is added, not while probes fail, not once it is down — and the
// same mirror, once something answers at its URL, goes into rotation on its own.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client, type Client } from '../support/requests.js';
import { sleep } from '../support/wait.js';

let net: MirrorNetwork;
let server: RunningServer;
let staff: Client;
let deadPort: number;

/** Clients in Sweden, where the new mirror stands (the network's other mirrors are far away). */
const SWEDES = Array.from({ length: 40 }, (_, i) => `130.237.${Math.floor(i / 200) + 1}.${(i % 200) + 1}`);

beforeAll(async () => {
  net = await startNetwork();
  // Probes every second: several rounds fit in the test, and down comes after two failures.
  server = await net.startServer({ health: { interval: '1s', timeout: '500ms', failuresToDown: 2, successesToUp: 2 } });
  staff = client(server.url, STAFF_TOKEN);
  deadPort = await freePort();
});

afterAll(async () => {
  await net?.close();
});

/** Where downloads of the README went, asked as tools ask (GET, the plain 302 path) and as a HEAD. */
async function destinations(base: string): Promise<string[]> {
  const answers = await Promise.all(
    SWEDES.map(async (ip, i) => {
      const res = await fetch(`${base}/download/pub/README.txt`, {
        method: i % 2 ? 'HEAD' : 'GET',
        headers: { Accept: '*/*', 'X-Forwarded-For': ip },
        redirect: 'manual',
      });
      await res.arrayBuffer();
      expect(res.status).toBe(302);
      return res.headers.get('x-mirrorgate-mirror') ?? '(none)';
    }),
  );
  return answers;
}

describe('a mirror added with a dead URL', () => {
  it('never gets a download: during and right after the POST, while probes fail, and once down', async () => {
    const seen = new Set<string>();
    let adding = true;
    // Downloads all along, from before the POST is answered until well after several probe rounds.
    const asking = (async () => {
      while (adding) for (const d of await destinations(server.url)) seen.add(d);
    })();
    const added = await staff.post('/admin/v1/mirrors', {
      id: 'se-dead',
      name: 'Dead Stockholm',
      baseUrl: `http://127.0.0.1:${deadPort}/pub-root/`,
      country: 'SE',
      lat: 59.33,
      lon: 18.07,
      // It would take every Swedish download if it were in rotation.
      weight: 1_000_000,
    });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ lifecycle: 'pending', source: 'runtime' });

    const status = async () => (await staff.get('/admin/v1/mirrors/se-dead')).json;
    await vi.waitFor(async () => expect((await status()).health).toMatchObject({ health: 'down', reason: expect.stringMatching(/refused/) }), {
      timeout: 5_000,
      interval: 100,
    });
    await sleep(1_000);
    adding = false;
    await asking;
    expect(seen.size).toBeGreaterThan(0);
    expect(seen.has('se-dead')).toBe(false);

    const view = await status();
    expect(view.lifecycle).toBe('pending');
    // The mirror list says why it is left out.
    const list = await fetch(`${server.url}/download/pub/README.txt?mirrorlist`, { headers: { Accept: 'application/json', 'X-Forwarded-For': SWEDES[0]! } });
    const excluded = ((await list.json()) as { excluded: { id: string; reason: string }[] }).excluded;
    expect(excluded.find((e) => e.id === 'se-dead')?.reason).toMatch(/^(not-launched|down)$/);
    const pub = (await (await fetch(`${server.url}/api/v1/mirrors`)).json()) as { mirrors: { id: string; status: string }[] };
    expect(pub.mirrors.find((m) => m.id === 'se-dead')?.status).toMatch(/^(pending|down)$/);
  });

  it('before its first probe answers it is `pending` on the public status too', async () => {
    const slow = await staff.post('/admin/v1/mirrors', {
      id: 'se-dead-2',
      name: 'Dead Again',
      baseUrl: `http://127.0.0.1:${deadPort}/other/`,
      country: 'SE',
      lat: 59.3,
      lon: 18.1,
    });
    expect(slow.status).toBe(201);
    const pub = (await (await fetch(`${server.url}/api/v1/mirrors`)).json()) as { mirrors: { id: string; status: string }[] };
    expect(pub.mirrors.find((m) => m.id === 'se-dead-2')?.status).toBe('pending');
    expect((await destinations(server.url)).includes('se-dead-2')).toBe(false);
  });

  it('goes into rotation on its own once something answers at its URL, and the prober records it', async () => {
    const revived = await net.extraMirror('se-dead', deadPort);
    try {
      // Its base URL has a path: serve the origin tree there.
      expect((await staff.patch('/admin/v1/mirrors/se-dead', { baseUrl: `http://127.0.0.1:${deadPort}/` })).status).toBe(200);
      await vi.waitFor(async () => expect((await destinations(server.url)).every((d) => d === 'se-dead')).toBe(true), { timeout: 5_000, interval: 200 });
      expect((await staff.get('/admin/v1/mirrors/se-dead')).json.lifecycle).toBe('active');
      const [activated] = (await staff.get('/admin/v1/audit?action=activate&target=mirror:se-dead')).json.entries;
      expect(activated).toMatchObject({ actor: 'prober', before: { lifecycle: 'pending' }, after: { lifecycle: 'active' } });
    } finally {
      await revived.close();
    }
  });
});
