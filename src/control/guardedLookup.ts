// Node only: the DNS lookup that probe and scan connections go through. Mirror URLs are checked by name
// when they are configured or sent (config/addressPolicy.ts), but a public name can resolve to 127.0.0.1 or
// 169.254.169.254, or be pointed there later. This lookup refuses such addresses when a connection is made,
// so a mirror URL cannot turn the prober into a way into the host's own services or its cloud credentials.
import dns, { type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { ALLOW_PRIVATE_KEY, forbiddenAddressProblem } from '../config/addressPolicy.js';

/** What a refused connection reports; the prober shows the message as the mirror's reason. */
export class ForbiddenAddressError extends Error {
  readonly code = 'EFORBIDDENADDRESS';
  constructor(hostname: string, problem: string) {
    super(`${hostname} resolves to an address Mirrorgate does not connect to: it ${problem}; set ${ALLOW_PRIVATE_KEY}: true to allow it`);
    this.name = 'ForbiddenAddressError';
  }
}

/** dns.lookup's shape, so a test can resolve names its own way. */
export type Resolve = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolve: Resolve = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * A `lookup` for net/tls connect (undici's `connect.lookup`): resolves as the system does and fails with
 * ForbiddenAddressError when any address of the name is forbidden, rather than connecting to the others.
 */
export function guardedLookup(resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const problem = forbiddenAddressProblem(a.address);
        if (problem) return callback(new ForbiddenAddressError(hostname, problem), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname}: no addresses`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** scheme://[user@]host[:port][/rest]: the host as a name, not a bracketed IPv6 literal. */
const URL_HOST = /^([a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?)([^/:@[\]]+)((?::\d+)?(?:\/.*)?)$/is;

/**
 * The URL with its host name replaced by each address the guard resolved and allowed, in the resolver's
 * order, for fetchers the lookup cannot reach (the rsync binary resolves names itself): what was checked
 * is what gets connected to, and a name re-pointed after the check changes nothing. An rsync daemon
 * serves modules, not names, so each address reaches the same files. Only the host is replaced; the rest
 * stays byte for byte (URL serialisation would percent-encode an rsync path that rsync reads literally).
 * An IP literal was checked by name already and comes back as it is.
 */
export function pinHost(url: string, lookup: LookupFunction = guardedLookup()): Promise<string[]> {
  const parts = URL_HOST.exec(url);
  if (!parts || /^[\d.]+$/.test(parts[2]!)) return Promise.resolve([url]);
  const [, head, host, rest] = parts as unknown as [string, string, string, string];
  return new Promise((resolve, reject) =>
    // ADDRCONFIG: only families this machine has an address of.
    lookup(host, { all: true, hints: dns.ADDRCONFIG }, (err, addresses) => {
      if (err) return reject(err);
      const all = addresses as unknown as LookupAddress[];
      if (all.length === 0) return reject(Object.assign(new Error(`${host}: no addresses`), { code: 'ENOTFOUND' }));
      resolve(all.map((a) => head + (a.family === 6 ? `[${a.address}]` : a.address) + rest));
    }),
  );
}
