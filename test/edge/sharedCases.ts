// One table of (request, client facts) → expected answer, run against the Node app and the Worker in workerd alike.
import { CLIENT_IPS, type ClientIpKey } from '../support/clientIps.js';
import { encodePath, FILES } from '../support/network.js';
import { header, type RawResponse } from '../support/requests.js';

export type Expected =
  /** A redirect (tools) or the interstitial page (browsers) naming this mirror, or one of these (weighted band). */
  | { status: 302 | 200; mirror: string | readonly string[] }
  /** A 200 that names no mirror (metalink). */
  | { status: 200 }
  | { status: 400 | 404 };

export interface SharedCase {
  name: string;
  /** The request target exactly as sent (still encoded; raw "..", "\\" and all). */
  target: string;
  client: ClientIpKey;
  method?: 'GET' | 'HEAD';
  accept?: string;
  expect: Expected;
}

const dl = (key: keyof typeof FILES, query = '') => `/download/${encodePath(FILES[key])}${query}`;
const TOOL = '*/*';
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const TOKYO = ['jp-tokyo-a', 'jp-tokyo-b'] as const;

/**
 * The network is test/support/network.ts MIRROR_PLANS (routing.bandKm 50): de-berlin has all of
 * pub/, fr-paris all but *.iso, nl-ams serves NL only, us-east holds what its manifest lists
 * (a stale copy of stale.bin), br-sp all but pub/docs, the weighted Tokyo pair, au-sydney
 * releases and images only.
 */
