// A mirror that publishes its inventory as an http(s) JSON-lines manifest is scanned from it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type RunningServer } from '../../src/node.js';
import { CLIENT_IPS } from '../support/clientIps.js';

const TOKEN = 'staff-token-for-manifest-scans';
const FILES = [
  { path: 'pub/a.iso', size: 100, mtime: 1_700_000_000 },
  { path: 'pub/b.iso', size: 200, mtime: 1_700_000_000 },
  { path: 'pub/c.iso', size: 300, mtime: 1_700_000_000 },
];

describe('scanning a mirror from its http(s) manifest', () => {
  let dir: string;
  let inventory: Server;
  let server: RunningServer;
  let body = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mg-manifest-scan-'));
    await writeFile(path.join(dir, 'origin.jsonl'), FILES.map((f) => JSON.stringify(f)).join('\n'));
    inventory = createServer((req, res) => {
      const gz = req.url?.endsWith('.gz');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end(gz ? gzipSync(body) : body);
    });
    await new Promise<void>((r) => inventory.listen(0, '127.0.0.1', r));
    const port = (inventory.address() as AddressInfo).port;
    await writeFile(
      path.join(dir, 'mirrorgate.yaml'),
      `publicUrl: http://127.0.0.1
allowPrivateMirrorAddresses: true
dataDir: ./var
tokens: [{ token: env:MG_TOKEN, role: staff, name: ops }]
origin: { baseUrl: "https://origin.example/", manifest: origin.jsonl }
health: { enabled: false }
mirrors:
  - { id: de-http, name: DE, baseUrl: "https://de.example/", country: DE, content: { manifest: "http://127.0.0.1:${port}/inventory.jsonl.gz" } }
  - { id: fr-rules, name: FR, baseUrl: "https://fr.example/", country: FR }
`,
    );
    server = await serve({ configPath: path.join(dir, 'mirrorgate.yaml'), port: 0, hostname: '127.0.0.1', logLevel: 'silent', env: { MG_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await server?.close();
    await new Promise((r) => inventory?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const mirrorFor = async (file: string) => {
    const res = await fetch(`${server.url}/download/${file}`, { redirect: 'manual', headers: { 'x-forwarded-for': CLIENT_IPS.DE.ip } });
    return res.headers.get('x-mirrorgate-mirror');
  };

  it('routes by what the manifest lists, with the origin size and mtime', async () => {
    // Before any scan an URL manifest is not read: the include rules stand for the inventory.
    expect(await mirrorFor('pub/c.iso')).toBe('de-http');
    body = [
      JSON.stringify(FILES[0]),
      JSON.stringify({ ...FILES[1], size: 199 }), // stale
      'not json',
    ].join('\n');
    const res = await fetch(`${server.url}/admin/v1/mirrors/de-http/scan`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const { report } = (await res.json()) as { report: Record<string, number> };
    expect(report).toMatchObject({ expected: 3, current: 1, missing: 1, stale: 1 });
    expect(await mirrorFor('pub/a.iso')).toBe('de-http');
    expect(await mirrorFor('pub/b.iso')).toBe('fr-rules');
    expect(await mirrorFor('pub/c.iso')).toBe('fr-rules');
  });
});

describe('scanning a mirror from the local manifest its config names', () => {
  let dir: string;
  let server: RunningServer;
  const manifest = () => path.join(dir, 'de-local.jsonl');
  const start = async () =>
    serve({ configPath: path.join(dir, 'mirrorgate.yaml'), port: 0, hostname: '127.0.0.1', logLevel: 'silent', env: { MG_TOKEN: TOKEN } });
  const mirrorFor = async (file: string) => {
    const res = await fetch(`${server.url}/download/${file}`, { redirect: 'manual', headers: { 'x-forwarded-for': CLIENT_IPS.DE.ip } });
    return res.headers.get('x-mirrorgate-mirror');
  };
  const scan = () => fetch(`${server.url}/admin/v1/mirrors/de-local/scan`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mg-local-manifest-'));
    await writeFile(path.join(dir, 'origin.jsonl'), FILES.map((f) => JSON.stringify(f)).join('\n'));
    await writeFile(manifest(), JSON.stringify(FILES[0]));
    await writeFile(
      path.join(dir, 'mirrorgate.yaml'),
      `publicUrl: http://127.0.0.1
dataDir: ./var
tokens: [{ token: env:MG_TOKEN, role: staff, name: ops }]
origin: { baseUrl: "https://origin.example/", manifest: origin.jsonl }
health: { enabled: false }
mirrors:
  - { id: de-local, name: DE, baseUrl: "https://de.example/", country: DE, content: { manifest: de-local.jsonl } }
  - { id: fr-rules, name: FR, baseUrl: "https://fr.example/", country: FR }
`,
    );
    server = await start();
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the file again on a scan, so what its provider adds is taken up without a restart', async () => {
    expect(await mirrorFor('pub/a.iso')).toBe('de-local');
    expect(await mirrorFor('pub/b.iso')).toBe('fr-rules');
    // The provider's sync brought b.iso; the manifest file is rewritten in place.
    await writeFile(manifest(), [FILES[0], FILES[1]].map((f) => JSON.stringify(f)).join('\n'));
    const res = await scan();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { report: Record<string, number> };
    expect(body.report).toMatchObject({ expected: 3, current: 2, missing: 1 });
    expect(await mirrorFor('pub/b.iso')).toBe('de-local');
    expect(await mirrorFor('pub/c.iso')).toBe('fr-rules');
  });

  it('a restart reads the file as it is then, not an older stored scan of it', async () => {
    await server.close();
    await writeFile(manifest(), FILES.map((f) => JSON.stringify(f)).join('\n'));
    server = await start();
    expect(await mirrorFor('pub/c.iso')).toBe('de-local');
  });

  it('a file that cannot be read fails the scan and keeps the inventory', async () => {
    await rm(manifest());
    const res = await scan();
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/no such file/);
    expect(await mirrorFor('pub/c.iso')).toBe('de-local');
  });
});
