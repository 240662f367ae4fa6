// An isolate's download counts: once per client and file in ten minutes, posted in batches behind responses, kept while the control plane is away.
import { describe, expect, it } from 'vitest';
import { DownloadCounter, EDGE_DOWNLOADS_PATH } from '../../src/edge/downloadCounter.js';
import { STAFF_TOKEN, startNetwork } from '../support/network.js';
import { until } from '../support/wait.js';

const silent = { info() {}, warn() {}, error() {} };
const CONTROL = 'https://control.example';

function controlPlane() {
  const posts: { downloads: { ip: string; path: string; mirror: string }[]; impressions: { mirror: string; count: number }[] }[] = [];
  let status = 202;
  let down = false;
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    if (down) throw new TypeError('fetch failed');
    expect(String(input)).toBe(`${CONTROL}${EDGE_DOWNLOADS_PATH}`);
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer edge-token');
    if (status === 202) posts.push(JSON.parse(String(init?.body)));
    return new Response(null, { status });
  }) as typeof fetch;
  return { fetch: fetchImpl, posts, setStatus: (s: number) => void (status = s), setDown: (v: boolean) => void (down = v) };
}

const event = (ip: string, path: string, atMs: number) => ({ ip, path, mirror: 'de-one', country: 'DE', size: 10, atMs });

