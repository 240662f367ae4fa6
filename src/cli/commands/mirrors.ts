// `mirrorgate mirrors …`: list, show, add, edit, remove, restore, drain, undrain, weight, enable, disable, launch and logo through the staff API.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { mirrorListAnswer, mirrorView, noContent, type MirrorView } from '../../http/schemas/admin.js';
import type { AdminClient } from '../client.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import { clean, countOf, formatAgo, formatCount, formatMillis, formatLag, formatPercent, formatTime, keyValues, table } from '../format.js';
import { collect, printJson, remote, seg, withClient, type RemoteOptions } from './remote.js';

/** API field → flag, so a refused body names the flag to fix. */
export const MIRROR_FLAGS: Record<string, string> = {
  id: '<id>',
  name: '--name',
  baseUrl: '--base-url',
  rsyncUrl: '--rsync-url',
  trace: '--trace',
  country: '--country',
  lat: '--lat',
  lon: '--lon',
  asn: '--asn',
  weight: '--weight',
  bandwidthMbps: '--bandwidth',
  countryOnly: '--country-only',
  enabled: '--disabled',
  sponsor: '--sponsor-name',
  'sponsor.name': '--sponsor-name',
  'sponsor.url': '--sponsor-url',
  content: '--include',
  'content.include': '--include',
  'content.exclude': '--exclude',
  over: '--over',
};

interface MirrorFieldOptions extends RemoteOptions {
  name?: string;
  baseUrl?: string;
  /** false: --no-rsync-url (edit). */
  rsyncUrl?: string | false;
  /** false: --no-trace (edit). */
  trace?: string | false;
  country?: string;
  lat?: number;
  lon?: number;
  asn?: number[];
  weight?: number;
  bandwidth?: number;
  countryOnly?: boolean;
  include?: string[];
  exclude?: string[];
  sponsorName?: string;
  sponsorUrl?: string;
  /** false: --no-sponsor (edit); commander defaults a lone --no-x to true. */
  sponsor?: boolean;
  disabled?: boolean;
}

