// Secrets: tokens come from the environment, are compared in constant time, never reach the logs
// (also on failed and odd requests), and the audit log is append-only through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { timingSafeEqualString } from '../../src/http/auth.js';
import { encodePath, FILES, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { sleep } from '../support/wait.js';
import { sendRaw, startChildServer, type ChildServer } from './support.js';

let net: MirrorNetwork;
let child: ChildServer | undefined;

// Secrets handed over only through the environment (the config names them env:…).
const ENV_STAFF = 'staff-secret-from-env-7f3a9c1e5b2d4068';
const ENV_PROVIDER = 'provider-secret-from-env-0b9d8e7f6a5c';

beforeAll(async () => {
  net = await startNetwork();
});

afterAll(async () => {
  child?.kill();
  await net?.close();
});

describe('constant-time comparison', () => {
  it('compares every character whatever the lengths, and only equal strings match', () => {
    expect(timingSafeEqualString(STAFF_TOKEN, STAFF_TOKEN)).toBe(true);
    expect(timingSafeEqualString(STAFF_TOKEN, `${STAFF_TOKEN}x`)).toBe(false);
    expect(timingSafeEqualString(STAFF_TOKEN.slice(0, -1), STAFF_TOKEN)).toBe(false);
    expect(timingSafeEqualString('', STAFF_TOKEN)).toBe(false);
    expect(timingSafeEqualString(`${STAFF_TOKEN.slice(0, -1)}X`, STAFF_TOKEN)).toBe(false);
    // Unicode that folds onto the same low bits must not collide.
    expect(timingSafeEqualString('\u0161', 'a')).toBe(false);
    expect(timingSafeEqualString('a\u0000', 'a')).toBe(false);
  });
});

describe('tokens from the environment, never logged', () => {
  it('an env token works (trailing newline of a mounted secret included); neither token appears in any log line', async () => {
    const { file, port } = await net.writeConfig({
      mutate: (c) => {
        c.tokens = [
          { token: 'env:MG_TEST_STAFF', role: 'staff', name: 'ops' },
          { token: 'env:MG_TEST_PROVIDER', role: 'provider', mirrors: ['de-berlin'], name: 'spree' },
        ];
      },
    });
    child = await startChildServer({ configPath: file, port, env: { MG_TEST_STAFF: `${ENV_STAFF}\n`, MG_TEST_PROVIDER: ENV_PROVIDER, LOG_LEVEL: 'info' } });
    const base = child.url;
    const call = async (method: string, target: string, auth?: string, body?: string) => {
      const headers: Record<string, string> = { Accept: 'application/json', 'X-Forwarded-For': '198.51.100.99' };
      if (auth !== undefined) headers.Authorization = auth;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(`${base}${target}`, { method, headers, body, redirect: 'manual' });
      await res.arrayBuffer();
      return res.status;
    };

    // Accepted from the environment.
    expect(await call('GET', '/admin/v1/mirrors', `Bearer ${ENV_STAFF}`)).toBe(200);
    expect(await call('PATCH', '/admin/v1/mirrors/fr-paris', `Bearer ${ENV_STAFF}`, '{"weight":55}')).toBe(200);
    expect(await call('GET', '/admin/v1/stats', `Bearer ${ENV_PROVIDER}`)).toBe(200);
    // The literal token of the fixture config is not one any more.
    expect(await call('GET', '/admin/v1/mirrors', `Bearer ${STAFF_TOKEN}`)).toBe(401);

    // Failures of every kind, with the real tokens in and around them.
    expect(await call('PATCH', '/admin/v1/mirrors/fr-paris', `Bearer ${ENV_PROVIDER}`, '{"weight":1}')).toBe(403);
    expect(await call('GET', '/admin/v1/stats?mirror=fr-paris', `Bearer ${ENV_PROVIDER}`)).toBe(403);
    expect(await call('GET', '/admin/v1/mirrors', `Bearer ${ENV_STAFF}x`)).toBe(401);
    expect(await call('GET', '/admin/v1/mirrors', `Bearer ${ENV_STAFF.slice(0, -1)}`)).toBe(401);
    expect(await call('GET', '/admin/v1/mirrors', `Basic ${Buffer.from(`ops:${ENV_STAFF}`).toString('base64')}`)).toBe(401);
    expect(await call('GET', '/admin/v1/mirrors', ENV_STAFF)).toBe(401);
    expect(await call('PATCH', '/admin/v1/mirrors/fr-paris', `Bearer ${ENV_STAFF}`, `{"weight":"${ENV_STAFF}"}`)).toBe(422);
    expect(await call('PATCH', '/admin/v1/mirrors/fr-paris', `Bearer ${ENV_STAFF}`, `{"weight": 1, "${ENV_STAFF}": true}`)).toBe(422);
    expect(await call('POST', '/admin/v1/mirrors', `Bearer ${ENV_STAFF}`, `{not json ${ENV_STAFF}`)).toBe(400);
    expect(await call('POST', '/admin/v1/mirrors/nope/drain', `Bearer ${ENV_STAFF}`)).toBe(404);
    expect(await call('GET', `/admin/v1/audit?token=${ENV_STAFF}`, `Bearer ${ENV_STAFF}`)).toBe(400);
    expect(await call('GET', `/download/${encodePath(FILES.readme)}?mirrorlist&fromip=not-an-ip`, `Bearer ${ENV_STAFF}`)).toBe(400);
    expect(await call('GET', `/download/${encodePath(FILES.readme)}?mirrorlist&fromip=1.1.1.1`, `Bearer ${ENV_PROVIDER}`)).toBe(403);
    expect(await call('POST', '/api/v1/offers', `Bearer ${ENV_STAFF}`, `{"note":"${ENV_STAFF}"}`)).toBe(422);
    // Raw: a header over the size limit carrying the token, and a token with control characters.
    expect(
      (
        await sendRaw(
          port,
          `GET /admin/v1/mirrors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ENV_STAFF}\r\nX-Pad: ${'p'.repeat(17_000)}\r\nConnection: close\r\n\r\n`,
        )
      ).status,
    ).toBe(431);
    expect(
      (await sendRaw(port, `GET /admin/v1/mirrors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ENV_STAFF}\u0001\r\nConnection: close\r\n\r\n`)).status,
    ).toBe(400);

    // Logs are complete once the process has flushed and exited.
    child.proc.kill('SIGTERM');
    expect(await child.exit).toEqual({ code: 0, signal: null });
    await sleep(50);
    const log = child.output();
    expect(log).toContain('"request"');
    expect(log).toContain('/admin/v1/mirrors');
    for (const secret of [ENV_STAFF, ENV_PROVIDER]) {
      for (const form of [secret, secret.slice(4, -4), Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]) {
        expect(log.includes(form), `log contains ${form}`).toBe(false);
      }
    }
    child = undefined;
  }, 60_000);

  it('config problems about tokens never print the secret', () => {
    const problems = (env: Record<string, string>, tokens: unknown) => {
      try {
        parseConfig(JSON.stringify({ publicUrl: 'https://d.example', origin: { baseUrl: 'https://o.example/', manifest: '/nonexistent.jsonl' }, tokens }), {
          env,
        });
      } catch (err) {
        if (err instanceof ConfigError) return err.message;
        throw err;
      }
      return '';
    };
    const shortSecret = 'short-secret';
    expect(problems({ T: shortSecret }, [{ token: 'env:T', role: 'staff', name: 'a' }])).not.toContain(shortSecret);
    expect(
      problems({ T: ENV_STAFF, U: ENV_STAFF }, [
        { token: 'env:T', role: 'staff', name: 'a' },
        { token: 'env:U', role: 'staff', name: 'b' },
      ]),
    ).toMatch(/duplicate token/);
    expect(
      problems({ T: ENV_STAFF, U: ENV_STAFF }, [
        { token: 'env:T', role: 'staff', name: 'a' },
        { token: 'env:U', role: 'staff', name: 'b' },
      ]),
    ).not.toContain(ENV_STAFF);
    expect(problems({}, [{ token: ENV_STAFF, role: 'owner', name: 'a' }])).not.toContain(ENV_STAFF);
    expect(
      problems({}, [
        { token: 42, role: 'staff', name: 'a' },
        { token: ENV_STAFF, role: 'staff', mirrors: ['x'], name: 'b' },
      ]),
    ).not.toContain(ENV_STAFF);
  });
});

describe('the audit log cannot be rewritten through the API', () => {
  it('no method on /admin/v1/audit (or below it) changes an entry; the actor is always the token name', async () => {
    const staff = { Authorization: `Bearer ${STAFF_TOKEN}`, Accept: 'application/json' };
    const json = { ...staff, 'Content-Type': 'application/json' };
    expect((await fetch(`${net.url}/admin/v1/mirrors/de-berlin`, { method: 'PATCH', headers: json, body: '{"weight":77}' })).status).toBe(200);
    const read = async () =>
      ((await (await fetch(`${net.url}/admin/v1/audit`, { headers: staff })).json()) as { entries: { id: string; actor: string; action: string }[] }).entries;
    const before = await read();
    expect(before.length).toBeGreaterThan(0);
    const id = before[0]!.id;

    const attempts: [string, string, string | undefined][] = [];
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const target of ['/admin/v1/audit', `/admin/v1/audit/${id}`, '/admin/v1/audit?limit=0', `/admin/v1/audit?id=${id}`]) {
        attempts.push([method, target, method === 'DELETE' ? undefined : JSON.stringify({ id, actor: 'mallory', action: 'nothing', entries: [] })]);
      }
    }
    for (const [method, target, body] of attempts) {
      const r = await fetch(`${net.url}${target}`, { method, headers: json, body });
      await r.arrayBuffer();
      expect(r.status, `${method} ${target}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${method} ${target}`).toBeLessThan(500);
    }
    // Override methods and spoofed actor fields do nothing either.
    const spoof = await fetch(`${net.url}/admin/v1/mirrors/de-berlin`, {
      method: 'POST',
      headers: { ...json, 'X-HTTP-Method-Override': 'DELETE' },
      body: '{}',
    });
    expect(spoof.status).toBeGreaterThanOrEqual(400);
    const actorField = await fetch(`${net.url}/admin/v1/mirrors/de-berlin`, {
      method: 'PATCH',
      headers: { ...json, 'X-Actor': 'mallory' },
      body: '{"weight":78,"actor":"mallory"}',
    });
    expect(actorField.status).toBe(422);
    expect(
      (
        await fetch(`${net.url}/admin/v1/mirrors/de-berlin`, {
          method: 'PATCH',
          headers: { ...json, 'X-Actor': 'mallory', 'X-Forwarded-User': 'mallory' },
          body: '{"weight":79}',
        })
      ).status,
    ).toBe(200);

    const after = await read();
    // Unchanged, plus exactly the one new change, by the token's name.
    expect(after.slice(1)).toEqual(before);
    expect(after[0]).toMatchObject({ actor: 'ops', action: 'mirror.update' });
    expect(after.some((e) => e.actor === 'mallory')).toBe(false);
  });
});