export const SHARED_CASES: readonly SharedCase[] = [
  // Same country.
  { name: 'DE → Berlin', target: dl('readme'), client: 'DE', expect: { status: 302, mirror: 'de-berlin' } },
  { name: 'FR → Paris', target: dl('readme'), client: 'FR', expect: { status: 302, mirror: 'fr-paris' } },
  { name: 'NL → the NL-only mirror', target: dl('readme'), client: 'NL', expect: { status: 302, mirror: 'nl-ams' } },
  { name: 'US east → Boston', target: dl('readme'), client: 'US_EAST', expect: { status: 302, mirror: 'us-east' } },
  { name: 'BR → São Paulo', target: dl('readme'), client: 'BR', expect: { status: 302, mirror: 'br-sp' } },
  { name: 'AU → Sydney (it carries releases)', target: dl('tarball'), client: 'AU', expect: { status: 302, mirror: 'au-sydney' } },
  { name: 'IPv6 DE → Berlin', target: dl('nohash'), client: 'DE_V6', expect: { status: 302, mirror: 'de-berlin' } },
  { name: 'JP, unicode path → the weighted Tokyo pair', target: dl('unicode'), client: 'JP', expect: { status: 302, mirror: TOKYO } },
  { name: 'JP, HEAD → the weighted Tokyo pair', target: dl('tarball'), client: 'JP', method: 'HEAD', expect: { status: 302, mirror: TOKYO } },
  // Same continent, then distance; content rules and inventories.
  { name: 'FR, *.iso excluded in Paris → Berlin', target: dl('iso'), client: 'FR', expect: { status: 302, mirror: 'de-berlin' } },
  { name: 'GB → nearest in Europe (Paris; Amsterdam is NL-only)', target: dl('readme'), client: 'GB', expect: { status: 302, mirror: 'fr-paris' } },
  { name: 'SE → nearest in Europe (Berlin)', target: dl('readme'), client: 'SE', expect: { status: 302, mirror: 'de-berlin' } },
  { name: 'AU, README outside Sydney’s rules → Tokyo', target: dl('readme'), client: 'AU', expect: { status: 302, mirror: TOKYO } },
  { name: 'US east, stale copy in Boston → elsewhere', target: dl('stale'), client: 'US_EAST', expect: { status: 302, mirror: 'fr-paris' } },
  { name: 'BR, pub/docs excluded in São Paulo → Boston', target: dl('punctuation'), client: 'BR', expect: { status: 302, mirror: 'us-east' } },
  { name: 'US west, no iso in Boston → Tokyo', target: dl('iso'), client: 'US_WEST', expect: { status: 302, mirror: TOKYO } },
  { name: 'KE → nearest (Europe)', target: dl('readme'), client: 'KE', expect: { status: 302, mirror: 'de-berlin' } },
  // Origin fallback, queries, other answers.
  { name: 'on no mirror → origin', target: dl('originOnly'), client: 'DE', expect: { status: 302, mirror: 'origin' } },
  { name: '?mirror= picks an eligible mirror', target: dl('readme', '?mirror=fr-paris'), client: 'DE', expect: { status: 302, mirror: 'fr-paris' } },
  {
    name: '?mirror= of a mirror without the file is ignored',
    target: dl('iso', '?mirror=fr-paris'),
    client: 'DE',
    expect: { status: 302, mirror: 'de-berlin' },
  },
  { name: 'browser → interstitial', target: dl('readme'), client: 'DE', accept: BROWSER, expect: { status: 200, mirror: 'de-berlin' } },
  { name: 'browser in AU → interstitial for Sydney', target: dl('tarball'), client: 'AU', accept: BROWSER, expect: { status: 200, mirror: 'au-sydney' } },
  { name: 'browser with ?direct → redirect', target: dl('readme', '?direct'), client: 'FR', accept: BROWSER, expect: { status: 302, mirror: 'fr-paris' } },
  { name: '.meta4 → metalink', target: `${dl('tarball')}.meta4`, client: 'JP', expect: { status: 200 } },
  // Not in the file set.
  { name: 'unknown file', target: '/download/pub/no-such-file.txt', client: 'DE', expect: { status: 404 } },
  { name: 'unknown directory', target: '/download/nowhere/at/all.iso', client: 'US_EAST', expect: { status: 404 } },
  // Bad paths: 400, never a redirect.
  { name: 'raw ..', target: '/download/pub/../pub/README.txt', client: 'DE', expect: { status: 400 } },
  { name: 'encoded ..', target: '/download/pub/%2e%2e/pub/README.txt', client: 'DE', expect: { status: 400 } },
  { name: 'mixed-case encoded ..', target: '/download/pub/%2E%2e/etc/passwd', client: 'DE', expect: { status: 400 } },
  { name: 'encoded NUL', target: '/download/pub/README.txt%00.iso', client: 'DE', expect: { status: 400 } },
  { name: 'encoded backslash', target: '/download/pub%5cREADME.txt', client: 'DE', expect: { status: 400 } },
  { name: 'raw backslash', target: '/download/pub\\README.txt', client: 'DE', expect: { status: 400 } },
  { name: 'encoded slash', target: '/download/pub%2fREADME.txt', client: 'DE', expect: { status: 400 } },
  { name: 'over 1024 bytes', target: `/download/${'a/'.repeat(600)}x`, client: 'DE', expect: { status: 400 } },
  // Traversal that URL parsing would turn into a folder or another route: refused as sent, never listed or passed on.
  { name: 'raw .. naming a folder', target: '/download/pub/../', client: 'DE', expect: { status: 400 } },
  { name: 'encoded .. naming a folder', target: '/download/pub/%2e%2e/', client: 'DE', expect: { status: 400 } },
  { name: 'trailing ..', target: '/download/pub/..', client: 'DE', expect: { status: 400 } },
  { name: 'trailing .', target: `/download/${encodePath(FILES.readme)}/.`, client: 'DE', expect: { status: 400 } },
  { name: '.. out of /download into the console', target: '/download/../login', client: 'DE', expect: { status: 400 } },
  { name: '.. within the API onto a control-plane route', target: '/api/v1/x/../offers', client: 'DE', expect: { status: 400 } },
  // The root folder named without its slash: the whole tree's listing, as on Node.
  { name: 'the root folder without its slash', target: '/download', client: 'DE', expect: { status: 200 } },
];

/** What Node needs to place a client: its address via a trusted proxy (loopback), located by the default geography data. */
export function nodeHeaders(c: SharedCase): Record<string, string> {
  return { 'X-Forwarded-For': CLIENT_IPS[c.client].ip, Accept: c.accept ?? TOOL };
}

/** request.cf as Cloudflare would send it for this client (coordinates are strings there). */
export function cfBlob(client: ClientIpKey): Record<string, unknown> {
  const ip = CLIENT_IPS[client];
  return { country: ip.country, continent: ip.continent, latitude: String(ip.lat), longitude: String(ip.lon), asn: ip.asn, colo: 'TST' };
}

/** What the Worker sees from Cloudflare for the same client: CF-Connecting-IP and request.cf. */
export function edgeHeaders(c: SharedCase): Record<string, string> {
  return { 'CF-Connecting-IP': CLIENT_IPS[c.client].ip, 'CF-Blob': JSON.stringify(cfBlob(c.client)), Accept: c.accept ?? TOOL };
}

/** Link with our own base URL taken out (it differs per runtime: rel=describedby points back at us). */
export function linkOf(res: RawResponse, base: string): string | undefined {
  return header(res, 'link')?.split(base).join('<self>');
}
