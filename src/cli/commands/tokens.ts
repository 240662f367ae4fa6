// `mirrorgate tokens list|issue|revoke`: the bearer tokens staff hand out at runtime (the config file's are listed, never shown).
import { type Command, Option } from 'commander';
import { issuedToken, tokenListAnswer, tokenView, type TokenView } from '../../http/schemas/admin.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import { formatTime, table } from '../format.js';
import { collect, printJson, remote, seg, withClient, type RemoteOptions } from './remote.js';

const TOKEN_FLAGS: Record<string, string> = { name: '<name>', role: '--role', mirrors: '--mirror' };

export function addTokenCommands(program: Command, ctx: CliContext): void {
  const tokens = program.command('tokens').description('list, issue and revoke bearer tokens (staff); only a hash of each is stored');

  remote(tokens.command('list').description("every token: the config file's and those issued at runtime, revoked ones too")).action((opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const body = await client.get('admin/v1/tokens', tokenListAnswer);
      if (opts.json) return printJson(ctx, body);
      ctx.io.out(tokenTable(body.tokens));
    }),
  );

  remote(
    tokens
      .command('issue')
      .description('issue a token; it is printed once and cannot be shown again')
      .argument('<name>', 'who holds it: the name audit entries carry (unique)')
      .addOption(
        new Option('--role <role>', 'staff, provider (with --mirror), or edge (a Worker: reads snapshots, posts download counts)')
          .choices(['staff', 'provider', 'edge'])
          .makeOptionMandatory(),
      )
      .option('--mirror <id>', "a provider's mirror (repeat, or comma-separated); runtime mirrors too", (value: string, previous: string[] | undefined) =>
        collect(value, previous)
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean),
      ),
  ).action((name: string, opts: RemoteOptions & { role: string; mirror?: string[] }) =>
    withClient(ctx, opts, async (client) => {
      if (opts.role === 'provider' && !opts.mirror?.length) throw new CliError('a provider token needs --mirror <id>', EXIT.usage);
      const issued = await client.post('admin/v1/tokens', { name, role: opts.role, ...(opts.mirror?.length ? { mirrors: opts.mirror } : {}) }, issuedToken, {
        flags: TOKEN_FLAGS,
      });
      if (opts.json) return printJson(ctx, issued);
      // The token alone on stdout (scripts: TOKEN=$(mirrorgate tokens issue …)); the advice on stderr.
      ctx.io.out(`${issued.token}\n`);
      ctx.io.err(
        `issued ${issued.role} token "${issued.name}" (id ${issued.id}${issued.mirrors.length ? `, mirrors ${issued.mirrors.join(', ')}` : ''}).\n` +
          'It is shown this once: only its hash is kept. Hand it over safely; revoke it with: mirrorgate tokens revoke ' +
          `${issued.id}\n`,
      );
    }),
  );

  remote(
    tokens
      .command('revoke')
      .description('revoke a token issued at runtime: it stops working, and its console sessions end, on every instance within a second')
      .argument('<id|name>', "the token's id (as the list shows) or its name"),
  ).action((given: string, opts: RemoteOptions) =>
    withClient(ctx, opts, async (client) => {
      const revoked = await client.delete(`admin/v1/tokens/${seg(given)}`, tokenView, { subject: `token "${given}"` });
      if (opts.json) return printJson(ctx, revoked);
      ctx.io.out(`revoked token "${revoked.name}" (id ${revoked.id})\n`);
    }),
  );
}

export function tokenTable(tokens: readonly TokenView[]): string {
  if (tokens.length === 0) return 'no tokens\n';
  return table(tokens, [
    { header: 'ID', value: (t) => t.id ?? '(config)' },
    { header: 'NAME', value: (t) => t.name },
    { header: 'ROLE', value: (t) => t.role },
    { header: 'MIRRORS', value: (t) => (t.mirrors.length ? t.mirrors.join(',') : null) },
    { header: 'STATE', value: (t) => (t.revokedAt ? `revoked ${formatTime(Date.parse(t.revokedAt)).slice(0, 16)} by ${t.revokedBy}` : 'active') },
    { header: 'ISSUED', value: (t) => (t.createdAt ? `${formatTime(Date.parse(t.createdAt)).slice(0, 16)} by ${t.createdBy}` : 'config file') },
  ]);
}
