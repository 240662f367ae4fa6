// Ordinary client errors are answers, not faults: a mirror URL at a private address and an offer accepted without
// the baseUrl a mirror needs are 422s naming the field, and the server's log has no "unhandled error" (level 50,
// with a stack trace) for them. Through a real server process and its real log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNetwork, STAFF_TOKEN, type MirrorNetwork } from '../support/network.js';
import { client, submitOffer, type Client } from '../support/requests.js';
import { startChildServer, type ChildServer } from '../reliability/support.js';

let net: MirrorNetwork;
let server: ChildServer;
let staff: Client;

beforeAll(async () => {
  net = await startNetwork({ mirrorgate: false });
  // A production-like config: private mirror addresses refused (so no loopback mirrors in it).
  const { file, port } = await net.writeConfig({
    mutate: (c) => {
      c.allowPrivateMirrorAddresses = false;
      c.mirrors = [];
      c.tokens = (c.tokens as { role: string }[]).filter((t) => t.role === 'staff');
    },
  });
  server = await startChildServer({ configPath: file, port });
  staff = client(server.url, STAFF_TOKEN);
});

afterAll(async () => {
  server?.kill();
  await net?.close();
});

const errorLines = () => server.logLines().filter((l) => Number(l.level) >= 50);

describe('client errors are not logged as server faults', () => {
  it('a mirror at a private address: 422 naming baseUrl, no error in the log', async () => {
    const r = await staff.post('/admin/v1/mirrors', { id: 'lo', name: 'Loopback', baseUrl: 'http://127.0.0.1:9/pub/', country: 'DE' });
    expect(r.status, r.text).toBe(422);
    expect(Object.keys(r.json.fields)).toContain('baseUrl');
    expect(errorLines(), server.output()).toEqual([]);
  });

  it('an offer accepted without a baseUrl: 422 naming it, no error in the log', async () => {
    const offer = await submitOffer(server.url);
    expect(offer.status, offer.text).toBe(201);
    const r = await staff.post(`/admin/v1/offers/${offer.json.id}/accept`, {});
    expect(r.status, r.text).toBe(422);
    expect(Object.keys(r.json.fields)).toContain('baseUrl');
    expect(errorLines(), server.output()).toEqual([]);
  });
});
