// What every remote command shares: --url, --token, --timeout and --json, and one client per run that is always closed.
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../config/schema.js';
import { AdminClient } from '../client.js';
import type { CliContext } from '../context.js';
import { json } from '../format.js';

export const DEFAULT_URL = 'http://localhost:8080';
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface RemoteOptions {
  url?: string;
  token?: string;
  /** ms; null = none; undefined = the command's default. */
  timeout?: number | null;
  json?: boolean;
}

/** Adds the options every remote command takes. */
export function remote(cmd: Command, defaultTimeout = '30s'): Command {
  return cmd
    .option('--url <url>', `server URL (default: MIRRORGATE_URL, else ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token (default: MIRRORGATE_TOKEN, which keeps it out of the process list)')
    .option('--timeout <duration>', `give up on a request after this long, e.g. 30s, 2m, or "none" (default: ${defaultTimeout})`, parseTimeout)
    .option('--json', "print the API's JSON instead of a table");
}

function parseTimeout(value: string): number | null {
  if (value === 'none' || value === '0') return null;
  const ms = parseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration like 30s, 2m or 1h, a number of seconds, or "none"');
  return ms;
}

/** Runs `fn` with a client for the server the flags or environment name (flag wins). */
export async function withClient<T>(
  ctx: CliContext,
  opts: RemoteOptions,
  fn: (client: AdminClient) => Promise<T>,
  /** null: no deadline unless --timeout sets one (scans). */
  defaultTimeoutMs: number | null = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  const timeout = (opts.timeout === undefined ? defaultTimeoutMs : opts.timeout) ?? undefined;
  const client = new AdminClient({
    url: opts.url || ctx.env.MIRRORGATE_URL || DEFAULT_URL,
    token: (opts.token ?? ctx.env.MIRRORGATE_TOKEN)?.trim() || undefined,
    timeoutMs: timeout,
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.out(json(value));
}

/** A path segment for an id the user typed. */
export function seg(id: string): string {
  return encodeURIComponent(id);
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
