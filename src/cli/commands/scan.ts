// `mirrorgate scan [id]` and `mirrorgate probe [id]`: check what mirrors really hold and whether they answer, one mirror or all.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { mirrorView, probeAnswer, scanStreamLine, type ProbeAnswer, type ScanReport } from '../../http/schemas/admin.js';
import type { AdminClient } from '../client.js';
import { CliError, EXIT, type CliContext, type CliOutput } from '../context.js';
import { clean, countOf, formatCount, formatMillis, formatLag, formatPercent, formatTime, table } from '../format.js';
import { listMirrors } from './mirrors.js';
import { printJson, remote, seg, withClient, type RemoteOptions } from './remote.js';

/** How one scan ended: the last line of its stream. */
export type ScanOutcome = { mirror: string; report: ScanReport } | { mirror: string; error: string };

/** A probe that did not reach its mirror (older servers say so only in the record). */
export function probeFailed(o: ProbeAnswer): boolean {
  return o.ok === false || (o.ok === undefined && (o.health === null || o.health.consecutiveFailures > 0));
}

/** Probes wait on mirrors (up to the server's health timeout each), so a few run at once. */
const PROBE_CONCURRENCY = 4;

export function addScanCommands(program: Command, ctx: CliContext): void {
  remote(
    program
      .command('scan')
      .description('list a mirror over rsync and compare it with the origin; without an id, every mirror that has an rsync URL, one after another')
      .argument('[id]', 'mirror id'),
    'none',
  ).action((id: string | undefined, opts: RemoteOptions) =>
    withClient(
      ctx,
      opts,
      async (client) => {
        const terminal = opts.json ? undefined : ctx.io.progress?.();
        let targets: { id: string; estimate?: number }[];
        if (id !== undefined) {
          // The mirror's carried file count is the best guess at the listing's length, for the bar.
          const view = terminal ? await client.get(`admin/v1/mirrors/${seg(id)}`, mirrorView, {}, { subject: `mirror "${id}"` }) : undefined;
          targets = [{ id, estimate: view?.summary?.files }];
        } else {
          targets = (await listMirrors(client)).filter((m) => m.spec.rsyncUrl).map((m) => ({ id: m.spec.id, estimate: m.summary?.files }));
          if (targets.length === 0) {
            if (opts.json) printJson(ctx, []);
            else ctx.io.err('no mirror has an rsync URL to scan\n');
            return;
          }
        }
        const outcomes: ScanOutcome[] = [];
        for (const target of targets) {
          const started = Date.now();
          const outcome = await scanOne(client, target.id, terminal, target.estimate);
          outcomes.push(outcome);
          if (opts.json) continue;
          if ('report' in outcome) ctx.io.out(`${scanLine(outcome.mirror, outcome.report)} in ${formatMillis(Date.now() - started)}\n`);
          else ctx.io.err(`scan of ${outcome.mirror} failed: ${clean(outcome.error)}\n`);
        }
        const failed = outcomes.filter((o) => 'error' in o).length;
        if (opts.json) printJson(ctx, id !== undefined ? outcomes[0] : outcomes);
        else if (targets.length > 1) ctx.io.out(`scanned ${targets.length - failed} of ${targets.length} mirrors${failed ? `, ${failed} failed` : ''}\n`);
        if (failed) ctx.exitCode = EXIT.failed;
      },
      null,
    ),
  );

  remote(
    program
      .command('probe')
      .description('probe a mirror now (trace file, sample files) and show its health; without an id, every mirror')
      .argument('[id]', 'mirror id'),
  ).action((id: string | undefined, opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const ids = id !== undefined ? [id] : (await listMirrors(client)).map((m) => m.spec.id);
      const outcomes = await inPool(ids, PROBE_CONCURRENCY, (mirror) =>
        client.post(`admin/v1/mirrors/${seg(mirror)}/probe`, undefined, probeAnswer, { subject: `mirror "${mirror}"` }),
      );
      // Scripts can rely on it: a mirror that did not answer this probe fails the command.
      const failed = outcomes.filter(probeFailed);
      if (failed.length) ctx.exitCode = EXIT.failed;
      if (opts.json) return printJson(ctx, id !== undefined ? outcomes[0] : outcomes);
      if (outcomes.length === 0) return ctx.io.out('no mirrors\n');
      ctx.io.out(probeTable(outcomes));
      if (failed.length) ctx.io.err(`${countOf(failed.length, 'mirror', 'mirrors')} did not answer: ${failed.map((o) => o.mirror).join(', ')}\n`);
    }),
  );
}

