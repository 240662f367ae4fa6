// `mirrorgate offers …`: review the mirrors providers offer, and accept (creating the mirror) or reject them.
import { type Command, Option } from 'commander';
import { offerAcceptAnswer, offerListAnswer, offerRejectAnswer, type OfferView as Offer } from '../../http/schemas/admin.js';
import type { AdminClient } from '../client.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import { clean, formatTime, table } from '../format.js';
import { printJson, remote, seg, withClient, type RemoteOptions } from './remote.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids in the table are cut to this many characters; accept and reject take any unique prefix this long or longer. */
const SHORT_ID = 8;
/** Shorter prefixes are refused, as git refuses them: one character matching one offer today is a typo tomorrow. */
const MIN_PREFIX = 4;

const ACCEPT_FLAGS: Record<string, string> = {
  note: '--note',
  'mirror.id': '--mirror-id',
  'mirror.name': '--name',
  'mirror.baseUrl': '--base-url',
  'mirror.rsyncUrl': '--rsync-url',
  'mirror.country': '--country',
  // Fields the offer itself supplies when no flag overrides them.
  id: '--mirror-id',
  name: '--name',
  baseUrl: '--base-url',
  rsyncUrl: '--rsync-url',
  country: '--country',
};

interface AcceptOptions extends RemoteOptions {
  issueToken?: boolean;
  mirrorId?: string;
  name?: string;
  baseUrl?: string;
  rsyncUrl?: string;
  country?: string;
  note?: string;
}

export function addOfferCommands(program: Command, ctx: CliContext): void {
  const offers = program.command('offers').description('review mirror offers from providers (staff)');

  remote(
    offers
      .command('list')
      .description('offers, newest first')
      .addOption(new Option('--status <status>', 'only offers in this state').choices(['offered', 'accepted', 'rejected'])),
  ).action((opts: RemoteOptions & { status?: string }) =>
    withClient(ctx, opts, async (client) => {
      const body = await client.get('admin/v1/offers', offerListAnswer, { status: opts.status });
      if (opts.json) return printJson(ctx, body);
      if (body.stale) ctx.io.err('the server cannot reach its shared store: these offers are as it last read them\n');
      if (body.offers.length === 0) return ctx.io.out(opts.status ? `no ${opts.status} offers\n` : 'no offers\n');
      ctx.io.out(offerTable([...body.offers].sort((a, b) => b.createdAt - a.createdAt)));
    }),
  );

  remote(
    offers
      .command('accept')
      .description('accept an offer: its mirror is added as "syncing" and launched once a scan shows it complete')
      .argument('<id>', 'offer id (or a unique prefix, as the list shows)')
      .option('--mirror-id <id>', 'id of the new mirror (default: from the organisation and country)')
      .option('--name <name>', 'mirror name (default: the organisation)')
      .option('--base-url <url>', 'download base URL (default: the one offered)')
      .option('--rsync-url <url>', 'rsync URL for scans (default: the one offered)')
      .option('--country <cc>', 'country (default: the one offered)')
      .option('--note <text>', 'a note kept with the decision')
      .option('--issue-token', "issue the provider's token for the new mirror (printed once)"),
  ).action((given: string, opts: AcceptOptions) =>
    withClient(ctx, opts, async (client) => {
      const id = await resolveOfferId(client, given);
      const mirror: Record<string, string> = {};
      if (opts.mirrorId !== undefined) mirror.id = opts.mirrorId;
      if (opts.name !== undefined) mirror.name = opts.name;
      if (opts.baseUrl !== undefined) mirror.baseUrl = opts.baseUrl;
      if (opts.rsyncUrl !== undefined) mirror.rsyncUrl = opts.rsyncUrl;
      if (opts.country !== undefined) mirror.country = opts.country;
      const body = {
        ...(opts.note !== undefined && { note: opts.note }),
        ...(Object.keys(mirror).length > 0 && { mirror }),
        ...(opts.issueToken && { issueToken: true }),
      };
      const result = await client.post(`admin/v1/offers/${seg(id)}/accept`, body, offerAcceptAnswer, {
        subject: `offer "${id}"`,
        flags: ACCEPT_FLAGS,
      });
      if (opts.json) return printJson(ctx, result);
      const m = result.mirror.spec.id;
      ctx.io.out(
        `accepted offer ${id} from ${clean(result.offer.organisation)}: mirror ${m} added (${result.mirror.lifecycle})\n` +
          (result.mirror.lifecycle === 'syncing'
            ? `it gets downloads once a scan shows it complete (mirrorgate scan ${m}), or now with: mirrorgate mirrors launch ${m}\n`
            : ''),
      );
      if (result.token) {
        ctx.io.out(`provider token for ${clean(result.token.name)} (shown this once; only its hash is kept):\n${result.token.token}\n`);
      }
    }),
  );

  remote(
    offers
      .command('reject')
      .description('reject an offer')
      .argument('<id>', 'offer id (or a unique prefix, as the list shows)')
      .option('--note <text>', 'why, kept with the decision'),
  ).action((given: string, opts: RemoteOptions & { note?: string }) =>
    withClient(ctx, opts, async (client) => {
      const id = await resolveOfferId(client, given);
      const result = await client.post(`admin/v1/offers/${seg(id)}/reject`, opts.note === undefined ? {} : { note: opts.note }, offerRejectAnswer, {
        subject: `offer "${id}"`,
        flags: { note: '--note' },
      });
      if (opts.json) return printJson(ctx, result);
      ctx.io.out(`rejected offer ${id} from ${clean(result.offer.organisation)}\n`);
    }),
  );
}