export function addMirrorCommands(program: Command, ctx: CliContext): void {
  const mirrors = program.command('mirrors').description('list, add and change mirrors (staff; a provider token lists and shows its own)');
  const mirrorPath = (id: string) => `admin/v1/mirrors/${seg(id)}`;
  const about = (id: string) => ({ subject: `mirror "${id}"`, flags: MIRROR_FLAGS });

  remote(mirrors.command('list').description('every mirror: status, country, weight, share of the file set carried, lag')).action((opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const body = await client.get('admin/v1/mirrors', mirrorListAnswer);
      if (opts.json) return printJson(ctx, body);
      if (body.mirrors.length === 0) return ctx.io.out('no mirrors\n');
      ctx.io.out(mirrorTable(body.mirrors));
    }),
  );

  remote(mirrors.command('show').description('one mirror: its settings, drain, health and sync').argument('<id>', 'mirror id')).action(
    (id: string, opts: RemoteOptions) =>
      withClient(ctx, opts, async (client) => {
        const view = await client.get(mirrorPath(id), mirrorView, {}, about(id));
        if (opts.json) return printJson(ctx, view);
        ctx.io.out(describeMirror(view));
      }),
  );

  remote(
    mirrorFieldOptions(
      mirrors.command('add').description('add a mirror at runtime (audited; survives restarts)').argument('<id>', 'mirror id: a-z, 0-9 and "-"'),
      true,
    ),
  ).action((id: string, opts: MirrorFieldOptions) =>
    withClient(ctx, opts, async (client) => {
      const body = { id, ...mirrorBody(opts) };
      const view = await client.post('admin/v1/mirrors', body, mirrorView, { flags: MIRROR_FLAGS });
      if (opts.json) return printJson(ctx, view);
      ctx.io.out(`added mirror ${view.spec.id}\n\n${describeMirror(view)}`);
    }),
  );

  remote(
    mirrorFieldOptions(mirrors.command('edit').description("change a mirror's settings (only the options given)").argument('<id>', 'mirror id'), false),
  ).action((id: string, opts: MirrorFieldOptions) =>
    withClient(ctx, opts, async (client) => {
      const patch: Record<string, unknown> = mirrorBody(opts);
      if (opts.rsyncUrl === false) patch.rsyncUrl = null;
      if (opts.trace === false) patch.trace = null;
      if (opts.sponsor === false) patch.sponsor = null;
      if (opts.disabled === undefined) delete patch.enabled;
      if (opts.sponsorUrl !== undefined && opts.sponsorName === undefined && opts.sponsor !== false) {
        // The API merges sponsor fields into the current sponsor (name and logo stay).
        patch.sponsor = { url: opts.sponsorUrl };
      }
      if (Object.keys(patch).length === 0) throw new CliError('nothing to change: give at least one option (see mirrorgate mirrors edit --help)', EXIT.usage);
      const view = await client.patch(mirrorPath(id), patch, mirrorView, about(id));
      if (opts.json) return printJson(ctx, view);
      ctx.io.out(`updated mirror ${id}: ${Object.keys(patch).join(', ')}\n`);
    }),
  );

  remote(
    mirrors
      .command('remove')
      .description('remove a mirror (a config mirror stays removed until `mirrors restore` brings it back)')
      .argument('<id>', 'mirror id')
      .option('--yes', 'really remove it'),
  ).action((id: string, opts: RemoteOptions & { yes?: boolean }) =>
    withClient(ctx, opts, async (client) => {
      if (!opts.yes) throw new CliError(`removing mirror "${id}" stops its downloads and drops its inventory: pass --yes to do it`, EXIT.usage);
      await client.delete(mirrorPath(id), noContent, about(id));
      if (opts.json) return printJson(ctx, { removed: id });
      ctx.io.out(`removed mirror ${id}\n`);
    }),
  );

  remote(
    mirrors
      .command('drain')
      .description('send no new downloads to a mirror (before maintenance), at once or ramping down')
      .argument('<id>', 'mirror id')
      .option('--over <duration>', 'ramp its share down to zero over this long, e.g. 10m (default: at once)'),
  ).action((id: string, opts: RemoteOptions & { over?: string }) =>
    withClient(ctx, opts, async (client) => {
      const view = await client.post(`${mirrorPath(id)}/drain`, opts.over === undefined ? {} : { over: opts.over }, mirrorView, about(id));
      if (opts.json) return printJson(ctx, view);
      ctx.io.out(`${id}: ${describeDrain(view.drain)}\n`);
    }),
  );

  remote(mirrors.command('undrain').description('end a drain: the mirror gets downloads again').argument('<id>', 'mirror id')).action(
    (id: string, opts: RemoteOptions) =>
      withClient(ctx, opts, async (client) => {
        const view = await client.post(`${mirrorPath(id)}/undrain`, undefined, mirrorView, about(id));
        if (opts.json) return printJson(ctx, view);
        ctx.io.out(`${id}: no longer draining (status ${statusOf(view)})\n`);
      }),
  );

  remote(
    mirrors
      .command('weight')
      .description("set a mirror's relative share among equally near mirrors")
      .argument('<id>', 'mirror id')
      .argument('<n>', 'weight, 0-1000000 (0: only when no other mirror is near)', parseWeight),
  ).action((id: string, weight: number, opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const view = await client.patch(mirrorPath(id), { weight }, mirrorView, { ...about(id), flags: { weight: '<n>' } });
      if (opts.json) return printJson(ctx, view);
      ctx.io.out(`${id}: weight ${view.spec.weight}\n`);
    }),
  );

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    remote(
      mirrors
        .command(name)
        .description(enabled ? 'let a disabled mirror serve downloads again' : 'take a mirror out of service (it stays listed)')
        .argument('<id>', 'mirror id'),
    ).action((id: string, opts: RemoteOptions) =>
      withClient(ctx, opts, async (client) => {
        const view = await client.patch(mirrorPath(id), { enabled }, mirrorView, about(id));
        if (opts.json) return printJson(ctx, view);
        ctx.io.out(`${id}: ${enabled ? 'enabled' : 'disabled'} (status ${statusOf(view)})\n`);
      }),
    );
  }

  // Actions on a mirror with no arguments of their own: POST …/{action}, the mirror as it is now back.
  for (const [action, done, description] of [
    ['restore', 'restored', 'bring back a mirror of the config file that was removed, with the changes staff had made to it'],
    ['launch', 'launched', 'put an accepted (syncing) or pending mirror into service without waiting for a complete scan or a good probe'],
  ] as const) {
    remote(mirrors.command(action).description(description).argument('<id>', 'mirror id')).action((id: string, opts: RemoteOptions) =>
      withClient(ctx, opts, async (client) => {
        const view = await client.post(`${mirrorPath(id)}/${action}`, undefined, mirrorView, about(id));
        if (opts.json) return printJson(ctx, view);
        ctx.io.out(`${id}: ${done} (status ${statusOf(view)})\n`);
      }),
    );
  }

  remote(
    mirrors
      .command('logo')
      .description("upload a mirror's sponsor logo (SVG, PNG or WebP, up to 60 KB; SVG is sanitised); every instance shows it at once")
      .argument('<id>', 'mirror id')
      .argument('<file>', 'the logo file (.svg, .png or .webp)'),
  ).action((id: string, file: string, opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const type = LOGO_TYPES[path.extname(file).toLowerCase()];
      if (!type) throw new CliError(`${clean(file)}: a logo must be an .svg, .png or .webp file`, EXIT.usage);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path.resolve(ctx.cwd, file)));
      } catch (err) {
        throw new CliError(`cannot read ${clean(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.usage);
      }
      const view = await client.putBytes(`${mirrorPath(id)}/logo`, bytes, type, mirrorView, { ...about(id), flags: { logo: '<file>' } });
      if (opts.json) return printJson(ctx, view);
      ctx.io.out(`${id}: logo set (${formatCount(bytes.byteLength)} bytes, ${type}); sponsor ${view.spec.sponsor?.name ?? '(none)'}\n`);
    }),
  );
}

const LOGO_TYPES: Record<string, string> = { '.svg': 'image/svg+xml', '.png': 'image/png', '.webp': 'image/webp' };

/** The settings options of `add` (name, base URL and country required) and `edit` (all optional, plus --no-… to clear). */
function mirrorFieldOptions(cmd: Command, adding: boolean): Command {
  const text = (flags: string, description: string) => (adding ? cmd.requiredOption(flags, description) : cmd.option(flags, description));
  text('--name <name>', 'display name, e.g. "ACME Hosting Frankfurt"');
  text('--base-url <url>', 'http(s) URL downloads are redirected to (the file path is appended)');
  text('--country <cc>', 'ISO 3166-1 alpha-2 country code');
  cmd
    .option('--rsync-url <url>', 'rsync:// URL for inventory scans')
    .option('--trace <path>', 'its trace file relative to the base URL when not at origin.trace, e.g. lastsync or project/trace/<host>')
    .option('--lat <degrees>', "latitude (default: the country's centroid)", parseNumber('a latitude'))
    .option('--lon <degrees>', 'longitude', parseNumber('a longitude'))
    .option('--asn <n>', 'autonomous system numbers it serves best (repeat, or comma-separated)', parseAsns)
    .option('--weight <n>', 'relative share among equally near mirrors (default 100)', parseWeight)
    .option('--bandwidth <mbps>', 'uplink in Mbps', parseNumber('a number of Mbps'))
    .option('--country-only', 'serve clients of its own country only')
    .option('--include <glob>', 'origin paths it carries (repeat; default: everything)', collect)
    .option('--exclude <glob>', 'origin paths it does not carry (repeat)', collect)
    .option('--sponsor-name <name>', 'sponsor shown to downloaders')
    .option('--sponsor-url <url>', "sponsor's link");
  if (adding) {
    cmd.option('--disabled', 'add it disabled (no downloads until enabled)');
  } else {
    cmd
      .addOption(new Option('--no-rsync-url', 'remove its rsync URL'))
      .addOption(new Option('--no-trace', 'look for its trace file at origin.trace again'))
      .addOption(new Option('--no-country-only', 'serve clients of every country'))
      .addOption(new Option('--no-sponsor', 'remove its sponsor'));
  }
  return cmd;
}

function mirrorBody(opts: MirrorFieldOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (opts.name !== undefined) body.name = opts.name;
  if (opts.baseUrl !== undefined) body.baseUrl = opts.baseUrl;
  if (typeof opts.rsyncUrl === 'string') body.rsyncUrl = opts.rsyncUrl;
  if (typeof opts.trace === 'string') body.trace = opts.trace;
  if (opts.country !== undefined) body.country = opts.country;
  if (opts.lat !== undefined) body.lat = opts.lat;
  if (opts.lon !== undefined) body.lon = opts.lon;
  if (opts.asn !== undefined) body.asn = opts.asn;
  if (opts.weight !== undefined) body.weight = opts.weight;
  if (opts.bandwidth !== undefined) body.bandwidthMbps = opts.bandwidth;
  if (opts.countryOnly !== undefined) body.countryOnly = opts.countryOnly;
  if (opts.include !== undefined || opts.exclude !== undefined) {
    body.content = { ...(opts.include && { include: opts.include }), ...(opts.exclude && { exclude: opts.exclude }) };
  }
  if (opts.sponsorName !== undefined) {
    body.sponsor = { name: opts.sponsorName, ...(opts.sponsorUrl !== undefined && { url: opts.sponsorUrl }) };
  } else if (opts.sponsorUrl !== undefined && opts.sponsor === undefined) {
    throw new CliError('--sponsor-url needs --sponsor-name', EXIT.usage);
  }
  body.enabled = !opts.disabled;
  return body;
}

function parseNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected ${what}`);
    return n;
  };
}