/** Streams one scan, drawing a bar on a terminal; a failed scan is an outcome, a failed request throws. */
async function scanOne(client: AdminClient, id: string, terminal: CliOutput | undefined, estimate: number | undefined): Promise<ScanOutcome> {
  const bar = terminal ? progressBar(terminal, id, estimate) : undefined;
  let outcome: ScanOutcome | undefined;
  try {
    await client.stream(
      `admin/v1/mirrors/${seg(id)}/scan`,
      undefined,
      scanStreamLine,
      (line) => {
        if ('entries' in line) bar?.advance(line.entries);
        else if ('report' in line) outcome = { mirror: id, report: line.report };
        else outcome = { mirror: id, error: line.error };
      },
      { subject: `mirror "${id}"` },
    );
  } finally {
    bar?.stop();
  }
  if (!outcome) throw new CliError(`the scan of ${id} ended without a report (the server may have restarted)`, EXIT.failed);
  return outcome;
}

interface Bar {
  advance(entries: number): void;
  stop(): void;
}

function progressBar(terminal: CliOutput, id: string, estimate: number | undefined): Bar {
  const guessed = estimate !== undefined && estimate > 0;
  const bar = new cliProgress.SingleBar(
    {
      // cli-progress writes to the stream and reads its isTTY and columns, nothing else.
      stream: terminal as NodeJS.WritableStream,
      format: guessed ? `scan ${id} [{bar}] {value}/~{total} entries | {duration_formatted}` : `scan ${id}: {value} entries listed | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let total = guessed ? estimate : 0;
  bar.start(total, 0);
  return {
    advance(entries) {
      // The estimate is the files it carried before: a mirror that caught up lists more.
      if (guessed && entries > total) bar.setTotal((total = entries));
      bar.update(entries);
    },
    stop: () => bar.stop(),
  };
}

/** `scan acme-de: 98.5% complete: 1,200 of 1,218 expected files current, 10 missing, 8 stale; 1,500 entries listed (3 not in the origin)` */
export function scanLine(mirror: string, r: ScanReport): string {
  const extra = [r.foreign ? `${formatCount(r.foreign)} not in the origin` : '', r.unparsed ? `${formatCount(r.unparsed)} unreadable` : '']
    .filter(Boolean)
    .join(', ');
  return (
    `scan ${mirror}: ${formatPercent(r.completion)} complete: ${formatCount(r.current)} of ${countOf(r.expected, 'expected file', 'expected files')} current, ` +
    `${formatCount(r.missing)} missing, ${formatCount(r.stale)} stale; ${countOf(r.entries, 'entry', 'entries')} listed${extra ? ` (${extra})` : ''}`
  );
}

export function probeTable(outcomes: readonly ProbeAnswer[]): string {
  return table(outcomes, [
    { header: 'MIRROR', value: (o) => o.mirror },
    { header: 'PROBE', value: (o) => (probeFailed(o) ? 'FAILED' : 'ok') },
    { header: 'HEALTH', value: (o) => o.health?.health ?? 'not probed' },
    { header: 'LATENCY', value: (o) => (o.health?.latencyMs !== undefined ? `${Math.round(o.health.latencyMs)} ms` : null), align: 'right' },
    { header: 'LAST SYNC', value: (o) => (o.health?.lastSync !== undefined ? formatTime(o.health.lastSync * 1000) : null) },
    { header: 'LAG', value: (o) => formatLag(o.health?.lagSeconds), align: 'right' },
    { header: 'MISSING', value: (o) => o.health?.missing?.length ?? 0, align: 'right' },
    { header: 'REASON', value: (o) => o.health?.reason },
  ]);
}

/** Runs `fn` over `items` with at most `limit` at once; results in the order of `items`; the first failure rejects. */
async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
