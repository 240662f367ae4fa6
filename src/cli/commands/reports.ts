// `mirrorgate stats` and `mirrorgate audit`: downloads, bytes and logo impressions per mirror, country and day; who changed what, when.
import { type Command, InvalidArgumentError } from 'commander';
import { AUDIT_ACTIONS } from '../../core/auditActions.js';
import { auditAnswer, statsAnswer, type AuditEntryView, type StatsAnswer } from '../../http/schemas/admin.js';
import type { CliContext } from '../context.js';
import { clean, formatBytes, formatCount, formatTime, summarize, table } from '../format.js';
import { collect, printJson, remote, withClient, type RemoteOptions } from './remote.js';
import { parseMoment } from '../../core/moment.js';

const DAY_MS = 86_400_000;
/** Rows of the country and file tables a person reads; --json has them all. */
const TOP = 10;
const DEFAULT_AUDIT_LIMIT = 50;

export function addReportCommands(program: Command, ctx: CliContext): void {
  remote(
    program
      .command('stats')
      .description('downloads, bytes sent on and logo impressions, by mirror, country and day (a provider token: its own mirrors)')
      .option('--mirror <id>', 'only this mirror (repeat, or comma-separated)', collect)
      .option('--from <day>', 'first day, YYYY-MM-DD or e.g. 7d for a week ago (default: 30 days ago)', parseDay)
      .option('--to <day>', 'last day, YYYY-MM-DD or e.g. 1d (default: today)', parseDay),
  ).action((opts: RemoteOptions & { mirror?: string[]; from?: string; to?: string }) =>
    withClient(ctx, opts, async (client) => {
      const stats = await client.get(
        'admin/v1/stats',
        statsAnswer,
        { mirror: opts.mirror?.join(','), from: opts.from, to: opts.to },
        { flags: { mirror: '--mirror', from: '--from', to: '--to' } },
      );
      if (opts.json) return printJson(ctx, stats);
      ctx.io.out(describeStats(stats));
    }),
  );

  remote(
    program
      .command('audit')
      .description('the audit log, newest first: who changed what, when (staff; a provider token: its own mirrors)')
      .option('--actor <name>', "only changes by this token's name")
      .option('--target <target>', 'only changes to this target: mirror:<id>, offer:<id>, or a bare mirror id')
      .option('--action <action>', `only this action: ${AUDIT_ACTIONS.join(', ')}, or the part after the dot (drain, accept, …)`, parseAction)
      .option('--since <when>', 'from this time: ISO date/time, or e.g. 1h, 7d for that long ago', parseWhen)
      .option('--until <when>', 'up to this time, same forms', parseWhen)
      .option('--limit <n>', `at most this many entries (default ${DEFAULT_AUDIT_LIMIT})`, parseLimit),
  ).action((opts: RemoteOptions & { actor?: string; target?: string; action?: string; since?: number; until?: number; limit?: number }) =>
    withClient(ctx, opts, async (client) => {
      const target = opts.target === undefined || opts.target.includes(':') ? opts.target : `mirror:${opts.target}`;
      const body = await client.get(
        'admin/v1/audit',
        auditAnswer,
        { actor: opts.actor, target, action: opts.action, since: opts.since, until: opts.until, limit: opts.limit ?? DEFAULT_AUDIT_LIMIT },
        { flags: { actor: '--actor', target: '--target', action: '--action', since: '--since', until: '--until', limit: '--limit' } },
      );
      if (opts.json) return printJson(ctx, body);
      if (body.stale) ctx.io.err('the server cannot reach its shared store: these are the newest entries it holds itself\n');
      if (body.entries.length === 0) return ctx.io.out('no audit entries\n');
      ctx.io.out(auditTable(body.entries));
    }),
  );
}

/** A full action name, or its short name when that names exactly one; a typo lists the valid ones. */
export function parseAction(value: string): string {
  if ((AUDIT_ACTIONS as readonly string[]).includes(value)) return value;
  const short = AUDIT_ACTIONS.filter((a) => a.split('.')[1] === value);
  if (short.length === 1) return short[0]!;
  const shortNames = [...new Set(AUDIT_ACTIONS.map((a) => a.split('.')[1]!))];
  throw new InvalidArgumentError(`unknown action "${clean(value)}"; valid: ${AUDIT_ACTIONS.join(', ')} (or ${shortNames.join(', ')})`);
}