function parseWeight(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 1_000_000) throw new InvalidArgumentError('expected a whole number 0-1000000');
  return Number(value);
}

function parseAsns(value: string, previous: number[] | undefined): number[] {
  const asns = value.split(',').map((part) => {
    const trimmed = part.trim().replace(/^AS/i, '');
    if (!/^\d+$/.test(trimmed)) throw new InvalidArgumentError(`expected AS numbers like 3320 or AS3320, got "${part}"`);
    return Number(trimmed);
  });
  return [...(previous ?? []), ...asns];
}

/** The status downloaders see; from the snapshot's summary, or the mirror's own facts before one is built. */
export function statusOf(view: MirrorView): string {
  if (view.summary) return view.summary.status;
  if (!view.spec.enabled) return 'disabled';
  if (view.drain) return 'draining';
  if (view.lifecycle === 'syncing' || view.lifecycle === 'pending') return view.lifecycle;
  return view.health?.health ?? 'unknown';
}

/**
 * Why a mirror has the status it has, honestly: "not probed yet", the last probe's failure while
 * it is still `unknown` or `pending` ("connection refused, 1 failed probe"), a down mirror's reason.
 */
export function noteOf(view: MirrorView): string | null {
  const h = view.health;
  const status = statusOf(view);
  if (!h || h.checkedAt === undefined) return view.spec.enabled ? 'not probed yet' : null;
  const failed = h.consecutiveFailures > 0 ? `, ${countOf(h.consecutiveFailures, 'failed probe', 'failed probes')} in a row` : '';
  if (h.reason && (status === 'unknown' || status === 'pending' || status === 'down' || h.consecutiveFailures > 0)) return `${h.reason}${failed}`;
  if (status === 'pending') return 'waiting for a good probe';
  if (status === 'syncing' && view.lifecycle === 'syncing') return 'accepted, waiting for a complete scan';
  return h.reason ?? null;
}

