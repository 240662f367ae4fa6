// Works out who the client really is from the TCP peer and, behind trusted proxies, X-Forwarded-For / X-Forwarded-Proto.

// ipaddr.js only (no node:*), so the Workers build can share this module.
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Addr, number];

/** The set of proxies whose forwarding headers we believe. */
export interface TrustedProxies {
  has(ip: string): boolean;
}

export interface ClientAddress {
  ip: string;
  https: boolean;
}

/*
 * Headers are attacker-controlled text, so entries are parsed strictly: IPv4 only in
 * dotted four-part decimal (ipaddr.js would also accept "1", "0x7f.1" or octal "010.1.1.1",
 * which no proxy writes and which would let one address wear several spellings).
 * Anything longer than this cannot be an address, port and brackets included.
 */
const MAX_ENTRY_LENGTH = 64;
const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED_V6 = /^\[([^\]]+)\](?::\d{1,5})?$/;

// --- IPv4 as an integer: the common case on the hot path, without ipaddr.js objects -------------

/**
 * A dotted four-part decimal IPv4 address as an unsigned 32-bit number, or -1. Accepts exactly
 * what ipaddr.IPv4.isValidFourPartDecimal does (no leading zeros, no spaces, each part ≤ 255).
 */
export function ipv4Number(s: string): number {
  const len = s.length;
  if (len < 7 || len > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= len; i++) {
    const c = i === len ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part > 255 || ++parts > 4) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // "0" alone is a part; "01" is octal to some parsers and refused by all of ours.
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 0x30);
      digits++;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

/** IPv4 ranges as [base, mask] integer pairs. */
type V4Range = readonly [base: number, mask: number];

function v4Range(addr: ipaddr.IPv4, bits: number): V4Range {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const [a, b, c, d] = addr.octets as [number, number, number, number];
  return [(((a << 24) | (b << 16) | (c << 8) | d) & mask) >>> 0, mask];
}

function inV4(n: number, ranges: readonly V4Range[]): boolean {
  for (const [base, mask] of ranges) if ((n & mask) >>> 0 === base) return true;
  return false;
}

/** ipaddr.js's own table of special IPv4 ranges, as integers; public = in none, or as112/amt (as isPublicAddress says). */
const V4_NOT_PUBLIC: readonly V4Range[] = Object.entries(
  (ipaddr.IPv4.prototype as unknown as { SpecialRanges: Record<string, [ipaddr.IPv4, number][]> }).SpecialRanges,
)
  .filter(([name]) => name !== 'as112' && name !== 'amt')
  .flatMap(([, ranges]) => ranges.map(([addr, bits]) => v4Range(addr, bits)));

/** "::ffff:a.b.c.d", as a dual-stack socket reports an IPv4 peer: the IPv4 part, or -1. */
function mappedIpv4Number(s: string): number {
  return s.length > 7 && s.charCodeAt(0) === 0x3a && s.slice(0, 7).toLowerCase() === '::ffff:' ? ipv4Number(s.slice(7)) : -1;
}

// --- The general parser ------------------------------------------------------------------------

/** Parse one address as written in a header or by a socket; undefined when it is not one. */
function parseAddr(text: string): Addr | undefined {
  let s = text.trim();
  if (s === '' || s.length > MAX_ENTRY_LENGTH) return undefined;
  const bracketed = BRACKETED_V6.exec(s);
  if (bracketed) {
    s = bracketed[1]!;
  } else {
    const withPort = V4_WITH_PORT.exec(s);
    if (withPort) s = withPort[1]!;
  }
  // A zone id ("fe80::1%eth0") names an interface on the sender's host: meaningless here.
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let addr: Addr;
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) addr = ipaddr.IPv4.parse(s);
  else if (s.includes(':') && ipaddr.IPv6.isValid(s)) addr = ipaddr.IPv6.parse(s);
  else return undefined;
  return unmap(addr);
}

