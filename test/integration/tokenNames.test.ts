// Token names are the actors of the audit log: no two tokens in force share one. A config file with two tokens
// of one name does not start; a token issued at runtime may not take the name of a config token or of a live
// one. A revoked token's name may be issued again (rotation): the audit log's times tell the two apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client, type Client } from '../support/requests.js';
import { spawnCli } from '../cli/cliRun.js';

let net: MirrorNetwork;
let staff: Client;

beforeAll(async () => {
  net = await startNetwork();
  staff = client(net.url, STAFF_TOKEN);
});

afterAll(async () => {
  await net?.close();
});

describe('a config with two tokens of one name', () => {
  it('the server refuses to start, naming tokens.N.name, exit 1', async () => {
    const { file, port } = await net.writeConfig({
      mutate: (c) => (c.tokens as unknown[]).push({ token: 'another-staff-token-0123456789', role: 'staff', name: 'ops' }),
    });
    const run = await spawnCli(['serve', '--config', file, '--port', String(port)], { env: { LOG_LEVEL: 'silent' } });
    expect(run.code, run.stderr).toBe(1);
    const index = (net.config.tokens as unknown[]).length;
    expect(run.stderr).toContain(`tokens.${index}.name: duplicate name "ops"\n`);
    expect(run.stderr).toContain('mirrorgate: refusing to start with an invalid config');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('POST /admin/v1/tokens refuses a name already used', () => {
  it("a config token's name: 409", async () => {
    const r = await staff.post('/admin/v1/tokens', { name: 'ops', role: 'staff' });
    expect(r.status, r.text).toBe(409);
    expect(r.json.error).toContain('"ops"');
    expect((await staff.get('/admin/v1/tokens')).json.tokens.filter((t: { name: string }) => t.name === 'ops')).toHaveLength(1);
  });

  it("a live runtime token's name: 409", async () => {
    expect((await staff.post('/admin/v1/tokens', { name: 'night-shift', role: 'staff' })).status).toBe(201);
    const again = await staff.post('/admin/v1/tokens', { name: 'night-shift', role: 'staff' });
    expect(again.status, again.text).toBe(409);
    expect(again.json.error).toContain('"night-shift"');
  });

  it("a revoked token's name may be issued again (rotation); the audit log keeps both, told apart by time", async () => {
    const issued = await staff.post('/admin/v1/tokens', { name: 'contractor', role: 'staff' });
    expect(issued.status).toBe(201);
    // The token acts once, so the audit log names it as an actor.
    const acting = client(net.url, issued.json.token);
    expect((await acting.post('/admin/v1/mirrors/de-berlin/drain')).status).toBe(200);
    expect((await acting.post('/admin/v1/mirrors/de-berlin/undrain')).status).toBe(200);
    expect((await staff.post('/admin/v1/tokens', { name: 'contractor', role: 'staff' })).status).toBe(409);
    expect((await staff.delete('/admin/v1/tokens/contractor')).status).toBe(200);

    const reissue = await staff.post('/admin/v1/tokens', { name: 'contractor', role: 'staff' });
    expect(reissue.status, reissue.text).toBe(201);
    const named = (await staff.get('/admin/v1/tokens')).json.tokens.filter((t: { name: string }) => t.name === 'contractor');
    expect(named).toEqual([expect.objectContaining({ id: issued.json.id, revokedAt: expect.any(String) }), expect.objectContaining({ id: reissue.json.id })]);
    expect(named[1].revokedAt ?? null).toBeNull();
    const audit = await staff.get('/admin/v1/audit?actor=contractor');
    expect(audit.json.entries.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['mirror.drain', 'mirror.undrain']));
  });

  it('through the command line too: exit 1 and the reason', async () => {
    const run = await spawnCli(['tokens', 'issue', 'contractor', '--role', 'staff'], { env: { MIRRORGATE_URL: net.url, MIRRORGATE_TOKEN: STAFF_TOKEN } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('"contractor"');
    expect(run.stdout).toBe('');
  });
});