/** A full id goes as typed; a prefix is looked up among the offers and must name exactly one. */
async function resolveOfferId(client: AdminClient, given: string): Promise<string> {
  if (UUID.test(given)) return given.toLowerCase();
  const { offers } = await client.get('admin/v1/offers', offerListAnswer);
  if (offers.some((o) => o.id === given)) return given;
  if (given.length < MIN_PREFIX) throw new CliError(`offer id "${clean(given)}" is too short: give at least ${MIN_PREFIX} characters of it`, EXIT.usage);
  const matches = offers.filter((o) => o.id.toLowerCase().startsWith(given.toLowerCase()));
  const only = matches[0];
  if (matches.length === 1 && only) return only.id;
  if (matches.length === 0) throw new CliError(`no offer "${clean(given)}" (404)`, EXIT.notFound);
  throw new CliError(`offer id "${clean(given)}" is ambiguous: ${matches.length} offers start with it (${matches.map((o) => o.id).join(', ')})`, EXIT.failed);
}

export function offerTable(offers: readonly Offer[]): string {
  return table(offers, [
    { header: 'ID', value: (o) => o.id.slice(0, SHORT_ID) },
    { header: 'STATUS', value: (o) => o.status },
    { header: 'RECEIVED', value: (o) => formatTime(o.createdAt).slice(0, 10) },
    { header: 'ORGANISATION', value: (o) => o.organisation },
    { header: 'LOCATION', value: (o) => (o.location.city ? `${o.location.city}, ${o.location.country}` : o.location.country) },
    { header: 'STORAGE', value: (o) => `${o.storageTB} TB`, align: 'right' },
    { header: 'BANDWIDTH', value: (o) => `${o.bandwidthMbps} Mbps`, align: 'right' },
    { header: 'CONTACT', value: (o) => `${o.contact.name} <${o.contact.email}>` },
    { header: 'BASE URL', value: (o) => o.baseUrl },
    { header: 'RSYNC URL', value: (o) => o.rsyncUrl },
    { header: 'PEERINGS', value: (o) => o.peerings },
    { header: 'MIRROR', value: (o) => o.mirrorId },
  ]);
}