function lagOf(view: MirrorView): number | null {
  const seconds = view.summary?.lagSeconds ?? view.health?.lagSeconds;
  return seconds === undefined || seconds === null ? null : seconds;
}

export function mirrorTable(views: readonly MirrorView[]): string {
  return table(views, [
    { header: 'ID', value: (v) => v.spec.id },
    { header: 'STATUS', value: statusOf },
    { header: 'CC', value: (v) => v.spec.country },
    { header: 'WEIGHT', value: (v) => v.spec.weight, align: 'right' },
    { header: 'SHARE', value: (v) => (v.summary ? formatPercent(v.summary.share) : null), align: 'right' },
    { header: 'LAG', value: (v) => formatLag(lagOf(v)), align: 'right' },
    { header: 'NAME', value: (v) => v.spec.name },
    { header: 'URL', value: (v) => v.spec.baseUrl },
    { header: 'NOTE', value: noteOf },
  ]);
}

export function describeDrain(drain: MirrorView['drain'], now = Date.now()): string {
  if (!drain) return 'not draining';
  if (drain.overMs <= 0) return `drained since ${formatTime(drain.startMs)}: no new downloads`;
  const end = drain.startMs + drain.overMs;
  const tail = end > now ? `no new downloads from ${formatTime(end)}` : `no new downloads since ${formatTime(end)}`;
  return `draining since ${formatTime(drain.startMs)}, share ramping to zero over ${formatMillis(drain.overMs)} (${tail})`;
}