function parseDay(value: string): string {
  const ago = /^(\d+)d$/.exec(value);
  if (ago) return new Date(Date.now() - Number(ago[1]) * DAY_MS).toISOString().slice(0, 10);
  if (value === 'today') return new Date().toISOString().slice(0, 10);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value))) return value;
  throw new InvalidArgumentError('expected a day as YYYY-MM-DD, "today", or a number of days ago like 7d');
}

/** Epoch ms, as the audit API takes it (it reads the same forms itself). */
function parseWhen(value: string): number {
  const ms = parseMoment(value, Date.now());
  if (ms === undefined) throw new InvalidArgumentError('expected an ISO date or time (2026-01-31, 2026-01-31T12:00Z) or a time ago like 90m, 1h, 7d');
  return ms;
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) throw new InvalidArgumentError('expected a whole number 1-10000');
  return Number(value);
}

/** "1 download", "1,204 downloads". */
function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}

export function describeStats(s: StatsAnswer): string {
  const scope = s.mirrors ? `mirror${s.mirrors.length === 1 ? '' : 's'} ${s.mirrors.join(', ')}` : 'all mirrors';
  const parts = [
    `${s.from} to ${s.to}, ${scope}: ${plural(s.totals.downloads, 'download')}, ${formatBytes(s.totals.bytes)} sent on, ` +
      `${plural(s.totals.impressions, 'logo impression')}\n`,
  ];
  if (s.byMirror.length) {
    parts.push(
      table(
        [...s.byMirror].sort((a, b) => b.downloads - a.downloads),
        [
          { header: 'MIRROR', value: (r) => r.mirror },
          { header: 'DOWNLOADS', value: (r) => formatCount(r.downloads), align: 'right' },
          { header: 'BYTES', value: (r) => formatBytes(r.bytes), align: 'right' },
          { header: 'IMPRESSIONS', value: (r) => formatCount(r.impressions), align: 'right' },
        ],
      ),
    );
  }
  if (s.byCountry.length) {
    const rows = [...s.byCountry].sort((a, b) => b.downloads - a.downloads);
    parts.push(
      table(rows.slice(0, TOP), [
        { header: 'COUNTRY', value: (r) => r.country },
        { header: 'DOWNLOADS', value: (r) => formatCount(r.downloads), align: 'right' },
        { header: 'BYTES', value: (r) => formatBytes(r.bytes), align: 'right' },
      ]) + (rows.length > TOP ? `… and ${rows.length - TOP} more countries (--json has all)\n` : ''),
    );
  }
  if (s.byDay.length) {
    parts.push(
      table(s.byDay, [
        { header: 'DAY', value: (r) => r.day },
        { header: 'DOWNLOADS', value: (r) => formatCount(r.downloads), align: 'right' },
        { header: 'BYTES', value: (r) => formatBytes(r.bytes), align: 'right' },
        { header: 'IMPRESSIONS', value: (r) => formatCount(r.impressions), align: 'right' },
      ]),
    );
  }
  if (s.topFiles.length) {
    parts.push(
      table(s.topFiles.slice(0, TOP), [
        { header: 'TOP FILE', value: (r) => r.path },
        { header: 'DOWNLOADS', value: (r) => formatCount(r.downloads), align: 'right' },
      ]),
    );
  }
  return parts.join('\n');
}

export function auditTable(entries: readonly AuditEntryView[]): string {
  return table(entries, [
    { header: 'WHEN', value: (e) => formatTime(e.at) },
    { header: 'ACTOR', value: (e) => e.actor },
    { header: 'ACTION', value: (e) => e.action },
    { header: 'TARGET', value: (e) => e.target },
    { header: 'CHANGE', value: describeChange },
  ]);
}

/**
 * What an entry changed, as `field: before → after` for each field both sides name (a weight
 * change reads `weight: 100 → 50`); otherwise the after side, summarised.
 */
export function describeChange(e: AuditEntryView, max = 80): string {
  const before = isRecord(e.before) ? e.before : undefined;
  const after = isRecord(e.after) ? e.after : undefined;
  if (before && after) {
    const keys = Object.keys(after).filter((k) => k in before);
    if (keys.length) {
      const parts = keys.map((k) => `${k}: ${cell(before[k])} → ${cell(after[k])}`);
      const rest = Object.keys(after).filter((k) => !(k in before));
      const text = clean([...parts, ...rest.map((k) => `${k}=${cell(after[k])}`)].join(', '));
      return text.length > max ? `${text.slice(0, max - 1)}…` : text;
    }
  }
  // A delete leaves nothing after it: say so rather than print "null".
  if (e.after === null && before) return 'removed';
  return summarize(e.after, max);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