describe('DownloadCounter', () => {
  it('counts a client and file once per ten minutes, and posts flushMs after the first count', async () => {
    const cp = controlPlane();
    const counter = new DownloadCounter({ controlUrl: CONTROL, token: 'edge-token', flushMs: 10, fetch: cp.fetch, log: silent });
    const pending: Promise<unknown>[] = [];
    const bg = (p: Promise<unknown>) => void pending.push(p);
    counter.download(event('192.0.2.1', 'pub/a.iso', 0));
    counter.download(event('192.0.2.1', 'pub/a.iso', 1_000)); // a segment of the same download
    counter.download(event('192.0.2.2', 'pub/a.iso', 2_000));
    counter.download(event('192.0.2.1', 'pub/a.iso', 600_000)); // ten minutes on: a new download
    counter.impression('de-one', 2_000, { ip: '192.0.2.1', path: 'pub/a.iso' });
    counter.impression('de-one', 3_000, { ip: '192.0.2.2', path: 'pub/a.iso' });
    counter.impression('de-one', 4_000, { ip: '192.0.2.1', path: 'pub/a.iso' }); // the same page again: one impression
    counter.schedule(bg);
    counter.schedule(bg); // one post is enough for both requests
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    expect(cp.posts).toHaveLength(1);
    expect(cp.posts[0]!.downloads.map((d) => d.ip)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.1']);
    // With their client and file, so the control plane can count each once across isolates too.
    expect(cp.posts[0]!.impressions).toEqual([
      { mirror: 'de-one', atMs: 2_000, count: 1, ip: '192.0.2.1', path: 'pub/a.iso' },
      { mirror: 'de-one', atMs: 3_000, count: 1, ip: '192.0.2.2', path: 'pub/a.iso' },
    ]);
    expect(counter.status()).toMatchObject({ queued: 0, sent: 3, repeats: 1, dropped: 0 });
  });

  it('keeps its counts while the control plane is away and sends them with the next post', async () => {
    const cp = controlPlane();
    const counter = new DownloadCounter({ controlUrl: CONTROL, token: 'edge-token', flushMs: 0, maxQueued: 3, fetch: cp.fetch, log: silent });
    cp.setDown(true);
    for (let i = 0; i < 5; i++) counter.download(event(`192.0.2.${i}`, 'pub/a.iso', i));
    await counter.flush();
    // At most three held: the oldest two dropped, and counted as such.
    expect(counter.status()).toMatchObject({ queued: 3, sent: 0, dropped: 2, failures: 1 });
    expect(counter.status().lastError).toContain('fetch failed');
    cp.setDown(false);
    await counter.flush();
    expect(cp.posts.flatMap((p) => p.downloads.map((d) => d.ip))).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.4']);
    expect(counter.status()).toMatchObject({ queued: 0, sent: 3 });
  });

  it('drops a batch the control plane refuses (a token without the right role), and retries one it could not take now', async () => {
    const cp = controlPlane();
    const counter = new DownloadCounter({ controlUrl: CONTROL, token: 'edge-token', flushMs: 0, fetch: cp.fetch, log: silent });
    counter.download(event('192.0.2.1', 'pub/a.iso', 0));
    cp.setStatus(403);
    await counter.flush();
    expect(counter.status()).toMatchObject({ queued: 0, dropped: 1 });
    counter.download(event('192.0.2.1', 'pub/b.iso', 0));
    cp.setStatus(503);
    await counter.flush();
    expect(counter.status()).toMatchObject({ queued: 1 });
    cp.setStatus(202);
    await counter.flush();
    expect(counter.status()).toMatchObject({ queued: 0, sent: 1 });
  });

  it('without a control plane, writes to the Analytics Engine dataset only', async () => {
    const points: unknown[] = [];
    const counter = new DownloadCounter({ flushMs: 0, dataset: { writeDataPoint: (p) => void points.push(p) }, log: silent });
    counter.download(event('192.0.2.1', 'pub/a.iso', 0));
    counter.download(event('192.0.2.1', 'pub/a.iso', 5));
    expect(points).toEqual([{ blobs: ['de-one', 'DE', 'pub/a.iso'], doubles: [10], indexes: ['de-one'] }]);
    expect(counter.status().queued).toBe(0);
  });

  it('a control plane with a lower body limit (an older one) gets the same counts in smaller posts, none dropped', async () => {
    const received: string[] = [];
    let refused = 0;
    const older = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      const body = String(init?.body);
      if (new TextEncoder().encode(body).byteLength > 64 * 1024) {
        refused++;
        return new Response('{"error":"the request body is larger than 64 KB"}', { status: 413 });
      }
      received.push(...(JSON.parse(body) as { downloads: { ip: string }[] }).downloads.map((d) => d.ip));
      return new Response(null, { status: 202 });
    }) as typeof fetch;
    const counter = new DownloadCounter({ controlUrl: CONTROL, token: 'edge-token', flushMs: 0, fetch: older, log: silent });
    for (let i = 0; i < 1_500; i++) counter.download(event(`10.0.${i >> 8}.${i & 255}`, 'pub/a.iso', i));
    await counter.flush();
    expect(refused).toBeGreaterThan(0);
    expect(new Set(received).size).toBe(1_500);
    expect(counter.status()).toMatchObject({ queued: 0, sent: 1_500, dropped: 0 });
  });

  it('a busy isolate: 1,500 counts gathered in one flush all reach a real control plane (a post stays under its body limit)', async () => {
    const net = await startNetwork({
      mirrorgate: { mutate: (c) => (c.tokens as unknown[]).push({ token: 'edge-token-for-counter-tests', role: 'edge', name: 'edge' }) },
    });
    try {
      const counter = new DownloadCounter({ controlUrl: net.url, token: 'edge-token-for-counter-tests', flushMs: 0, log: silent });
      const at = Date.now();
      const path = 'pub/images/tiny.iso';
      for (let i = 0; i < 1_500; i++)
        counter.download({ ip: `10.0.${i >> 8}.${i & 255}`, path, mirror: 'de-berlin', country: 'DE', size: 3_000_017, atMs: at });
      await counter.flush();
      expect(counter.status()).toMatchObject({ queued: 0, sent: 1_500, dropped: 0 });
      const downloadsOf = async () => {
        const res = await fetch(`${net.url}/admin/v1/stats`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } });
        const body = (await res.json()) as { topFiles: { path: string; downloads: number }[] };
        return body.topFiles.find((f) => f.path === path)?.downloads ?? 0;
      };
      await until(async () => (await downloadsOf()) === 1_500, 15_000, "the edge's 1,500 downloads in /admin/v1/stats");
    } finally {
      await net.close();
    }
  });
});
