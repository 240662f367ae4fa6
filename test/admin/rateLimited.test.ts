// The public rate limiter's 429 reads like every other error where it is answered: JSON {"error"} on
// /api/ and for clients that accept JSON, a line of text for others; Retry-After either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNetwork, type MirrorNetwork } from '../support/network.js';

let net: MirrorNetwork;
const LIMIT = 3;

beforeAll(async () => {
  net = await startNetwork({
    mirrorgate: {
      mutate: (config) => {
        config.limits = { ...(config.limits as object), apiPerMinute: LIMIT };
      },
    },
  });
});

afterAll(async () => {
  await net?.close();
});

/** The first answer past the limit for a client of its own. */
async function pastTheLimit(target: string, ip: string, accept: string): Promise<Response> {
  for (let i = 0; i < LIMIT; i++) {
    const r = await fetch(`${net.url}${target}`, { headers: { 'X-Forwarded-For': ip, Accept: accept } });
    await r.arrayBuffer();
    expect(r.status, `${target} #${i + 1}`).toBe(200);
  }
  return fetch(`${net.url}${target}`, { headers: { 'X-Forwarded-For': ip, Accept: accept } });
}

// Skipped until src/http/app.ts hands the limiters guards.ts's answer (`message: rateLimitedAnswer()` in perMinute);
// run with that change in a scratch copy, these pass. Remove `.skip` with that change.
describe('429 from the public rate limiter', () => {
  it.each([
    ['/api/v1/mirrors', '*/*'],
    ['/api/v1/mirrors', 'text/html'],
    ['/mirrors', 'application/json'],
  ])('%s (Accept: %s) → JSON {"error"} with Retry-After', async (target, accept) => {
    const r = await pastTheLimit(target, `203.0.113.${target.length + accept.length}`, accept);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await r.json()).toEqual({ error: 'too many requests from this address; try again later' });
  });

  it('/mirrors in a browser → a line of text with Retry-After', async () => {
    const r = await pastTheLimit('/mirrors', '203.0.113.99', 'text/html');
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await r.text()).toBe('Error: too many requests from this address; try again later\n');
  });
});
