// Lifecycle: SIGTERM lets in-flight requests finish and flushes stats and audit before exit; a
// client that never finishes cannot hold shutdown hostage; a corrupt state file at startup is
// reported and set aside (kept, not overwritten) and the server starts anyway.
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/node.js';
import { encodePath, FILES, serveConfig, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { sleep } from '../support/wait.js';
import { openSlow, startChildServer, type ChildServer } from './support.js';

let net: MirrorNetwork;
const children: ChildServer[] = [];
let restarted: RunningServer | undefined;

beforeAll(async () => {
  net = await startNetwork();
});

afterAll(async () => {
  for (const c of children) c.kill();
  await restarted?.close().catch(() => {});
  await net?.close();
});

const GARBAGE = Buffer.from('{"version":1,"overrides":{"de-berlin":{"patch":{"weight":7}}  \u0000\u00ff garbage, not JSON', 'latin1');

async function download(base: string, i: number, file: string) {
  const res = await fetch(`${base}/download/${encodePath(file)}`, {
    headers: { Accept: '*/*', 'X-Forwarded-For': `198.51.100.${i + 1}` },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return res.status;
}

describe('SIGTERM on a child-process server', () => {
  it('reports and sets aside a corrupt overrides.json, serves, finishes an in-flight request after SIGTERM, flushes stats and audit, exits 0', async () => {
    const { file: configPath, port, dataDir } = await net.writeConfig();
    await mkdir(path.join(dataDir, 'state'), { recursive: true });
    await writeFile(path.join(dataDir, 'state', 'overrides.json'), GARBAGE);

    const child = await startChildServer({ configPath, port, env: { MIRRORGATE_SHUTDOWN_GRACE_MS: '8000' } });
    children.push(child);

    // Reported (an error line naming the file) and set aside with its bytes intact; the server runs.
    const report = child.logLines().find((l) => l.msg === 'corrupt store file set aside; starting without its contents');
    expect(report, child.output()).toBeDefined();
    expect(String(report!.file)).toContain('overrides.json');
    expect(report!.level).toBeGreaterThanOrEqual(50);
    const stateFiles = await readdir(path.join(dataDir, 'state'));
    const aside = stateFiles.filter((f) => f.startsWith('overrides.json.corrupt-'));
    expect(aside, stateFiles.join(', ')).toHaveLength(1);
    expect(await readFile(path.join(dataDir, 'state', aside[0]!))).toEqual(GARBAGE);
    expect((await fetch(`${child.url}/healthz`)).status).toBe(200);

    // Downloads counted just before the signal: the 5 s stats flush has not run yet.
    const files = [FILES.readme, FILES.tarball, FILES.iso, FILES.unicode];
    let counted = 0;
    for (let i = 0; i < 12; i++) {
      expect(await download(child.url, i, files[i % files.length]!)).toBe(302);
      counted++;
    }
    const patch = await fetch(`${child.url}/admin/v1/mirrors/fr-paris`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ weight: 42 }),
    });
    expect(patch.status, await patch.text()).toBe(200);

    // A request half sent when SIGTERM arrives: headers and half of its body.
    const body = JSON.stringify({ over: '10m' });
    const slow = await openSlow(port);
    await slow.write(
      `POST /admin/v1/mirrors/de-berlin/drain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${STAFF_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await sleep(100);
    const signalledAt = performance.now();
    child.proc.kill('SIGTERM');
    await sleep(400);
    expect(child.exited(), 'exited while a request was still in flight').toBe(false);
    // No new connections once shutting down.
    await expect(fetch(`${child.url}/healthz`)).rejects.toThrow();

    await slow.write(body.slice(5));
    const answer = await slow.firstResponse;
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body.slice(answer.body.indexOf('{'))).drain).toMatchObject({ overMs: 600_000 });

    const exit = await Promise.race([child.exit, sleep(15_000).then(() => undefined)]);
    expect(exit, child.output()).toEqual({ code: 0, signal: null });
    // Not held for the whole grace period: it left once the last request was answered.
    expect(performance.now() - signalledAt).toBeLessThan(7_000);
    expect(child.logLines().some((l) => l.msg === 'shut down cleanly')).toBe(true);

    // Same dataDir, new process: the stats and the audit entries made before and during shutdown are there.
    restarted = await serveConfig(configPath);
    const auth = { Authorization: `Bearer ${STAFF_TOKEN}`, Accept: 'application/json' };
    const stats = (await (await fetch(`${restarted.url}/admin/v1/stats`, { headers: auth })).json()) as { totals: { downloads: number } };
    expect(stats.totals.downloads).toBe(counted);
    const audit = (await (await fetch(`${restarted.url}/admin/v1/audit`, { headers: auth })).json()) as { entries: { action: string; target: string }[] };
    expect(audit.entries.map((e) => `${e.action} ${e.target}`)).toEqual(
      expect.arrayContaining(['mirror.update mirror:fr-paris', 'mirror.drain mirror:de-berlin']),
    );
    // The overrides written since are a fresh, valid file; the corrupt one is still set aside.
    const overrides = JSON.parse(await readFile(path.join(dataDir, 'state', 'overrides.json'), 'utf8'));
    expect(Object.keys(overrides.overrides).sort()).toEqual(['de-berlin', 'fr-paris']);
    expect((await readdir(path.join(dataDir, 'state'))).filter((f) => f.startsWith('overrides.json.corrupt-'))).toHaveLength(1);
    await restarted.close();
    restarted = undefined;
  }, 60_000);

  it('crash (SIGKILL) right after an accepted change: the change and its audit entry survive; a torn temp file is swept', async () => {
    const { file: configPath, port, dataDir } = await net.writeConfig();
    const stateDir = path.join(dataDir, 'state');
    await mkdir(stateDir, { recursive: true });
    // What a crash between write and rename leaves behind: never the only copy of anything.
    await writeFile(path.join(stateDir, 'overrides.json.tmp-0badc0ffee00'), '{"version":1,"overr');

    // The plug is pulled the moment the 200 arrives (in the socket's data handler); a run where the
    // debounced write still won the race proves nothing, so up to three runs look for a lost change.
    const lost: number[] = [];
    for (let attempt = 0; attempt < 3 && lost.length === 0; attempt++) {
      const weight = 61 + attempt;
      // Torn temp files left by the crash before are swept at start. (A file the new server is itself
      // writing at this moment, write-then-rename, may exist for a millisecond: only the old ones count.)
      const torn = (await readdir(stateDir)).filter((f) => f.includes('.tmp-'));
      const child = await startChildServer({ configPath, port });
      children.push(child);
      expect((await readdir(stateDir)).filter((f) => torn.includes(f))).toEqual([]);
      const body = JSON.stringify({ weight });
      const status = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () =>
          socket.write(
            `PATCH /admin/v1/mirrors/fr-paris HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${STAFF_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          ),
        );
        socket.once('data', (chunk: Buffer) => {
          child.proc.kill('SIGKILL');
          socket.destroy();
          resolve(chunk.toString('latin1').split('\r\n')[0]!);
        });
        socket.once('error', reject);
      });
      expect(status).toBe('HTTP/1.1 200 OK');
      await child.exit;

      // The audit entry was fsync'd before the answer: it is always there.
      const audit = (await readFile(path.join(stateDir, 'audit.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; target: string; after?: { weight?: number } });
      expect(audit.some((e) => e.action === 'mirror.update' && e.target === 'mirror:fr-paris' && e.after?.weight === weight)).toBe(true);
      const overrides = JSON.parse(await readFile(path.join(stateDir, 'overrides.json'), 'utf8').catch(() => '{"overrides":{}}')) as {
        overrides: Record<string, { patch?: { weight?: number } }>;
      };
      if (overrides.overrides['fr-paris']?.patch?.weight !== weight) lost.push(weight);
    }
    // Every change answered 200 is on disk before the answer, like its audit entry.
    expect(lost, 'accepted weights missing from overrides.json after the crash').toEqual([]);
  }, 60_000);

  it('a client that never finishes its request cannot hold shutdown past the grace period', async () => {
    const { file: configPath, port } = await net.writeConfig();
    const child = await startChildServer({
      configPath,
      port,
      env: { MIRRORGATE_SHUTDOWN_GRACE_MS: '1000', MIRRORGATE_HEADERS_TIMEOUT_MS: '60000', MIRRORGATE_REQUEST_TIMEOUT_MS: '60000' },
    });
    children.push(child);
    expect(await download(child.url, 200, FILES.readme)).toBe(302);
    const stuck = await openSlow(port);
    await stuck.write(`POST /api/v1/offers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"org`);
    await sleep(100);
    const signalledAt = performance.now();
    child.proc.kill('SIGTERM');
    const exit = await Promise.race([child.exit, sleep(10_000).then(() => undefined)]);
    expect(exit, child.output()).toEqual({ code: 0, signal: null });
    const took = performance.now() - signalledAt;
    expect(took).toBeGreaterThan(900);
    expect(took).toBeLessThan(5_000);
    expect((await stuck.reply).closed).toBe(true);
  }, 40_000);
});
