// Two Mirrorgate instances on one Redis spend one rate-limit budget per client: the public API, offers and
// wrong bearer tokens are counted in the shared store, so a client cannot multiply its budget by the number
// of instances behind the load balancer. While Redis is away each instance counts for itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { flushRedis, redisUrl, skipWithoutRedis } from '../support/redis.js';

const REDIS_DB = 6;
const skipRedis = await skipWithoutRedis(REDIS_DB, 'sharedLimits: two instances sharing Redis');

describe.skipIf(skipRedis)('rate limits across two instances on one Redis', () => {
  let net: MirrorNetwork;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    await flushRedis(REDIS_DB);
    net = await startNetwork({ mirrorgate: false });
    const env = { REDIS_URL: redisUrl(REDIS_DB) };
    const mutate = (c: Record<string, unknown>) => (c.limits = { apiPerMinute: 6, authFailures: 3 });
    a = await net.startServer({ env, mutate });
    b = await net.startServer({ env, mutate });
    expect([a.store.kind, b.store.kind]).toEqual(['redis', 'redis']);
  });
  afterAll(async () => {
    await net?.close();
    if (!skipRedis) await flushRedis(REDIS_DB).catch(() => {});
  });

  const from = (server: RunningServer, path: string, ip: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers: { 'X-Forwarded-For': ip, ...headers } });

  it('the public API: six a minute from one address in all, whichever instance answers', async () => {
    const ip = '203.0.113.61';
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await from(a, '/api/v1/mirrors', ip)).status, (await from(b, '/api/v1/mirrors', ip)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    for (const server of [a, b]) {
      const limited = await from(server, '/api/v1/mirrors', ip);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // draft-6 headers tell the client the one budget it has.
      expect(limited.headers.get('ratelimit-limit')).toBe('6');
      expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    }
    // Another address has its own budget, on either instance.
    expect((await from(b, '/api/v1/mirrors', '203.0.113.62')).status).toBe(200);
  });

  it('wrong bearer tokens: three from one address across both instances lock that address out on both', async () => {
    const ip = '203.0.113.63';
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    expect((await from(a, '/admin/v1/mirrors', ip, bearer('guess-1-0123456789abcdef'))).status).toBe(401);
    expect((await from(b, '/admin/v1/mirrors', ip, bearer('guess-2-0123456789abcdef'))).status).toBe(401);
    expect((await from(a, '/admin/v1/mirrors', ip, bearer('guess-3-0123456789abcdef'))).status).toBe(401);
    // Past the limit the right token is refused too, on the instance that saw one wrong token only.
    expect((await from(b, '/admin/v1/mirrors', ip, bearer(STAFF_TOKEN))).status).toBe(429);
    expect((await from(a, '/admin/v1/mirrors', ip, bearer(STAFF_TOKEN))).status).toBe(429);
    expect((await from(b, '/admin/v1/mirrors', '203.0.113.64', bearer(STAFF_TOKEN))).status).toBe(200);
  });
});