/** Node reports IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d; treat them as the IPv4 they are. */
function unmap(addr: Addr): Addr {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

function format(addr: Addr): string {
  // IPv6 toString() is RFC 5952: lower case, longest zero run compressed.
  return addr.toString();
}

/** The canonical text of an address (IPv4-mapped → IPv4, IPv6 compressed lower-case), or undefined if it is not one. */
export function normalizeAddress(text: string): string | undefined {
  return canonical(text);
}

/** The canonical text of an address: plain and socket-mapped IPv4 without ipaddr.js, the rest through parseAddr. */
function canonical(text: string): string | undefined {
  if (ipv4Number(text) >= 0) return text;
  const mapped = mappedIpv4Number(text);
  if (mapped >= 0) return text.slice(7);
  const addr = parseAddr(text);
  return addr ? format(addr) : undefined;
}

/** Build the trusted-proxy set from config; plain addresses count as /32 or /128. Throws naming the bad entry. */
export function createTrustedProxies(cidrs: string[]): TrustedProxies {
  const v4: V4Range[] = [];
  const v6: Range[] = [];
  for (const entry of cidrs) {
    const range = parseRange(entry);
    if (!range) throw new Error(`trustedProxies: "${entry}" is not an IP address or CIDR range`);
    if (range[0].kind() === 'ipv4') v4.push(v4Range(range[0] as ipaddr.IPv4, range[1]));
    else v6.push(range);
  }
  return {
    has(ip: string): boolean {
      const n = ipv4Number(ip);
      if (n >= 0) return inV4(n, v4);
      const addr = parseAddr(ip);
      if (!addr) return false;
      if (addr.kind() === 'ipv4') return inV4(ipv4Number(addr.toString()), v4);
      return v6.some((r) => addr.match(r));
    },
  };
}

function parseRange(entry: string): Range | undefined {
  const s = entry.trim();
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  // No brackets, ports or zones in config: those are mistakes worth reporting.
  if (/[[\]%]/.test(addrText) || V4_WITH_PORT.test(addrText)) return undefined;
  const addr = ipaddr.IPv4.isValidFourPartDecimal(addrText)
    ? ipaddr.IPv4.parse(addrText)
    : addrText.includes(':') && ipaddr.IPv6.isValid(addrText)
      ? ipaddr.IPv6.parse(addrText)
      : undefined;
  if (!addr) return undefined;
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const bitsText = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return undefined;
    bits = Number(bitsText);
    if (bits > max) return undefined;
  }
  // "::ffff:10.0.0.0/104" means 10.0.0.0/8; since lookups unmap addresses, so must ranges.
  if (addr.kind() === 'ipv6' && bits >= 96 && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/**
 * The client's address and scheme. Forwarding headers count only when the TCP peer is a
 * trusted proxy; then X-Forwarded-For is walked from the right (each hop appends the
 * address it saw), skipping trusted hops, and the first untrusted address is the client.
 * Every entry left of that was written by the client itself and proves nothing. An
 * unparseable entry ends the walk: whatever lies beyond it cannot be attributed, so the
 * last good address stands. Never throws.
 */
export function resolveClientAddress(
  peer: string,
  xForwardedFor: string | undefined,
  xForwardedProto: string | undefined,
  peerHttps: boolean,
  trusted: TrustedProxies,
): ClientAddress {
  const peerText = canonical(peer);
  // A socket always has a valid peer; only a broken adapter gets here. Answer with an address that geolocates nowhere.
  if (peerText === undefined) return { ip: '0.0.0.0', https: peerHttps };
  if (!trusted.has(peerText)) return { ip: peerText, https: peerHttps };

  let client = peerText;
  if (xForwardedFor) {
    const hops = xForwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // Empty items come from joining an empty header or a trailing comma, not from a proxy.
      if (hop.trim() === '') continue;
      const text = canonical(hop);
      if (text === undefined) break;
      client = text;
      if (!trusted.has(client)) break;
    }
  }

  let https = peerHttps;
  if (!https && xForwardedProto) {
    // The nearest proxy appends last, so the right-most value is the one it vouches for.
    const protos = xForwardedProto.split(',');
    https = protos[protos.length - 1]!.trim().toLowerCase() === 'https';
  }
  return { ip: client, https };
}

/** False for addresses that cannot belong to a client on the internet (private, loopback, link-local, CGNAT, documentation, reserved, …). */
export function isPublicAddress(ip: string): boolean {
  const n = ipv4Number(ip);
  if (n >= 0) return !inV4(n, V4_NOT_PUBLIC);
  const addr = parseAddr(ip);
  if (!addr) return false;
  const range = addr.range();
  if (addr.kind() === 'ipv4') return range === 'unicast' || range === 'as112' || range === 'amt';
  // Only 2000::/3 is allocated as global unicast; ipaddr.js calls everything it has no name for "unicast".
  const first = (addr as ipaddr.IPv6).parts[0]!;
  if ((first & 0xe000) !== 0x2000) return false;
  return range === 'unicast' || range === 'teredo' || range === '6to4' || range === 'amt' || range === 'as112v6';
}

export const DEFAULT_IPV6_PREFIX = 64;

/**
 * What a client is counted as: an IPv4 address as it is, an IPv6 address by its network (a /64 by
 * default: one host is handed a whole /64, so counting addresses would count nothing).
 */
export function addressKey(ip: string, ipv6Prefix = DEFAULT_IPV6_PREFIX): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const bits = Math.min(128, Math.max(0, ipv6Prefix));
  const bytes = address.toByteArray();
  for (let i = 0; i < 16; i++) {
    const keep = Math.min(8, Math.max(0, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
}
