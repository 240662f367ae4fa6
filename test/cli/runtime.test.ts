// Running the network from the command line, in process through run() against a real server on loopback: tokens
// (issue, list, revoke), logos (`mirrors logo`), sponsor edits that keep the logo, `offers accept --issue-token`,
// a mirror added with a dead URL shown honestly as pending, and the audit log read by short action names with
// before → after.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliRun } from './cliRun.js';
import { freePort, STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { client, submitOffer } from '../support/requests.js';

let net: MirrorNetwork;
const transcript: string[] = [];

/** `mirrorgate <args>` in this process, in the network's folder (logo files), with `token`. */
async function cli(args: string[], token = STAFF_TOKEN): Promise<CliRun> {
  const run = await runCli(args, { cwd: net.dir, env: { MIRRORGATE_URL: net.url, MIRRORGATE_TOKEN: token } });
  transcript.push(run.stdout, run.stderr);
  return run;
}

beforeAll(async () => {
  net = await startNetwork();
  await writeFile(
    path.join(net.dir, 'logo.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80"><text x="4" y="40">Spree</text><script>alert(1)</script></svg>',
  );
  await writeFile(path.join(net.dir, 'fake.png'), 'this is not a PNG');
  await writeFile(path.join(net.dir, 'logo.gif'), 'GIF89a');
});

afterAll(async () => {
  await net?.close();
});

describe('mirrorgate tokens', () => {
  it('issue prints the token alone on stdout, once; list shows it; revoke stops it on the spot', async () => {
    const issued = await cli(['tokens', 'issue', 'berlin-noc', '--role', 'provider', '--mirror', 'de-berlin']);
    expect(issued.code).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(/^mgt_[\w-]{43}$/);
    expect(issued.stderr).toMatch(/^issued provider token "berlin-noc" \(id [0-9a-f]{12}, mirrors de-berlin\)\.\nIt is shown this once/);
    const provider = client(net.url, token);
    expect((await provider.get('/admin/v1/mirrors')).status).toBe(200);

    const list = await cli(['tokens', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+ROLE\s+MIRRORS\s+STATE\s+ISSUED$/);
    expect(list.stdout).toMatch(/^\(config\)\s+ops\s+staff\s+-\s+active\s+config file$/m);
    expect(list.stdout).toMatch(/^[0-9a-f]{12}\s+berlin-noc\s+provider\s+de-berlin\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d by ops$/m);
    expect(list.stdout).not.toContain(token);

    const revoked = await cli(['tokens', 'revoke', 'berlin-noc']);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^revoked token "berlin-noc" \(id [0-9a-f]{12}\)\n$/) });
    expect((await provider.get('/admin/v1/mirrors')).status).toBe(401);
    expect((await cli(['tokens', 'list'])).stdout).toMatch(/^[0-9a-f]{12}\s+berlin-noc\s+provider\s+de-berlin\s+revoked .+ by ops/m);
    expect(transcript.slice(2).join('')).not.toContain(token);
  });

  it('exit codes: usage 2, refused 1, unknown 6, provider 5', async () => {
    expect((await cli(['tokens', 'issue', 'x', '--role', 'provider'])).code).toBe(2);
    expect((await cli(['tokens', 'issue', 'x', '--role', 'root'])).code).toBe(2);
    const dup = await cli(['tokens', 'issue', 'ops', '--role', 'staff']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    expect((await cli(['tokens', 'revoke', 'ops'])).stderr).toContain('comes from the config file');
    expect((await cli(['tokens', 'revoke', 'nobody'])).code).toBe(6);
    const staffToken = (await cli(['tokens', 'issue', 'cli-staff', '--role', 'staff'])).stdout.trim();
    expect((await cli(['mirrors', 'list'], staffToken)).code).toBe(0);
    const provider = (await cli(['tokens', 'issue', 'cli-provider', '--role', 'provider', '--mirror', 'fr-paris'])).stdout.trim();
    expect((await cli(['tokens', 'list'], provider)).code).toBe(5);
  });
});

describe('logos and sponsors', () => {
  it('mirrors logo uploads a sanitised SVG; a sponsor edit keeps logo and link', async () => {
    const run = await cli(['mirrors', 'logo', 'de-berlin', 'logo.svg']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^de-berlin: logo set \([\d,]+ bytes, image\/svg\+xml\); sponsor Spree Hosting GmbH\n$/);
    const svg = await (await fetch(`${net.url}/logos/de-berlin`)).text();
    expect(svg).toContain('Spree</text>');
    expect(svg).not.toContain('script');

    // The bug of old: editing the sponsor's name dropped its logo and link.
    expect((await cli(['mirrors', 'edit', 'de-berlin', '--sponsor-name', 'Spree Hosting AG'])).code).toBe(0);
    const spec = (await client(net.url, STAFF_TOKEN).get('/admin/v1/mirrors/de-berlin')).json.spec;
    expect(spec.sponsor).toEqual({ name: 'Spree Hosting AG', url: 'https://spree.example/', logo: expect.stringMatching(/^uploaded:/) });
    expect((await cli(['mirrors', 'edit', 'de-berlin', '--sponsor-url', 'https://spree.example/new'])).code).toBe(0);
    expect((await client(net.url, STAFF_TOKEN).get('/admin/v1/mirrors/de-berlin')).json.spec.sponsor).toMatchObject({
      name: 'Spree Hosting AG',
      url: 'https://spree.example/new',
      logo: spec.sponsor.logo,
    });
  });

  it('refuses what is not a clean SVG, PNG or WebP, saying why', async () => {
    const gif = await cli(['mirrors', 'logo', 'de-berlin', 'logo.gif']);
    expect(gif.code).toBe(2);
    expect(gif.stderr).toContain('a logo must be an .svg, .png or .webp file');
    const fake = await cli(['mirrors', 'logo', 'de-berlin', 'fake.png']);
    expect(fake.code).toBe(1);
    expect(fake.stderr).toContain('content is not image/png');
    expect((await cli(['mirrors', 'logo', 'de-berlin', 'missing.svg'])).code).toBe(2);
    expect((await cli(['mirrors', 'logo', 'no-such', 'logo.svg'])).code).toBe(6);
  });
});

describe('mirrors added by hand, offers and the audit log', () => {
  it('a mirror added with a dead URL is pending, and says why', async () => {
    const dead = await freePort();
    const added = await cli(['mirrors', 'add', 'is-dead', '--name', 'Dead Reykjavik', '--base-url', `http://127.0.0.1:${dead}/`, '--country', 'IS']);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^status\s+pending\b/m);
    expect(added.stdout).toMatch(/^lifecycle\s+pending$/m);
    await vi.waitFor(
      async () => expect((await cli(['mirrors', 'list'])).stdout).toMatch(/^is-dead\s+pending\s+IS\b.*connection refused, 1 failed probe in a row$/m),
      { timeout: 10_000, interval: 500 },
    );
    const probe = await cli(['probe', 'is-dead']);
    expect(probe.code).toBe(1);
    expect(probe.stderr).toBe('1 mirror did not answer: is-dead\n');
  });

  it('offers accept --issue-token prints the provider token once', async () => {
    const offer = { organisation: 'Porto Bytes', location: { country: 'PT' }, bandwidthMbps: 500, baseUrl: 'https://porto.example/pub/' };
    const { id } = (await submitOffer(net.url, offer, '198.51.100.90')).json as { id: string };
    const run = await cli(['offers', 'accept', id.slice(0, 8), '--issue-token']);
    expect(run.code).toBe(0);
    const token = /^(mgt_[\w-]{43})$/m.exec(run.stdout)?.[1];
    expect(run.stdout).toContain('provider token for porto-bytes-pt (shown this once');
    expect(token).toBeDefined();
    const mine = await client(net.url, token!).get('/admin/v1/mirrors');
    expect(mine.json.mirrors.map((m: { spec: { id: string; sponsor: { name: string } } }) => [m.spec.id, m.spec.sponsor.name])).toEqual([
      ['porto-bytes-pt', 'Porto Bytes'],
    ]);
  });

  it('audit takes short action names, lists the valid ones on a typo, and shows before → after', async () => {
    expect((await cli(['mirrors', 'weight', 'fr-paris', '40'])).code).toBe(0);
    expect((await cli(['mirrors', 'weight', 'fr-paris', '40'])).code).toBe(0); // no change: not audited
    const run = await cli(['audit', '--action', 'update', '--target', 'fr-paris']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/ops\s+mirror\.update\s+mirror:fr-paris\s+weight: 100 → 40$/);
    const typo = await cli(['audit', '--action', 'drian']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown action "drian"; valid: mirror.add, mirror.update');
    expect(typo.stderr).toContain('drain');
    const tokens = await cli(['audit', '--action', 'issue']);
    expect(tokens.stdout).toMatch(/token\.issue\s+token:[0-9a-f]{12}\s+name=cli-provider/);
  });
});