export function describeMirror(view: MirrorView, now = Date.now()): string {
  const s = view.spec;
  const h = view.health;
  const lag = lagOf(view);
  const lastSync = view.summary?.lastSync ? Date.parse(view.summary.lastSync) : h?.lastSync !== undefined ? h.lastSync * 1000 : undefined;
  return keyValues([
    ['id', s.id],
    ['name', s.name],
    ['status', statusOf(view) + (noteOf(view) ? ` (${noteOf(view)})` : '')],
    ['enabled', s.enabled ? 'yes' : 'no'],
    ['lifecycle', view.lifecycle],
    ['source', view.source === 'config' ? 'config file' : 'added at runtime'],
    ['base URL', s.baseUrl],
    ['rsync URL', s.rsyncUrl ?? null],
    s.trace ? ['trace file', s.trace] : undefined,
    ['country', s.country + (s.lat !== undefined && s.lon !== undefined ? ` (${s.lat}, ${s.lon})` : '')],
    ['ASN', s.asn.length ? s.asn.map((a) => `AS${a}`).join(', ') : null],
    ['weight', `${s.weight} (a provider may set up to ${view.weightCeiling})`],
    ['bandwidth', s.bandwidthMbps !== undefined ? `${s.bandwidthMbps} Mbps` : null],
    ['country only', s.countryOnly ? 'yes' : 'no'],
    ['sponsor', s.sponsor ? s.sponsor.name + (s.sponsor.url ? ` <${s.sponsor.url}>` : '') : null],
    ['include', s.content.include.join(' ')],
    ['exclude', s.content.exclude.length ? s.content.exclude.join(' ') : null],
    s.content.manifest ? ['manifest', s.content.manifest] : undefined,
    ['drain', describeDrain(view.drain, now)],
    ['health', h ? h.health + (h.reason ? ` (${h.reason})` : '') : 'not probed yet'],
    h?.checkedAt !== undefined ? ['checked', `${formatTime(h.checkedAt)} (${formatAgo(h.checkedAt, now)})`] : undefined,
    h?.latencyMs !== undefined ? ['latency', `${Math.round(h.latencyMs)} ms`] : undefined,
    ['last sync', lastSync !== undefined ? `${formatTime(lastSync)} (${formatAgo(lastSync, now)})` : null],
    ['lag', formatLag(lag)],
    view.summary ? ['carries', `${countOf(view.summary.files, 'file', 'files')} (${formatPercent(view.summary.share)} of the origin)`] : undefined,
    h?.missing?.length ? ['missing', `${countOf(h.missing.length, 'file', 'files')} found missing by probes since the last scan`] : undefined,
  ]);
}

/** For commands that act on a list of mirrors: every mirror the token may see. */
export async function listMirrors(client: AdminClient): Promise<MirrorView[]> {
  return (await client.get('admin/v1/mirrors', mirrorListAnswer)).mirrors;
}
