// Addresses a mirror or offer URL may not point at unless the config says so: this machine, link-local networks and cloud metadata services.
//
// Mirrorgate fetches what mirror URLs name (probes, scans, manifests) and redirects clients to them, so
// a URL aimed at 127.0.0.1 or 169.254.169.254 turns the prober into a way into the host's own services
// or its cloud credentials. Private ranges (10/8, 192.168/16, fc00::/7) stay allowed: internal mirror
// networks use them. Here the name as written is checked; a public name resolving to such an address is
// refused when a probe or scan connects (control/guardedLookup.ts).
import ipaddr from 'ipaddr.js';

/** Host names of cloud metadata services (AWS, GCP, Azure, OpenStack answer on 169.254.169.254 as well). */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/**
 * Metadata services on addresses of no special range: Alibaba Cloud (100.100.100.200), Oracle Cloud
 * (192.0.0.192), Azure's WireServer (168.63.129.16), AWS over IPv6 (fd00:ec2::254), and the link-local
 * one most clouds use (169.254.169.254, refused with its range anyway).
 */
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192', '168.63.129.16']);

/** The config key that allows such addresses (labs and tests run mirrors on 127.0.0.1). */
export const ALLOW_PRIVATE_KEY = 'allowPrivateMirrorAddresses';

/** Why `urlText` points somewhere a mirror or offer URL must not, or undefined. */
export function privateAddressProblem(urlText: string): string | undefined {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return undefined; // not a URL: other rules say so
  }
  let host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === 'localhost' || host.endsWith('.localhost')) return `points at this machine (${host})`;
  if (METADATA_HOSTS.has(host)) return `points at a cloud metadata service (${host})`;
  return ipaddr.isValid(host) ? forbiddenAddressProblem(host) : undefined;
}

/** Why an IP address is one a mirror may not be reached at (loopback, link-local, metadata, unspecified), or undefined. */
export function forbiddenAddressProblem(ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  // process() reads an IPv4-mapped IPv6 address (::ffff:127.0.0.1) as the IPv4 address it is.
  const address = ipaddr.process(ip);
  const shown = address.toString();
  if (METADATA_ADDRESSES.has(shown)) return `points at the cloud metadata service (${shown})`;
  // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits: judged as that address.
  if (address.kind() === 'ipv6' && address.range() === 'rfc6052') {
    const v4 = (address as ipaddr.IPv6).toByteArray().slice(12).join('.');
    const problem = forbiddenAddressProblem(v4);
    if (problem) return `${problem}, through NAT64 (${shown})`;
  }
  switch (address.range()) {
    case 'loopback':
      return `points at this machine (loopback address ${shown})`;
    case 'linkLocal':
      return `points at a link-local address (${shown}), where cloud metadata services answer`;
    case 'unspecified':
      return `points at the unspecified address ${shown} (this machine)`;
    default:
      return undefined;
  }
}

/** The problem with the message naming the switch, as check-config, the admin API and the store reload say it. */
export function privateAddressMessage(urlText: string): string | undefined {
  const problem = privateAddressProblem(urlText);
  return problem && `${problem}; set ${ALLOW_PRIVATE_KEY}: true in the config to allow it (labs and tests)`;
}

/** The URLs of a mirror spec or patch that Mirrorgate fetches, by field path. */
export function fetchedUrls(m: { baseUrl?: string | null; rsyncUrl?: string | null; content?: { manifest?: string | null } | null }): [string, string][] {
  const out: [string, string][] = [];
  if (typeof m.baseUrl === 'string') out.push(['baseUrl', m.baseUrl]);
  if (typeof m.rsyncUrl === 'string') out.push(['rsyncUrl', m.rsyncUrl]);
  const manifest = m.content?.manifest;
  if (typeof manifest === 'string' && /^https?:\/\//i.test(manifest)) out.push(['content.manifest', manifest]);
  return out;
}

/** { field: message } for each fetched URL of a mirror spec or patch that points somewhere private. */
export function privateAddressFields(m: Parameters<typeof fetchedUrls>[0]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, url] of fetchedUrls(m)) {
    const message = privateAddressMessage(url);
    if (message) out[field] = message;
  }
  return out;
}
