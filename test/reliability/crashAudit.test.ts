// kill -9 under staff load, round after round: what is on disk is always ⊆ the audit log (every stored
// staff state was audited first), and after the restart the state is exactly what the log says.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameJson } from '../../src/control/reconcile.js';
import type { AuditEntry, MirrorOverride } from '../../src/core/records.js';
import { STAFF_TOKEN, startNetwork, type MirrorNetwork } from '../support/network.js';
import { sleep } from '../support/wait.js';
import { startChildServer, type ChildServer } from './support.js';

const ROUNDS = 6;
const WORKERS = 4;
const MIRRORS = ['de-berlin', 'fr-paris', 'nl-ams', 'us-east'];

let net: MirrorNetwork;
const children: ChildServer[] = [];
beforeAll(async () => {
  net = await startNetwork();
});
afterAll(async () => {
  for (const c of children) c.kill();
  await net?.close();
});

interface OnDisk {
  overrides: Record<string, MirrorOverride>;
  audit: AuditEntry[];
}

async function readState(dataDir: string): Promise<OnDisk> {
  const state = path.join(dataDir, 'state');
  let overrides: Record<string, MirrorOverride> = {};
  try {
    overrides = (JSON.parse(await readFile(path.join(state, 'overrides.json'), 'utf8')) as { overrides: Record<string, MirrorOverride> }).overrides;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let text = '';
  try {
    text = await readFile(path.join(state, 'audit.jsonl'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text.split('\n');
  lines.pop(); // empty, or an append the kill tore
  return { overrides, audit: lines.filter((l) => l !== '').map((l) => JSON.parse(l) as AuditEntry) };
}

/** The states the log applied to each mirror, oldest first. */
function audited(audit: AuditEntry[]): Map<string, (MirrorOverride | null)[]> {
  const out = new Map<string, (MirrorOverride | null)[]>();
  for (const e of audit) {
    if (!e.target.startsWith('mirror:') || !e.applies || !('override' in e.applies)) continue;
    const id = e.target.slice('mirror:'.length);
    out.set(id, [...(out.get(id) ?? []), e.applies.override]);
  }
  return out;
}

/** Staff clicking away: weights, drains, undrains and country-only toggles on four mirrors, several at once. */
function staffLoad(url: string): { stop(): Promise<number> } {
  let running = true;
  let answered = 0;
  let n = 0;
  const worker = async (w: number) => {
    while (running) {
      const i = n++;
      const mirror = MIRRORS[(i * 7 + w) % MIRRORS.length]!;
      const op = i % 4;
      const [method, target, body] =
        op === 0
          ? ['PATCH', `/admin/v1/mirrors/${mirror}`, { weight: 1 + ((i * 37) % 500) }]
          : op === 1
            ? ['POST', `/admin/v1/mirrors/${mirror}/drain`, { over: `${1 + (i % 9)}m` }]
            : op === 2
              ? ['POST', `/admin/v1/mirrors/${mirror}/undrain`, undefined]
              : ['PATCH', `/admin/v1/mirrors/${mirror}`, { countryOnly: i % 8 < 4 }];
      try {
        const r = await fetch(`${url}${target}`, {
          method,
          headers: { Authorization: `Bearer ${STAFF_TOKEN}`, 'Content-Type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        await r.arrayBuffer();
        if (r.ok) answered++;
      } catch {
        return; // killed under us
      }
    }
  };
  const all = Array.from({ length: WORKERS }, (_, w) => worker(w));
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
      return answered;
    },
  };
}

describe('kill -9 under staff load', () => {
  it(`keeps state ⊆ audit on disk after every kill, and state = audit after every restart (${ROUNDS} rounds)`, async () => {
    const { file: configPath, port, dataDir } = await net.writeConfig();
    let child = await startChildServer({ configPath, port });
    children.push(child);
    let rolledForward = 0;
    let total = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const load = staffLoad(child.url);
      // Long enough for dozens of changes; the kill lands anywhere in one of them.
      await sleep(400 + ((round * 337) % 900));
      child.proc.kill('SIGKILL');
      await child.exit;
      total += await load.stop();

      // On disk, right after the kill: every stored state is one the log applied.
      const killed = await readState(dataDir);
      const applied = audited(killed.audit);
      for (const [mirror, stored] of Object.entries(killed.overrides)) {
        const states = applied.get(mirror) ?? [];
        expect(
          states.some((s) => sameJson(s, stored)),
          `round ${round}: ${mirror} holds a state no audit entry applied`,
        ).toBe(true);
      }

      // Restarted: the newest audited state of each mirror is the state, written or rolled forward.
      child = await startChildServer({ configPath, port });
      children.push(child);
      const after = await readState(dataDir);
      for (const [mirror, states] of audited(after.audit)) {
        const newest = states.at(-1)!;
        const stored = after.overrides[mirror] ?? null;
        expect(sameJson(stored, newest), `round ${round}: ${mirror} after restart`).toBe(true);
        if (!sameJson(killed.overrides[mirror] ?? null, newest)) rolledForward++;
      }
      // And the server says the same as the files: the API reads what was reconciled.
      const view = (await (await fetch(`${child.url}/admin/v1/mirrors`, { headers: { Authorization: `Bearer ${STAFF_TOKEN}` } })).json()) as {
        mirrors: { spec: { id: string; weight: number; countryOnly: boolean }; drain: unknown }[];
      };
      for (const m of view.mirrors) {
        const o = after.overrides[m.spec.id];
        if (!o) continue;
        if (o.patch.weight !== undefined) expect(m.spec.weight).toBe(o.patch.weight);
        if (o.patch.countryOnly !== undefined) expect(m.spec.countryOnly).toBe(o.patch.countryOnly);
        expect(m.drain ?? null).toEqual(o.drain ?? null);
      }
    }
    child.kill();
    const final = await readState(dataDir);
    expect(final.audit.length).toBeGreaterThan(ROUNDS * 5);
    expect(total).toBeGreaterThan(ROUNDS * 5);
    // How often a kill fell between an entry and its write (informative: it depends on timing).
    console.info(`[crashAudit] ${ROUNDS} kills, ${total} changes answered, ${final.audit.length} audit entries, ${rolledForward} rolled forward at restart`);
  }, 180_000);
});
